"""The weight gradients' running sums over the time blocks (the prelude's `_mmT_acc`,
rnnalg/fast/block_sums.py): added inside the product (BLAS β = 1, or a 0/1 input's column sums),
the module's sums to rounding; what it does not take goes to the module's own; a fast model runs
them, its gradients the numpy module's to 1e-12 in float64."""
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg import fast
from rnnalg.lower import prelude

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")
ROOT = Path(__file__).resolve().parents[1]


def module_sum(a, g, total):
    """The prelude's own: total += _mmT(a, g) on a copy of total."""
    return prelude._mmT_acc(total.copy(), a, g)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-13)])
@pytest.mark.parametrize("binary", [False, True])
def test_the_product_added_in_place_is_the_modules_sum(dtype, tol, binary):
    from rnnalg.fast import block_sums
    rng = np.random.default_rng(4)
    a = ((rng.random((16, 64, 88)) < 0.05) if binary else rng.standard_normal((16, 64, 88))).astype(dtype)
    g = rng.standard_normal((16, 64, 800)).astype(dtype)
    total = rng.standard_normal((88, 800)).astype(dtype)
    want = module_sum(a, g, total)
    address = total.ctypes.data
    calls = []
    add = block_sums.mmT_acc(lambda *args: calls.append(args))
    got = add(total, a, g)
    assert calls == [] and got is total and total.ctypes.data == address  # in place, no fallback
    assert np.abs(got - want).max() <= tol * np.abs(want).max()


def test_what_it_does_not_take_goes_to_the_modules_own():
    """The first block (no sum yet), a static (1, B, in) operand, mixed dtypes, a strided operand, a
    Fortran-ordered or read-only sum, an empty block: the module's `_mmT_acc`, with its numbers."""
    from rnnalg.fast import block_sums
    rng = np.random.default_rng(5)
    a = rng.standard_normal((6, 4, 10)).astype(np.float32)
    g = rng.standard_normal((6, 4, 12)).astype(np.float32)
    total = rng.standard_normal((10, 12)).astype(np.float32)
    frozen = total.copy()
    frozen.flags.writeable = False
    calls = []

    def fallback(t, aa, gg):
        calls.append(1)
        return prelude._mmT_acc(None if t is None else t.copy(), aa, gg)

    add = block_sums.mmT_acc(fallback)
    cases = [(None, a, g), (total, a[:1], g), (total, a.astype(np.float64), g), (total, a[:, ::2], g[:, ::2]),
             (np.asfortranarray(total), a, g), (frozen, a, g), (total, a[:0], g[:0])]
    for t, aa, gg in cases:
        del calls[:]
        got = add(t, aa, gg)
        assert calls == [1]
        want = prelude._mmT_acc(None if t is None else t.copy(), aa, gg)
        assert got.tobytes() == want.tobytes()


def test_a_fast_lstm_adds_its_blocks_in_place_with_the_modules_gradients(monkeypatch):
    """lstm.rnn (a 0/1 input and a dense state) in time blocks of 8 rows: every later block's three
    weight products go into their sums (column sums for W_x, the BLAS for W_h and the head's), and
    in float64 the gradients are the numpy module's to 1e-12."""
    from rnnalg.fast import block_sums
    program = rnnalg.load_program(ROOT / "examples" / "lstm.rnn", {"H": 6})
    rng = np.random.default_rng(6)
    batch = {k: (rng.random((20, 2, 88)) < 0.1).astype(np.float64) for k in ("x", "y")}
    results = []
    taken = []
    real = block_sums.add_product
    monkeypatch.setattr(block_sums, "add_product", lambda *args: taken.append(real(*args)) or taken[-1])
    for backend in ("numpy", "fast"):
        model = rnnalg.compile(program, np.float64, backend=backend)
        params = {k: v.astype(np.float64) for k, v in model.init_params(np.random.default_rng(7)).items()}
        model._module["BLOCK_ROWS"] = 8  # 4 steps a block: 5 blocks
        results.append(model.loss_and_grad(params, batch))
    assert taken == [True] * 3 * 4
    (l_np, g_np, _), (l_fast, g_fast, _) = results
    assert abs(l_np - l_fast) <= 1e-12 * abs(l_np)
    for k, v in g_np.items():
        assert np.abs(g_fast[k] - v).max() <= 1e-12 * np.abs(v).max(), k
