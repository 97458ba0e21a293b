"""The token loss of the emitted module (prelude._token_nll, _token_nll_grad): one blocked,
in-place pass over the (T, B, V) logits gives the autograd reference's NLL and
scale · d NLL / d logits, with masks, in float32 and float64, across block boundaries, for
logits far from 0; and a word model's forward+backward holds no second (T, B, V) array."""
import tracemalloc
from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import rnnalg
from rnnalg.lower import prelude
from rnnalg.reference import reference_loss_rules
from rnnalg.testing import random_setup

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
T, B, V = 7, 5, 13
# dtype -> (tolerance relative to the largest |value|, of the NLL and of the gradient)
TOL = {np.float32: 2e-6, np.float64: 1e-13}


def inputs(dtype, seed=0):
    """Logits (T, B, V) with rows offset by up to ±150 (exp would overflow unshifted), targets
    (T, B), and scale = mask / count (T, B, 1) with about a third of the positions masked."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0.0, 3.0, (T, B, V)) + rng.normal(0.0, 50.0, (T, B, 1))
    y = rng.integers(0, V, (T, B))
    m = (rng.random((T, B)) < 0.7).astype(float)
    return a.astype(dtype), y, (m / m.sum())[..., None].astype(dtype)


def reference(a, y, scale):
    """NLL (T, B) and d Σ scale·NLL / d a (T, B, V) by autograd, in float64."""
    flat, ys, w = a.astype(np.float64).reshape(-1, V), y.reshape(-1), scale.astype(np.float64).reshape(-1)
    nll = reference_loss_rules["token"](flat, ys)
    g = grad(lambda z: anp.sum(w * reference_loss_rules["token"](z, ys)))(flat)
    return nll.reshape(T, B), g.reshape(T, B, V)


def close(got, want, dtype):
    assert got.dtype == dtype and got.shape == want.shape
    assert np.max(np.abs(got - want)) <= TOL[dtype] * np.max(np.abs(want))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [None, 1, 4], ids=["one-block", "row-blocks", "4-row-blocks"])
def test_token_loss_and_gradient_match_autograd(monkeypatch, dtype, rows):
    if rows:  # T·B = 35 rows: blocks of 1 row, or of 4 with a partial last block
        monkeypatch.setattr(prelude, "SOFTMAX_BLOCK_BYTES", rows * V * np.dtype(dtype).itemsize)
    a, y, scale = inputs(dtype)
    want_nll, want_g = reference(a, y, scale)
    before = a.copy()
    close(prelude._token_nll(a, y), want_nll, dtype)
    assert np.array_equal(a, before)  # evaluation leaves the logits alone
    nll, g = prelude._token_nll_grad(a, y, scale)
    close(nll, want_nll, dtype)
    close(g, want_g, dtype)
    assert np.shares_memory(g, a)  # written over the logits
    assert not np.any(g[scale[..., 0] == 0])  # masked positions get no gradient


def test_logits_that_are_not_contiguous_give_the_same_gradient():
    a, y, scale = inputs(np.float64)
    wide = np.zeros((T, B, 2 * V))
    wide[..., ::2] = a
    _, want_g = reference(a, y, scale)
    _, g = prelude._token_nll_grad(wide[..., ::2], y, scale)
    close(g, want_g, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_number_scale_is_the_array_full_of_it(dtype):
    """An unmasked batch's scale is the number 1 / count: the numbers of the (T, B, 1) array of it."""
    a, y, _ = inputs(dtype)
    number = 1.0 / (T * B)
    want = prelude._token_nll_grad(a.copy(), y, np.full((T, B, 1), number, dtype=dtype))
    got = prelude._token_nll_grad(a.copy(), y, number)
    assert all(np.array_equal(g, w) for g, w in zip(got, want))


def test_a_word_model_holds_one_logits_array_at_a_time():
    """Peak traced memory of loss_and_grad on word_rnn (V = 10000, H = 4) stays below two (T, B, V)
    arrays: the logits become the gradient in place.  Before, the softmax held four at once."""
    program = rnnalg.load_program(EXAMPLES / "word_rnn.rnn", {"H": 4})
    model, params, batch, state, _ = random_setup(program, T=20, B=8)
    logits_bytes = 20 * 8 * 10000 * 8
    model.loss_and_grad(params, batch, state)  # warm up
    tracemalloc.start()
    try:
        model.loss_and_grad(params, batch, state)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert logits_bytes <= peak < 2 * logits_bytes
