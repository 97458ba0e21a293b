"""`Model.loss_and_grad` as parts of the batch on threads (rnnalg/batch_threads.py): the same loss,
gradients and final states as the unsplit call (float64, to 1e-12), which calls split, and the
BLAS on one thread during the split and as it was after it."""
import threading
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg import batch_threads, fast
from rnnalg.testing import random_setup
from rnnalg.train import numerics

ROOT = Path(__file__).resolve().parents[1]
# masks, carried state and dropout in all; zoneout, a static input, tokens with a tied softmax,
# layer norm, a deep transition, a stack of two layers
SPECS = ("lstm", "gru", "lstm_zoneout", "lstm_conditioned", "word_lstm_tied", "ln_lstm", "dts", "char_srnn2")
TOL = 1e-12


def small(stem):
    return rnnalg.load_program(ROOT / "examples" / f"{stem}.rnn", {"H": 6})


def split_vs_unsplit(model, params, batch, state, noise, n):
    """Largest relative difference of loss, each gradient and each final state: n parts vs one."""
    model.batch_threads = 1
    whole = model.loss_and_grad(params, batch, state, noise)
    model.batch_threads = n
    B = batch["mask"].shape[1]
    assert model.split_parts(B) == min(n, B)
    split = model.loss_and_grad(params, batch, state, noise)
    assert set(split[1]) == set(whole[1]) and set(split[2]) == set(whole[2])
    pairs = [(split[0], whole[0])] + [(split[1][k], whole[1][k]) for k in whole[1]] \
        + [(split[2][k], whole[2][k]) for k in whole[2]]
    return max(float(np.max(np.abs(np.subtract(a, b))) / max(np.max(np.abs(b)), 1e-300)) for a, b in pairs)


@pytest.mark.parametrize("n", (2, 3))
@pytest.mark.parametrize("stem", SPECS)
def test_parts_of_the_batch_give_the_unsplit_call_s_numbers(stem, n):
    model, params, batch, state, noise = random_setup(small(stem), T=6, B=7, seed=1)
    assert split_vs_unsplit(model, params, batch, state, noise, n) < TOL


def test_a_part_with_no_unmasked_position_and_a_weighted_mask():
    """Part 2 of 2 all masked (its count 0: the module divides by max(count, 1)); weights in (0, 1)."""
    model, params, batch, state, noise = random_setup(small("lstm"), T=5, B=4, seed=2)
    batch["mask"][:, 2:] = 0.0
    assert split_vs_unsplit(model, params, batch, state, noise, 2) < TOL
    batch["mask"][:, :2] = np.random.default_rng(0).uniform(0.1, 0.9, size=(5, 2))
    batch["mask"][:, 3] = 0.25
    assert split_vs_unsplit(model, params, batch, state, noise, 2) < TOL
    assert split_vs_unsplit(model, params, batch, state, noise, 3) < TOL


@pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")
def test_the_fast_backend_s_parts_give_its_unsplit_numbers():
    model, params, batch, state, noise = random_setup(small("lstm"), T=6, B=7, seed=1, backend="fast")
    assert model.backend == "fast"
    assert split_vs_unsplit(model, params, batch, state, noise, 2) < TOL


def test_float32_parts_agree_to_float32_rounding():
    model, params, batch, state, noise = random_setup(small("gru"), T=6, B=6, seed=3)
    model = rnnalg.compile(model.program, np.float32, "numpy")
    f32 = lambda d: d and {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in d.items()}  # noqa: E731
    assert split_vs_unsplit(model, f32(params), f32(batch), f32(state), noise, 2) < 1e-5


def test_which_calls_split(monkeypatch):
    """Automatic: the fast backend at B ≥ 2·MIN_ROWS with n ≥ 2 BLAS threads, at most B // MIN_ROWS
    parts; set: min(n, B) parts with either backend."""
    monkeypatch.setattr(batch_threads, "blas_threads", lambda: 2)
    low = 2 * batch_threads.MIN_ROWS
    assert [batch_threads.parts(B) for B in (1, low - 1, low, 64)] == [1, 1, 2, 2]
    assert batch_threads.parts(64, compiled=False) == 1  # the numpy backend: only when asked
    assert [batch_threads.parts(B, batch_threads=3, compiled=False) for B in (1, 2, 5)] == [1, 2, 3]
    assert batch_threads.parts(64, batch_threads=1) == 1
    monkeypatch.setattr(batch_threads, "blas_threads", lambda: 3)
    assert (batch_threads.parts(low), batch_threads.parts(64)) == (2, 3)
    monkeypatch.setattr(batch_threads, "blas_threads", lambda: 1)
    assert batch_threads.parts(64) == 1
    model = rnnalg.compile(small("lstm"), np.float64, "numpy")
    assert model.batch_threads is None and model.split_parts(64) == 1


def test_the_blas_is_on_one_thread_in_every_part_and_restored_after():
    model, params, batch, state, noise = random_setup(small("lstm"), T=4, B=4, seed=0)
    run, seen = model._module["loss_and_grad"], []

    def watched(params, batch, state, noise):
        seen.append((threading.current_thread().name, numerics.blas_threads(), np.geterr()["over"],
                     batch["x"].shape[1], batch["x"].flags.c_contiguous))
        return run(params, batch, state, noise)

    model._module["loss_and_grad"] = watched
    model.batch_threads = 2
    with numerics.blas_threads_set(2):
        if numerics.blas_threads() != 2:
            pytest.skip("this BLAS cannot run on 2 threads here")
        model.loss_and_grad(params, batch, state, noise)
        assert numerics.blas_threads() == 2
    assert len({name for name, *_ in seen}) == 2  # two threads
    assert [rest for _, *rest in seen] == [[1, "ignore", 2, True]] * 2  # numpy's warnings off in each


def test_an_error_in_a_part_reaches_the_caller_and_the_blas_is_restored():
    model, params, batch, state, noise = random_setup(small("lstm"), T=4, B=4, seed=0)

    def failing(params, batch, state, noise):
        if threading.current_thread() is not threading.main_thread():
            raise FloatingPointError("in the worker")
        return run(params, batch, state, noise)

    run = model._module["loss_and_grad"]
    model._module["loss_and_grad"] = failing
    model.batch_threads = 2
    with numerics.blas_threads_set(2):
        if numerics.blas_threads() != 2:
            pytest.skip("this BLAS cannot run on 2 threads here")
        with pytest.raises(FloatingPointError, match="in the worker"):
            model.loss_and_grad(params, batch, state, noise)
        assert numerics.blas_threads() == 2


def test_a_blas_that_cannot_be_put_on_one_thread_runs_the_call_unsplit(monkeypatch):
    model, params, batch, state, noise = random_setup(small("lstm"), T=4, B=4, seed=0)
    run, sizes = model._module["loss_and_grad"], []
    model._module["loss_and_grad"] = lambda p, b, s, n: sizes.append(b["x"].shape[1]) or run(p, b, s, n)
    monkeypatch.setattr(batch_threads, "one_blas_thread", lambda: _yields(False))
    model.batch_threads = 2
    model.loss_and_grad(params, batch, state, noise)
    assert sizes == [4]


class _yields:
    def __init__(self, value):
        self.value = value

    def __enter__(self):
        return self.value

    def __exit__(self, *exc):
        return False
