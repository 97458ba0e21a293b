"""Seeded training numbers do not move: `Trainer._update` against a frozen copy of the update of
rnnalg 0.x before the flat update buffers (issue 21), bit for bit.

The frozen functions below are the trainer's weight noise, global-norm clipping, Adam and SGD
as they were when the committed results in experiments/results/ were trained; the reference
loop replays `Trainer._update` of that time with them on the same compiled model, batches and
noise RNG.  Losses, parameters and optimiser state must be equal byte for byte.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnalg.fast import unavailable_reason
from rnnalg.model import compile as compile_program
from rnnalg.specfile import load_checked
from rnnalg.train import checkpoint as ckpt
from rnnalg.train.config import TrainConfig, resolve
from rnnalg.train.feed import batches, carried_state, model_batch
from rnnalg.train.trainer import Trainer
from test_train_fakes import small_jsb

ROOT = Path(__file__).resolve().parent.parent
DATA = small_jsb(n_train=24, n_valid=4, n_test=4)
UPDATES = 30


# ------------------------------------------------------------ frozen: the update of today's results


def frozen_add_weight_noise(params, roles, sigma, rng):
    noisy = {}
    for name, p in params.items():
        if roles[name] in ("weight", "embedding"):
            noisy[name] = p + (sigma * rng.standard_normal(p.shape)).astype(p.dtype)
        else:
            noisy[name] = p
    return noisy


def frozen_global_norm(grads):
    total = 0.0
    for g in grads.values():
        g64 = np.asarray(g, dtype=np.float64)
        total += float(np.vdot(g64, g64))
    if np.isinf(total):
        m = max(float(np.max(np.abs(np.asarray(g, dtype=np.float64)), initial=0.0)) for g in grads.values())
        if np.isfinite(m):
            return m * frozen_global_norm({k: np.asarray(g, dtype=np.float64) / m for k, g in grads.items()})
    return float(np.sqrt(total))


def frozen_clip(grads, max_norm):
    norm = frozen_global_norm(grads)
    if not max_norm or max_norm <= 0 or not np.isfinite(norm) or norm <= max_norm:
        return grads, norm
    scale = max_norm / norm
    return {k: (g * scale).astype(g.dtype, copy=False) for k, g in grads.items()}, norm


def frozen_sgd(params, grads, state, lr, momentum=0.9, nesterov=False, **_):
    new_params, new_state = {}, {}
    for k, p in params.items():
        g = grads[k]
        v = momentum * state[f"v/{k}"] - lr * g
        step = momentum * v - lr * g if nesterov else v
        new_params[k] = (p + step).astype(p.dtype, copy=False)
        new_state[f"v/{k}"] = v.astype(p.dtype, copy=False)
    return new_params, new_state


def frozen_adam(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8, **_):
    t = int(state["t"]) + 1
    correct1, correct2 = 1.0 - beta1**t, 1.0 - beta2**t
    new_params, new_state = {}, {"t": np.asarray(t, dtype=np.int64)}
    for k, p in params.items():
        g = grads[k]
        m = beta1 * state[f"m/{k}"] + (1.0 - beta1) * g
        v = beta2 * state[f"v/{k}"] + (1.0 - beta2) * (g * g)
        step = lr * (m / correct1) / (np.sqrt(v / correct2) + eps)
        new_params[k] = (p - step).astype(p.dtype, copy=False)
        new_state[f"m/{k}"] = m.astype(p.dtype, copy=False)
        new_state[f"v/{k}"] = v.astype(p.dtype, copy=False)
    return new_params, new_state


def frozen_init(optimizer, params):
    if optimizer == "sgd":
        return {f"v/{k}": np.zeros_like(p) for k, p in params.items()}
    return {"t": np.zeros((), dtype=np.int64), **{f"{s}/{k}": np.zeros_like(p) for k, p in params.items()
                                                   for s in ("m", "v")}}


def frozen_updates(model, config, params, noise_rng, batch_list, lr):
    """The old Trainer._update over `batch_list` -> (losses, params, opt_state)."""
    update = frozen_adam if config.optimizer == "adam" else frozen_sgd
    opt, carry, losses = frozen_init(config.optimizer, params), None, []
    for batch in batch_list:
        mb, state = model_batch(model.program, batch), carried_state(batch, carry)
        T, B = batch.mask.shape
        noise = model.draw_noise(noise_rng, T, B) if model.has_dropout else None
        used = params
        if config.weight_noise > 0:
            used = frozen_add_weight_noise(params, model.param_roles, config.weight_noise, noise_rng)
        loss, grads, carry = model.loss_and_grad(used, mb, state=state, noise=noise)
        grads, _ = frozen_clip(grads, config.clip)
        params, opt = update(params, grads, opt, lr, momentum=config.momentum, nesterov=config.nesterov)
        losses.append(float(loss))
    return losses, params, opt


# --------------------------------------------------------------------------------- the comparison


def _trainer(tmp_path, spec, dtype=np.float32, sets=("H=16",), backend="numpy", **kw):
    program = load_checked(str(ROOT / "examples" / spec), list(sets))
    model = compile_program(program, dtype=dtype, backend=backend)
    base = dict(batch_size=4, weight_noise=0.02, clip=0.5, seed=11)
    config = resolve(TrainConfig(**{**base, **kw}), "frame")
    t = Trainer(model, DATA, config, tmp_path, quiet=True)
    t.start_fresh()
    return t


def _batches(t, n):
    c = t.config
    out = []
    while len(out) < n:  # several epochs' batches in the trainer's order
        rng = ckpt.rng_from_array(t.data_rng_start)
        out += list(batches(t.dataset, "train", c.batch_size, c.steps, rng))
    return out[:n]


def _same_bytes(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.dtype == y.dtype and x.shape == y.shape, k
        assert x.tobytes() == y.tobytes(), f"{k} differs"


CASES = {
    "rnn adam f32": dict(spec="rnn.rnn"),
    "lstm adam f32": dict(spec="lstm.rnn"),
    "lstm adam f32 no clip": dict(spec="lstm.rnn", clip=0.0),
    "rnn adam f64": dict(spec="rnn.rnn", dtype=np.float64),
    "rnn sgd nesterov f32": dict(spec="rnn.rnn", optimizer="sgd", lr=0.01, nesterov=True),
    "lstm sgd f32 no noise": dict(spec="lstm.rnn", optimizer="sgd", lr=0.01, weight_noise=0.0),
    "zoneout (dropout draws first)": dict(spec="lstm_zoneout.rnn"),
}
if unavailable_reason() is None:  # the fast backend: weight noise through normals.fill's kernel
    # H = 6 as tests/test_fast_backend.py's float32 LSTM: the same kernels, compiled once in a suite run
    CASES["lstm adam f32 fast"] = dict(spec="lstm.rnn", backend="fast", sets=("H=6",))
    CASES["zoneout fast"] = dict(spec="lstm_zoneout.rnn", backend="fast")


@pytest.mark.parametrize("case", list(CASES))
def test_updates_bit_identical_to_the_frozen_update(tmp_path, case):
    t = _trainer(tmp_path, **CASES[case])
    _check_against_frozen(t)
    assert t._flat is not None and t._flat.linked(t.params, t.opt_state)  # the flat buffers ran


def test_arrays_replaced_midway_are_taken_over(tmp_path):
    """A restore or a plateau replaces the trainer's dicts: the next update copies them in."""
    t = _trainer(tmp_path, spec="rnn.rnn")

    def replace(index):
        if index == UPDATES // 2:
            t.params = {k: v.copy() for k, v in t.params.items()}
            t.opt_state = {k: v.copy() for k, v in t.opt_state.items()}
    _check_against_frozen(t, before_update=replace)
    assert t._flat.linked(t.params, t.opt_state)


def test_a_numpy_float_lr_keeps_the_dict_update_and_its_widening(tmp_path):
    """η · float32 is float32 for a Python float but float64 for a numpy float64 (NEP 50): the
    in-place update is for the former only."""
    t = _trainer(tmp_path, spec="rnn.rnn")
    t.state.lr = np.float64(t.state.lr)
    _check_against_frozen(t)


def _check_against_frozen(t, before_update=lambda index: None):
    batch_list = _batches(t, UPDATES)
    start = {k: v.copy() for k, v in t.params.items()}
    rng_start = ckpt.rng_to_array(t.noise_rng)
    want_losses, want_params, want_opt = frozen_updates(t.model, t.config, start, ckpt.rng_from_array(rng_start),
                                                        batch_list, t.state.lr)
    got_losses = []
    for index, b in enumerate(batch_list):
        before_update(index)
        got_losses.append(t._update(b))
    assert got_losses == want_losses
    _same_bytes(t.params, want_params)
    _same_bytes(t.opt_state, want_opt)
    assert list(t.params) == list(want_params) and list(t.opt_state) == list(want_opt)  # checkpoint order
    assert any(not np.array_equal(start[k], t.params[k]) for k in start)  # it did train
