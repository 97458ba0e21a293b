"""Shared by the export tests: generated modules loaded from text, the example specs at small
sizes, and rnnalg's float64 loss, gradients and final state of one random padded batch."""
from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

import numpy as np

import rnnalg
from rnnalg.testing import random_setup

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.rnn"))
SMALL = {"H": 4}
TOL = 1e-10  # float64: exported loss, gradients and final states vs rnnalg's, relative
_count = itertools.count()


def load_generated(source: str, folder: Path, stem: str = "generated"):
    """Import generated module text as a fresh module (written to `folder`)."""
    name = f"{stem}_{next(_count)}"
    path = Path(folder) / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def example(path: Path):
    return rnnalg.load_program(path, SMALL)


def rnnalg_result(program, T=4, B=3, seed=0, **setup):
    """(params, batch, state, noise, loss, grads, final state) in float64: padded batch (sequence
    b ends after T − b steps), a random carried state, dropout masks when the spec has dropout."""
    model, params, batch, state, noise = random_setup(program, T=T, B=B, seed=seed, **setup)
    loss, grads, final = model.loss_and_grad(params, batch, state, noise)
    return params, batch, state, noise, loss, grads, final


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)) if b.size else 0.0
