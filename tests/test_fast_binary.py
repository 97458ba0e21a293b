"""The fast backend's products with a 0/1 input (rnnalg/fast/numba_binary.py): x·W + b as sums of W's
rows, the module's numbers bit for bit; xᵀ·G as sums of G's rows, equal to rounding; everything they
do not take handed to the module's own helper; installed in a fast model."""
import numpy as np
import pytest

from rnnalg import fast
from rnnalg.lower import prelude

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def piano_roll(rng, shape, share=0.043, dtype=np.float32):
    """0/1 frames with ~share of them ones (JSB: ~3.8 of 88 keys), some frames silent, one -0.0."""
    x = (rng.random(shape) < share).astype(dtype)
    x[len(x) // 2] = 0
    x.reshape(-1)[5] = -0.0 if x.reshape(-1)[5] == 0 else 1
    return x


@pytest.fixture
def helpers():
    """(affine_into, mmT) around the prelude's own, each recording the calls it hands on."""
    from rnnalg.fast import numba_binary

    calls = []

    def affine_fallback(out, bias, *terms):
        calls.append("_affine_into")
        prelude._affine_into(out, bias, *terms)

    def mmT_fallback(a, g):
        calls.append("_mmT")
        return prelude._mmT(a, g)
    return numba_binary.affine_into(affine_fallback), numba_binary.mmT(mmT_fallback), calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T, B, K, N", [(75, 16, 88, 800), (60, 4, 88, 200), (3, 2, 5, 7)])
def test_row_sums_are_the_modules_product_bit_for_bit(helpers, dtype, T, B, K, N):
    affine_into, _, calls = helpers
    rng = np.random.default_rng(T + N)
    x = piano_roll(rng, (T, B, K), dtype=dtype)
    w = rng.standard_normal((K, N)).astype(dtype)
    bias = rng.standard_normal(N).astype(dtype)
    want, got = np.empty((T, B, N), dtype), np.full((T, B, N), np.nan, dtype)
    prelude._affine_into(want, bias, (x, w))
    affine_into(got, bias, (x, w))
    assert calls == [] and same_bits(got, want)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-13)])
def test_column_sums_are_the_weight_gradient_to_rounding(helpers, dtype, tol):
    _, mmT, calls = helpers
    rng = np.random.default_rng(1)
    x = piano_roll(rng, (64, 16, 88), dtype=dtype)  # a time block of 1,024 rows
    g = rng.standard_normal((64, 16, 800)).astype(dtype)
    got, want = mmT(x, g), prelude._mmT(x, g)
    exact = x.reshape(-1, 88).T.astype(np.float64) @ g.reshape(-1, 800).astype(np.float64)
    assert calls == [] and got.dtype == dtype and got.shape == (88, 800)
    assert np.abs(got - exact).max() <= tol * np.abs(exact).max()
    assert np.abs(got - want).max() <= 2 * tol * np.abs(exact).max()
    assert not got[~x.reshape(-1, 88).any(axis=0)].any()  # keys never down: zero rows


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_what_the_sums_do_not_take_goes_to_the_modules_helper(helpers):
    """Values other than 0/1, too many ones, a NaN or inf in the other operand (a dense product spreads
    it over x's zeros), mixed dtypes, non-contiguous operands, a per-sequence term, two terms: the
    module's own helper, with its numbers.  numpy's invalid-value warning (inf·0 in the dense
    product) is off, as the model runs its helpers (model._QUIET: the trainer reports a non-finite
    loss itself); any other RuntimeWarning fails the test."""
    affine_into, mmT, calls = helpers
    rng = np.random.default_rng(2)
    x = piano_roll(rng, (6, 4, 10))
    w = rng.standard_normal((10, 12)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    g = rng.standard_normal((6, 4, 12)).astype(np.float32)
    half, dense = x * 0.5, (rng.random((6, 4, 10)) < 0.5).astype(np.float32)
    nan_w, inf_g = w.copy(), g.copy()
    nan_w[7, 3], inf_g[2, 1, 5] = np.nan, np.inf
    affine_cases = [(b, (half, w)), (b, (dense, w)), (b, (x, nan_w)), (b.astype(np.float64), (x, w)),
                    (b, (x[:, :, ::-1], w)), (b, (x[:1], w)), (b, (x, w), (x, w))]
    for bias, *terms in affine_cases:
        del calls[:]
        want, got = np.empty((6, 4, 12), np.float32), np.empty((6, 4, 12), np.float32)
        with np.errstate(invalid="ignore"):
            prelude._affine_into(want, bias, *terms)
            affine_into(got, bias, *terms)
        assert calls == ["_affine_into"] and same_bits(got, want)
    for a, gg in [(half, g), (dense, g), (x, inf_g), (x.astype(np.float64), g), (x[:, ::2], g[:, ::2]), (x[:1], g)]:
        del calls[:]
        with np.errstate(invalid="ignore"):
            got, want = mmT(a, gg), prelude._mmT(a, gg)
        assert calls == ["_mmT"] and same_bits(got, want)


def test_a_music_model_takes_the_sums_with_the_modules_numbers():
    """lstm.rnn (binary[88] piano rolls in) with the fast backend's helpers installed (the model does
    so with its kernels, model._install_backend): its `_affine_into` and `_mmT` are the sums; in
    float64 its loss and gradients are the module's own helpers' to 1e-12, the loss bit for bit."""
    from pathlib import Path

    import rnnalg

    root = Path(__file__).resolve().parents[1]
    program = rnnalg.load_program(root / "examples" / "lstm.rnn", {"H": 6})
    model = rnnalg.compile(program, np.float64, backend="numpy")  # the helpers alone: no kernels to compile
    ns = model._module
    assert {"_affine_into", "_mmT"} <= set(fast.install_helpers(ns))
    assert ns["_affine_into"].__module__ == ns["_mmT"].__module__ == "rnnalg.fast.numba_binary"
    rng = np.random.default_rng(3)
    params = {k: v.astype(np.float64) for k, v in model.init_params(rng).items()}
    batch = {"x": piano_roll(rng, (40, 3, 88), dtype=np.float64), "y": piano_roll(rng, (40, 3, 88), dtype=np.float64)}
    new = model.loss_and_grad(params, batch)
    ns["_affine_into"], ns["_mmT"] = ns["_affine_into"].fallback, ns["_mmT"].fallback
    old = model.loss_and_grad(params, batch)
    assert new[0] == old[0]
    for k, v in old[1].items():
        assert np.abs(new[1][k] - v).max() <= 1e-12 * max(np.abs(v).max(), 1e-300), k
    assert np.abs(new[1]["i.W_x"]).max() > 0
