"""A float32 BPTT gradient that overflows is taken again in float64 and clipped (trainer.py).

The case from issue 20's rows, small: examples/ln_lstm.rnn at zero state over silent frames
(x = 0).  Every layer-norm input is then constant, σ² = 0, r = 1/√ε = 316, and each step
multiplies the backward signal by about 1e4 (two norms on the h → h path): 12 silent frames
at a piece's start give ‖g‖ ≈ 4e45, Inf in float32, finite in float64.  Before the fix the
trainer stopped ("the gradient of … holds NaN or Inf"); now its update is the exact
gradient, clipped.
"""
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg.data import Dataset
from rnnalg.errors import TrainingError
from rnnalg.train.config import TrainConfig, resolve
from rnnalg.train.optim import clip_by_global_norm
from rnnalg.train.trainer import Trainer

LN_LSTM = Path(__file__).resolve().parents[1] / "examples" / "ln_lstm.rnn"
SILENT = 12  # silent frames at the start: ‖g‖ ≈ 4e45 (10 give 2e38, just inside float32)


def _piece(rng, silent=SILENT, sounding=6):
    roll = np.zeros((silent + sounding, 88), np.uint8)
    roll[silent:] = rng.random((sounding, 88)) < 0.1
    return roll


def _config(**kw):
    base = dict(epochs=1, batch_size=1, optimizer="sgd", lr=0.1, momentum=0.0, weight_noise=0.0,
                clip=1.0, seed=3)
    return resolve(TrainConfig(**{**base, **kw}), "frame")


@pytest.fixture(scope="module")
def program():
    return rnnalg.load_program(LN_LSTM, {"H": 8})


@pytest.mark.parametrize("backend", ["numpy", "fast"])
def test_silent_start_overflows_float32_not_float64(program, backend):
    """The failure mode itself: the model is right, float32 is too narrow for its gradient."""
    m32, m64 = rnnalg.compile(program, np.float32, backend), rnnalg.compile(program, np.float64, backend)
    params = m32.init_params(np.random.default_rng(0))
    roll = _piece(np.random.default_rng(1)).astype(np.float32)[:, None]
    batch = {"x": roll[:-1], "y": roll[1:]}
    _, g32, _ = m32.loss_and_grad(params, batch)
    _, g64, _ = m64.loss_and_grad({k: v.astype(np.float64) for k, v in params.items()}, batch)
    assert not all(np.isfinite(g).all() for g in g32.values())
    norm = np.sqrt(sum(float((g * g).sum()) for g in g64.values()))
    assert 1e39 < norm < 1e100


def _one_update(program, backend, tmp_path, **kw):
    """A trainer on one silent-start piece, after its one update (epoch 1, step 1)."""
    rng = np.random.default_rng(1)
    data = Dataset(name="silent-start", kind="music", vocab=None, source="test", unit="frame",
                   splits={"train": [_piece(rng)], "valid": [_piece(rng)], "test": [_piece(rng)]})
    model = rnnalg.compile(program, np.float32, backend)
    t = Trainer(model, data, _config(**kw), tmp_path, quiet=True)
    t.start_fresh()
    before = {k: v.copy() for k, v in t.params.items()}
    return t, before, data


@pytest.mark.parametrize("backend", ["numpy", "fast"])
def test_trainer_updates_with_the_clipped_float64_gradient(program, backend, tmp_path, capsys):
    t, before, data = _one_update(program, backend, tmp_path)
    assert t.run() == "epochs"  # before the fix: TrainingError, the gradient of … holds NaN or Inf
    roll = data.splits["train"][0].astype(np.float64)[:, None]
    m64 = rnnalg.compile(program, np.float64, backend)
    _, g64, _ = m64.loss_and_grad({k: v.astype(np.float64) for k, v in before.items()},
                                  {"x": roll[:-1], "y": roll[1:]})
    clipped, norm = clip_by_global_norm(g64, 1.0)
    assert norm > 1e39  # the float32 gradient overflowed
    for k, p in t.params.items():  # plain SGD, lr 0.1: θ − 0.1 · g·1/‖g‖
        assert p.dtype == np.float32 and np.isfinite(p).all(), k
        np.testing.assert_allclose(p, before[k] - 0.1 * clipped[k], rtol=1e-5, atol=1e-7, err_msg=k)
    err = capsys.readouterr().err
    assert "float32 gradient overflowed (BPTT over 17 steps)" in err and "float64" in err


def test_without_clipping_the_overflow_still_stops_with_advice(program, tmp_path):
    t, _, _ = _one_update(program, "numpy", tmp_path, clip=0.0)
    with pytest.raises(TrainingError, match=r"holds NaN or Inf at epoch 1, step 1 \(BPTT over 17 steps; "
                                            r"--steps truncates it\)"):
        t.run()


def test_global_norm_of_a_gradient_whose_squares_overflow_float64():
    """‖g‖ = 5e200 has Σ g² = 2.5e401 > 1.8e308: still finite, and clipping gives g/‖g‖
    (an LN-LSTM's exact gradient at init on one Piano-midi.de batch was already 4e80)."""
    from rnnalg.train.optim import global_norm

    g = {"a": np.array([3e200, 4e200]), "b": np.zeros(0), "c": np.array([0.0], np.float32)}
    assert global_norm(g) == pytest.approx(5e200, rel=1e-12)
    clipped, norm = clip_by_global_norm(g, 1.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.8], rtol=1e-12)
    assert np.isinf(global_norm({"a": np.array([np.inf, 1.0])}))
    assert np.isnan(global_norm({"a": np.array([np.nan, 1.0])}))
