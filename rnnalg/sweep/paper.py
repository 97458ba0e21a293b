"""The published figures printed beside ours, each with where it comes from.

Pascanu, Gulcehre, Cho & Bengio, *How to Construct Deep Recurrent Neural Networks* (ICLR 2014),
Tables 2 and 3: test NLL per frame (music), bits per character and perplexity (Penn Treebank).
Two kinds of provenance, printed in RESULTS.md and in the figures next to every figure:

* QUOTED (**Q**): the figure is quoted in later papers (so it has been checked against the paper);
  the DOT(S) music row is quoted to two decimals (3.22 / 8.44 / 6.97), so that is what we print;
  an anchor's `quoted_in` names the stored source that quotes it;
* RECALLED (**R**): recalled, not found in a stored source: unverified.

The sRNN music row is unknown (left blank); Piano-midi.de is not in the paper's table.
`ANCHORS` are other papers' results on the same splits, printed as context only, with their
own source and provenance: Bai, Kolter & Koltun 2018 (the TCN paper; the figures as listed in
issue 16).  Quoted: the rows that HyperAI's benchmark table for the paper lists (a stored
page, QUOTING_SOURCES): Nottingham LSTM 3.29, GRU 3.46, RNN 4.05, TCN 3.07; JSB Chorales
TCN 8.10; PTB words LSTM 78.93.  Still recalled: JSB Chorales LSTM / GRU / RNN and the PTB
character rows, which that table does not list and no other stored source was found to quote
(nor the model sizes in the notes).  Chung, Gulcehre, Cho & Bengio 2014 (*Empirical Evaluation of
Gated Recurrent Neural Networks*): only its JSB Chorales GRU row (8.54) was found quoted (Papers
with Code's results table for the paper); its other small-model rows are left out, unsourced.  The TCN paper's PTB rows use far larger models (~3M
parameters for characters, ~13M for words) than the paper's and ours.
"""
from __future__ import annotations

from dataclasses import dataclass

QUOTED = "quoted in later papers"
RECALLED = "unverified (recalled)"
MARK = {QUOTED: "Q", RECALLED: "R"}
TCN = "Bai, Kolter & Koltun 2018 (TCN paper)"
TCN_QUOTED_IN = "HyperAI's benchmark table for arXiv 1803.01271"
CHUNG = "Chung, Gulcehre, Cho & Bengio 2014 (GRU vs LSTM)"
CHUNG_QUOTED_IN = "Papers with Code's results table for arXiv 1412.3555"
QUOTING_SOURCES = {TCN_QUOTED_IN: "https://beta.hyper.ai/en/papers/1803.01271",  # name -> address
                   CHUNG_QUOTED_IN: "https://paperswithcode.com/paper/empirical-evaluation-of-gated-recurrent2"}


@dataclass(frozen=True)
class Figure:
    dataset: str  # a dataset name of rnnalg (nottingham, jsb, musedata, ptb-char, ptb-word)
    model: str  # the model label in the sweep files
    value: float
    provenance: str
    source: str = "Pascanu et al. 2014"
    note: str = ""  # e.g. the model size, when it differs from ours
    quoted_in: str = ""  # for a QUOTED anchor: the stored source that quotes it (QUOTING_SOURCES)

    @property
    def mark(self) -> str:
        """'Q' or 'R' (anything not quoted counts as recalled)."""
        return MARK.get(self.provenance, "R")


def _row(model, provenance, **values):
    return [Figure(dataset.replace("_", "-"), model, value, provenance) for dataset, value in values.items()]


PAPER = [
    *_row("DOT(S)*", QUOTED, nottingham=2.95, jsb=7.92, musedata=6.59),
    *_row("RNN", RECALLED, nottingham=3.225, jsb=8.338, musedata=6.990),
    *_row("DT(S)", RECALLED, nottingham=3.206, jsb=8.278, musedata=6.988),
    *_row("DOT(S)", QUOTED, nottingham=3.22, jsb=8.44, musedata=6.97),  # recalled as 3.215 / 8.437 / 6.973
    *_row("DOT(S)", QUOTED, ptb_char=1.39, ptb_word=107.5),
    *_row("sRNN-2", QUOTED, ptb_char=1.41, ptb_word=110.0),  # the paper's (2-level) sRNN
    *_row("RNN", RECALLED, ptb_char=1.414, ptb_word=117.7),
    *_row("DT(S)", RECALLED, ptb_char=1.409, ptb_word=112.0),
]


def _tcn(dataset, model, value, quoted=False, note=""):
    """A TCN-paper anchor: QUOTED (by TCN_QUOTED_IN) or RECALLED."""
    if quoted:
        return Figure(dataset, model, value, QUOTED, TCN, note, TCN_QUOTED_IN)
    return Figure(dataset, model, value, RECALLED, TCN, note)


ANCHORS = [
    _tcn("nottingham", "LSTM", 3.29, quoted=True), _tcn("jsb", "LSTM", 8.45),
    _tcn("nottingham", "GRU", 3.46, quoted=True), _tcn("jsb", "GRU", 8.43),
    _tcn("nottingham", "RNN", 4.05, quoted=True), _tcn("jsb", "RNN", 8.91),
    _tcn("nottingham", "TCN", 3.07, quoted=True), _tcn("jsb", "TCN", 8.10, quoted=True),
    *[_tcn("ptb-char", model, value, note="~3M parameters")
      for model, value in (("LSTM", 1.36), ("GRU", 1.37), ("RNN", 1.48))],
    _tcn("ptb-word", "LSTM", 78.93, quoted=True, note="~13M parameters"),  # listed in issue 16 as 78.9
    Figure("jsb", "GRU", 8.54, QUOTED, CHUNG, "a much smaller model (~20k parameters, recalled)", CHUNG_QUOTED_IN),
]


def paper_figure(dataset: str, model: str) -> Figure | None:
    return next((f for f in PAPER if f.dataset == dataset and f.model == model), None)
