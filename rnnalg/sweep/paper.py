"""The published figures printed beside ours, each with where it comes from.

Pascanu, Gulcehre, Cho & Bengio, *How to Construct Deep Recurrent Neural Networks* (ICLR 2014),
Tables 2 and 3: test NLL per frame (music), bits per character and perplexity (Penn Treebank).
Two kinds of provenance, printed in RESULTS.md next to every figure:

* QUOTED: the figure is quoted in later papers (so it has been checked against the paper);
* RECALLED: recalled, not found in a stored source: unverified.

The sRNN music row is unknown (left blank); Piano-midi.de is not in the paper's table.
`ANCHORS` are later results on the same music splits (Bai, Kolter & Koltun 2018, the TCN
paper; recalled as well), printed as context only.
"""
from __future__ import annotations

from dataclasses import dataclass

QUOTED = "quoted in later papers"
RECALLED = "unverified (recalled)"


@dataclass(frozen=True)
class Figure:
    dataset: str  # a dataset name of rnnalg (nottingham, jsb, musedata, ptb-char, ptb-word)
    model: str  # the model label in the sweep files
    value: float
    provenance: str
    source: str = "Pascanu et al. 2014"


def _row(model, provenance, **values):
    return [Figure(dataset.replace("_", "-"), model, value, provenance) for dataset, value in values.items()]


PAPER = [
    *_row("DOT(S)*", QUOTED, nottingham=2.95, jsb=7.92, musedata=6.59),
    *_row("RNN", RECALLED, nottingham=3.225, jsb=8.338, musedata=6.990),
    *_row("DT(S)", RECALLED, nottingham=3.206, jsb=8.278, musedata=6.988),
    *_row("DOT(S)", RECALLED, nottingham=3.215, jsb=8.437, musedata=6.973),
    *_row("DOT(S)", QUOTED, ptb_char=1.39, ptb_word=107.5),
    *_row("sRNN-2", QUOTED, ptb_char=1.41, ptb_word=110.0),  # the paper's (2-level) sRNN
    *_row("RNN", RECALLED, ptb_char=1.414, ptb_word=117.7),
    *_row("DT(S)", RECALLED, ptb_char=1.409, ptb_word=112.0),
]

ANCHORS = [
    Figure(dataset, model, value, RECALLED, "Bai, Kolter & Koltun 2018 (TCN)")
    for model, values in (("LSTM", (3.29, 8.45)), ("GRU", (3.46, 8.43)), ("TCN", (3.07, 8.10)))
    for dataset, value in zip(("nottingham", "jsb"), values)
]


def paper_figure(dataset: str, model: str) -> Figure | None:
    return next((f for f in PAPER if f.dataset == dataset and f.model == model), None)
