"""The shared data folder for the tests that compare against it.

It is $RNNALG_DATA if set, else ../shared/data beside the repository (the CI layout).  A
test that needs it skips when it is missing, except under CI=true, where it fails: CI must
never pass by skipping the checks against the real data.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RNNALG_DATA") or ROOT.parent / "shared" / "data")


def shared_data(*required: str) -> Path:
    """SHARED, once it is known to hold `required` (default README.md); else skip / fail."""
    missing = [r for r in required or ("README.md",) if not (SHARED / r).exists()]
    if missing:
        message = (f"the shared data folder {SHARED} lacks {', '.join(missing)} "
                   "(set RNNALG_DATA to the folder holding music/, ptb/, ptb_char/)")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED


TINY_MUSIC = """\
let H = {H}
input  x : binary[88]
output y : binary[88]
state  h : H
h' = tanh(x ⊕ h)
y  = ▷ h'
"""


def tiny_music_files(folder: Path, H: int, pieces: dict) -> tuple[str, str]:
    """(spec path, music JSON path) in `folder`: a tanh RNN of H units and the first `pieces`
    ({split: n}) pieces of JSB Chorales, for fast training runs."""
    import json

    import numpy as np

    from rnnalg.data import load_dataset

    spec = folder / "tiny.rnn"
    spec.write_text(TINY_MUSIC.format(H=H))
    full = load_dataset("jsb")
    small = {split: [[[21 + int(k) for k in np.flatnonzero(frame)] for frame in piece]
                     for piece in full.splits[split][:n]]
             for split, n in pieces.items()}
    data = folder / "small.json"
    data.write_text(json.dumps(small))
    return str(spec), str(data)


def rnn_sweep(epochs: int = 2, seeds=(1, 2), label: str | None = None) -> str:
    """A sweep file's text: examples/rnn.rnn at H = 8 on JSB Chorales, one trial a seed, `epochs`
    epochs at lr 0.01 (and the model's `label`, if given)."""
    named = f'label = "{label}"\n' if label else ""
    return f"""\
[sweep]
datasets = ["jsb"]
seeds = {list(seeds)}

[train]
epochs = {epochs}
lr = 0.01

[model.rnn]
{named}spec = "{ROOT / 'examples' / 'rnn.rnn'}"
set = {{ H = 8 }}
"""
