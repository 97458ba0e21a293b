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


# Every construct of the language in one spec: token operands (embeddings, in the pre and the
# post phase), MLPs, the three heads, maxout, lp, dropout, gates and constants (shift, scale,
# mul, add, sub), two states, c' read later in the same step, a pre value read by a gate in the
# scan, and the previous state h read by a head.
ALL_CONSTRUCTS = """\
input  w : token[7]
input  x : real[3]
output y : binary[4]
output r : real[2]
output k : token[5]
state  h : 4
state  c : 4
u : 4 = MLP[relu 6, tanh](w ⊕ x)
z : 4 = lp[2, 2](u ⊕ h)
g = sigmoid((x ⊕ h) + 1)
c' = g * c + (1 - g) * tanh(z ⊕ c)
h' = 0.5 * tanh(c' ⊕ z) - u * sigmoid(u ⊕ h)
o : 4 = dropout[0.25](maxout[2](h' ⊕ x))
y = ▷ (o ⊕ h')
r = ▷ MLP[tanh 3](h' ⊕ u)
k = ▷ (h' ⊕ w ⊕ h)
"""


def all_constructs():
    return rnnalg.check(rnnalg.parse(ALL_CONSTRUCTS, "all_constructs.rnn"))


# value names that the generated code also uses for its own locals: each gets another identifier
CLASHING_NAMES = """\
input x : binary[3]
output y : binary[3]
state steps : 4
state carry : 4
target : 4 = tanh(x ⊕ steps)
body : 4 = tanh(target ⊕ carry)
steps' = tanh(body ⊕ steps)
carry' = tanh(steps' ⊕ carry)
y = ▷ (carry' ⊕ steps ⊕ body)
"""


def clashing_names():
    return rnnalg.check(rnnalg.parse(CLASHING_NAMES, "names.rnn"))


def noise_summary(noise, dropout_table) -> dict:
    """What a generated draw_noise drew, per value: its op and rate, the distinct mask values,
    whether every step has the same mask, the fraction of units kept (mask ≠ 0)."""
    out = {}
    for name, _, rate, op in dropout_table:
        mask = np.asarray(noise[name], dtype=np.float64)
        out[name] = {"op": op, "rate": rate, "values": sorted(float(v) for v in np.unique(mask)),
                     "same every step": bool((mask == mask[:1]).all()), "kept": float((mask != 0).mean())}
    return out


def check_noise_summary(summary) -> None:
    """rnnalg's rules (prelude.draw_noise): dropout and vdropout 0 or 1/(1 − rate), vdropout one mask
    per sequence; zoneout 1 (take the new value) or 0 (keep the previous one, probability rate)."""
    for name, s in summary.items():
        scaled = [0.0, 1.0 / (1.0 - s["rate"])] if s["op"] != "zoneout" else [0.0, 1.0]
        assert np.allclose(s["values"], scaled, rtol=1e-6), (name, s)
        assert s["same every step"] == (s["op"] == "vdropout"), (name, s)
        assert abs(s["kept"] - (1.0 - s["rate"])) < 0.1, (name, s)
