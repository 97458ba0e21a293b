"""Finding and loading a dataset by name or path.

Named datasets (`NAMED`): the four music sets ship inside the package; the others are
looked up in `data_dir` (--data-dir), then $RNNALG_DATA, then the user's cache, where
`rnnalg data fetch` puts them (folders.py).  Anything else is a path:

    *.json              music: {"train","valid","test"} of pieces of steps of MIDI notes
    *.npz               music in the compact form of `music.write_npz`
    *.pickle, *.pkl     music as BL's pickles, through a restricted unpickler
    a directory         text: the files ending in train.txt, valid.txt, test.txt
    any other file      text: split by lines, first 90 % train, next 5 % valid, last 5 % test

A data file must be a regular file (a FIFO, device or socket is refused before it is
opened for reading) of at most 256 MiB, and a text file's lines at most 16 MiB each
(`files.py`); each limit is a DataError naming the file (and the line).

A text is read as characters unless `unit="word"` (see `text.py` for both rules).  Its
vocabulary is that of the train split (`min_count`: rarer symbols become `<unk>`), or the
given `vocab` (a trained model's, stored in its checkpoint).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, UsageError
from . import folders, music, registry, text
from .safe_pickle import read_music_pickle

ENV = folders.ENV
DEFAULT = "jsb"


@dataclass(frozen=True)
class Dataset:
    """splits: music → list of (T_i, 88) uint8 rolls; text → [1-D int32 token stream]."""

    name: str
    kind: str  # 'music' | 'text'
    splits: dict[str, list[np.ndarray]] = field(repr=False)
    vocab: tuple[str, ...] | None
    source: str
    unit: str  # 'frame' | 'char' | 'word'

    @property
    def vocab_size(self) -> int:
        """Input/output width: 88 keys for music, the number of symbols for text."""
        return music.KEYS if self.vocab is None else len(self.vocab)


@dataclass(frozen=True)
class Named:
    """A dataset under the data folder: music JSON, or text files per split."""

    kind: str
    paths: tuple[str, ...]  # one music file, or the train/valid/test text files
    unit: str
    spaced: bool = False  # ptb.char's "symbol space symbol space" form


NAMED = {
    "jsb": Named("music", ("music/JSB_Chorales.json",), "frame"),
    "nottingham": Named("music", ("music/Nottingham.json",), "frame"),
    "musedata": Named("music", ("music/MuseData.json",), "frame"),
    "piano": Named("music", ("music/Piano_midi.json",), "frame"),
    "ptb-char": Named("text", tuple(f"ptb_char/ptb.char.{s}.txt" for s in music.SPLITS), "char", True),
    "ptb-word": Named("text", tuple(f"ptb/ptb.{s}.txt" for s in music.SPLITS), "word"),
}
ALIASES = {"jsb-chorales": "jsb", "piano-midi": "piano", "piano-midi.de": "piano", "muse": "musedata"}


def _canonical(name: str) -> str | None:
    key = name.strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    return key if key in NAMED else None


def load_dataset(name_or_path: str | None, data_dir: str | None = None, unit: str | None = None,
                 vocab: tuple[str, ...] | None = None, min_count: int = 1) -> Dataset:
    """A named dataset (`NAMED`), or a user file / directory (module docstring); None → jsb.

    Text only: `vocab` encodes every split with that vocabulary; otherwise it is made from
    the train split, without the symbols seen fewer than `min_count` times.
    """
    text_options = TextOptions(None if vocab is None else tuple(vocab), int(min_count))
    name = _canonical(name_or_path or DEFAULT)
    if name is not None:
        return _load_named(name, data_dir, unit, text_options)
    path = Path(name_or_path)
    if not path.exists():
        raise DataError(name_or_path, "no such file or directory, and not a dataset name "
                        f"(named datasets: {', '.join(NAMED)})")
    _refuse_named_parts(path, unit)
    loader = _music_loader(path)
    if loader is not None:
        _check_music_options(text_options, str(path))
        _check_unit(unit, "frame", str(path))
        return _music_dataset(path.stem, loader(str(path)), str(path))
    unit = unit or "char"
    _check_unit(unit, text.UNITS, str(path))
    if path.is_dir():
        sources = _text_dir(path)
    else:
        sources = text.split_lines(text.read_text(str(path)), str(path))
    return _text_dataset(path.stem if path.is_file() else path.name, sources, unit, str(path), text_options)


MUSIC_SUFFIXES = {".json": music.read_json, ".pickle": read_music_pickle, ".pkl": read_music_pickle,
                  ".npz": lambda p: music.read_npz(p, p)}


def _music_loader(path: Path):
    return MUSIC_SUFFIXES.get(path.suffix.lower()) if path.is_file() else None


@dataclass(frozen=True)
class TextOptions:
    vocab: tuple[str, ...] | None = None  # a trained model's vocabulary, else made from train
    min_count: int = 1  # symbols seen fewer times in train become <unk>


def _check_music_options(options: TextOptions, where: str) -> None:
    if options.vocab is not None:  # only a text model's checkpoint passes a vocabulary
        raise UsageError(f"{where} is music (piano-roll frames), but the checkpoint is of a text model "
                         f"(a vocabulary of {len(options.vocab)} symbols): give --data a text dataset "
                         "(ptb-char, ptb-word, a text file or folder), or leave --data out for the one "
                         "it was trained on")
    if options.min_count != 1:
        raise UsageError(f"{where}: --min-count applies to text, not to music")


def _check_unit(unit, allowed, where: str) -> None:
    """--unit must fit the data: music takes none; a named text dataset only its own unit."""
    allowed = (allowed,) if isinstance(allowed, str) else allowed
    if unit is None or unit in allowed:
        return
    if allowed == ("frame",):
        raise UsageError(f"--unit {unit}: {where} is music (piano-roll frames); --unit is for text data: "
                         "leave it out")
    raise UsageError(f"--unit {unit}: {where} is read as {' or '.join(f'{u}s' for u in allowed)}; "
                     f"use {' or '.join(f'--unit {u}' for u in allowed)}, or leave --unit out")


# ---- a path that is part of the data folder: name the dataset instead -------------------------

def _named_parts(name: str, spec: Named) -> dict[tuple[str, ...], str]:
    """Path tails inside the data folder that belong to dataset `name` -> what they are."""
    parts = {}
    for rel in map(Path, spec.paths):
        if spec.kind == "music":
            parts[rel.with_suffix(".mat").parts] = "a MATLAB file, not a dataset file rnnalg reads"
        else:
            parts[rel.parts] = f"one split of the named dataset {name}, which --data takes by name"
            parts[rel.parent.parts] = f"the folder of the named dataset {name}, which --data takes by name"
    return parts


def _refuse_named_parts(path: Path, unit: str | None) -> None:
    """A DataError naming the dataset to use for a path in the data folder that would load wrongly
    as a plain path: a .mat, ptb_char (its symbols are space-separated), ptb read as characters,
    the music folder or the data folder itself."""
    resolved = path.resolve()
    if resolved.is_dir():
        inside = [n for n, spec in NAMED.items() if any((resolved / p).is_file() for p in spec.paths)]
        if inside:
            raise DataError(str(path), f"this is the data folder, not a dataset; did you mean "
                            f"`--data {inside[0]} --data-dir {resolved}` (datasets: {', '.join(inside)})?")
        files = {n: Path(spec.paths[0]) for n, spec in NAMED.items() if spec.kind == "music"}
        music = [n for n, f in files.items() if f.parent.name == resolved.name and (resolved / f.name).is_file()]
        if music:
            raise DataError(str(path), f"this folder holds music datasets, one file each; did you mean "
                            f"`--data {music[0]} --data-dir {resolved.parent}` (datasets: {', '.join(music)})?")
    for name, spec in NAMED.items():
        if spec.kind == "text" and spec.unit == unit and not spec.spaced:
            continue  # read as a plain path, it reads as the named dataset would
        for tail, what in _named_parts(name, spec).items():
            if resolved.parts[-len(tail):] == tail:
                root = Path(*resolved.parts[:-len(tail)])
                raise DataError(str(path), f"this is {what}; did you mean `--data {name} --data-dir {root}`?")


def _load_named(name: str, data_dir: str | None, unit: str | None, options: TextOptions) -> Dataset:
    """The package's copy if it ships one, else the first data folder holding it (folders.py)."""
    spec = NAMED[name]
    if spec.kind == "music":
        _check_music_options(options, name)
    _check_unit(unit, spec.unit, name)
    packaged = registry.embedded_path(name)
    if packaged is not None:  # shipped inside the package: never needs a data folder
        return _music_dataset(name, music.read_npz(str(packaged), str(packaged)), str(packaged))
    root = folders.find(name, spec.paths, data_dir, registry.ORIGINS[name].fetch_command()).path
    files = [root / p for p in spec.paths]
    if spec.kind == "music":
        return _music_dataset(name, music.read_json(str(files[0])), str(files[0]))
    sources = {s: text.Source(text.read_text(str(f)), str(f), spaced=spec.spaced)
               for s, f in zip(music.SPLITS, files)}
    return _text_dataset(name, sources, spec.unit, str(root / Path(spec.paths[0]).parent), options)


def _text_dir(path: Path) -> dict[str, text.Source]:
    """train/valid/test from the one file in `path` whose name ends in '<split>.txt' each."""
    sources = {}
    for split in music.SPLITS:
        found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(f"{split}.txt"))
        if len(found) != 1:
            listed = ", ".join(p.name for p in found) or "none"
            raise DataError(str(path), f"a text data directory needs exactly one file ending in "
                            f"'{split}.txt' (found {listed})")
        sources[split] = text.Source(text.read_text(str(found[0])), str(found[0]))
    return sources


def _music_dataset(name: str, splits: dict[str, music.NoteLists], source: str) -> Dataset:
    rolls = {s: nl.rolls() for s, nl in splits.items()}
    return Dataset(name, "music", rolls, None, source, "frame")


def _text_dataset(name: str, sources: dict[str, text.Source], unit: str, source: str,
                  options: TextOptions) -> Dataset:
    if options.min_count < 1:
        raise UsageError(f"--min-count must be >= 1, got {options.min_count}")
    vocab, streams = text.encode_splits(sources, unit, options.vocab, options.min_count)
    return Dataset(name, "text", {s: [ids] for s, ids in streams.items()}, vocab, source, unit)


# ---- does a spec fit the data? -------------------------------------------------------------

def check_compatible(dataset: Dataset, input_kind: str, input_width: int, output_kind: str,
                     output_width: int, spec_file: str, input_name: str = "x", output_name: str = "y") -> None:
    """Music needs `binary[88]` in and out; text needs `token[V]` with V = vocabulary size."""
    kind = "binary" if dataset.kind == "music" else "token"
    width = dataset.vocab_size
    if dataset.kind == "music":
        has = f"has {width}-key piano-roll frames"
    else:
        has = f"has {width} {'words' if dataset.unit == 'word' else 'symbols'} in its vocabulary"
    for role, name, k, w in (("input", input_name, input_kind, input_width),
                             ("output", output_name, output_kind, output_width)):
        if (k, int(w)) != (kind, width):
            raise DataError(spec_file, f"declares {role} {name} : {k}[{w}] but {dataset.name} {has}; "
                            f"the {role} must be {kind}[{width}]")
