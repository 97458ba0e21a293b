"""A tiny closed-form stand-in for a compiled model, and small datasets, for the trainer tests.

`FakeModel` predicts each frame from the previous one with one logistic layer,
p_t = σ(x_t W + b), Bernoulli NLL summed over units, averaged over unmasked positions.
It has the compiled model's interface (init_params, loss_and_grad, evaluate, step, ...),
so the loop, checkpoints and resume can be tested without the code generator.
"""
from __future__ import annotations

import numpy as np

from rnnalg import ir
from rnnalg.data import Dataset, load_dataset


def fake_program(width: int = 88) -> ir.Program:
    x, y, a = ir.Var("x", width, "binary"), ir.Var("y", width, "binary"), ir.Var("y.a", width)
    params = (ir.Param("y.W_x", (width, width), "weight"), ir.Param("y.b", (width,), "bias"))
    eqn = ir.Eqn(a, "affine", (x,), params=tuple(p.name for p in params))
    return ir.Program(inputs=(x,), states=(), heads=(ir.Head(y, a),), eqns=(eqn,), params=params,
                      sizes=(("W", width),), file="fake.rnn", text="# fake\n")


def _softplus(z):
    return np.logaddexp(0.0, z)


class FakeModel:
    has_dropout = False

    def __init__(self, program=None, nan_at_call=None):
        self.program = program or fake_program()
        self.param_shapes = {p.name: p.shape for p in self.program.params}
        self.param_roles = {p.name: p.role for p in self.program.params}
        self.nan_at_call = nan_at_call  # inject a NaN loss at this loss_and_grad call (1-based)
        self.calls = 0

    def init_params(self, rng, scheme="gaussian", scale=None):
        scale = 0.01 if scale is None else scale
        return {n: (scale * rng.standard_normal(s) if self.param_roles[n] == "weight"
                    else np.zeros(s)).astype(np.float32) for n, s in self.param_shapes.items()}

    def initial_state(self, batch_size):
        return {}

    def draw_noise(self, rng, T, B):
        return None

    def _forward(self, params, batch):
        xs, ys = batch["x"], batch["y"]
        mask = batch.get("mask", np.ones(xs.shape[:2], np.float32))
        logits = xs @ params["y.W_x"] + params["y.b"]
        nll = (_softplus(logits) - ys * logits).sum(-1) * mask
        return xs, ys, mask, logits, nll

    def loss_and_grad(self, params, batch, state=None, noise=None):
        self.calls += 1
        xs, ys, mask, logits, nll = self._forward(params, batch)
        count = mask.sum()
        loss = nll.sum() / count
        if self.nan_at_call == self.calls:
            loss = np.float32(np.nan)
        d = (1 / (1 + np.exp(-logits)) - ys) * mask[..., None] / count
        grads = {"y.W_x": np.einsum("tbi,tbj->ij", xs, d).astype(np.float32),
                 "y.b": d.sum((0, 1)).astype(np.float32)}
        return float(loss), grads, {}

    def evaluate(self, params, batch, state=None):
        _, _, mask, _, nll = self._forward(params, batch)
        return float(nll.sum()), int(mask.sum()), {}

    def step(self, params, inputs_t, state):
        logits = inputs_t["x"] @ params["y.W_x"] + params["y.b"]
        return {"y": 1 / (1 + np.exp(-logits))}, state


def small_jsb(n_train=24, n_valid=8, n_test=8) -> Dataset:
    """The first pieces of the embedded JSB Chorales (fast tests on real music)."""
    full = load_dataset("jsb")
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    splits = {s: list(full.splits[s][:n]) for s, n in sizes.items()}
    return Dataset(name="jsb-small", kind="music", splits=splits, vocab=None, source="test", unit="frame")


def test_fake_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    model = FakeModel(fake_program(5))
    params = {k: v.astype(np.float64) for k, v in model.init_params(rng, scale=0.5).items()}
    batch = {"x": (rng.random((4, 3, 5)) < 0.4).astype(float), "y": (rng.random((4, 3, 5)) < 0.4).astype(float),
             "mask": np.array([[1, 1, 0]] * 4, float)}
    _, grads, _ = model.loss_and_grad(params, batch)
    for name, p in params.items():
        for idx in [(0,) * p.ndim, tuple(s - 1 for s in p.shape)]:
            plus, minus = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in params.items()}
            plus[name][idx] += 1e-6
            minus[name][idx] -= 1e-6
            numeric = (model.loss_and_grad(plus, batch)[0] - model.loss_and_grad(minus, batch)[0]) / 2e-6
            assert abs(numeric - grads[name][idx]) < 1e-6
