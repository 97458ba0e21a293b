"""The fast backend's `_add_rows_at` (rnnalg/fast/numba_scatter.py: an embedding's gradient as one
numba loop over the entries in order) against np.add.at, bit for bit, and installed in a fast model."""
import numpy as np
import pytest

from rnnalg import fast
from rnnalg.lower import prelude

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")


@pytest.fixture(scope="module")
def add_rows_at():
    from rnnalg.fast import numba_scatter
    assert numba_scatter.compiled() is not None
    calls = []

    def fallback(table, rows, values):
        calls.append(values.shape)
        prelude._add_rows_at(table, rows, values)
    swapped = numba_scatter.scatter_into(fallback)
    swapped.fallback_calls = calls
    return swapped


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def gate_views(rng, n, width, dtype):
    """values (n, width): a contiguous array, a gate's columns of a side-by-side (n, 4·width) block,
    and every other row of one (a row stride beyond the width)."""
    joint = (rng.standard_normal((2 * n, 4 * width)) * rng.exponential(1.0, (2 * n, 1))).astype(dtype)
    return {"contiguous": np.ascontiguousarray(joint[:n, :width]), "gate columns": joint[:n, width:2 * width],
            "every other row": joint[::2, 2 * width:3 * width]}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("V, n, width", [(50, 1024, 400), (10_000, 700, 24), (3, 400, 5), (1, 33, 1), (7, 1, 64)])
def test_the_loop_is_add_at_bit_for_bit(add_rows_at, dtype, V, n, width):
    rng = np.random.default_rng(V + 7 * n + width)
    rows = (rng.zipf(1.3, n) - 1) % V - (V if V > 3 else 0) * (rng.random(n) < 0.1)  # some negative: from the end
    del add_rows_at.fallback_calls[:]
    for values in gate_views(rng, n, width, dtype).values():
        for start in (np.zeros((V, width), dtype), rng.standard_normal((V, width)).astype(dtype)):
            want, got = start.copy(), start.copy()
            np.add.at(want, rows, values)
            add_rows_at(got, rows, values)
            assert same_bits(got, want)
    assert add_rows_at.fallback_calls == []  # all of them ran the loop


def test_signed_zeros_as_add_at(add_rows_at):
    values = np.array([[-0.0, 1.0], [-0.0, -1.0], [2.0, -0.0], [3.0, 0.5]], np.float32)
    rows = np.array([1, 1, 0, -1])
    want, got = np.full((3, 2), -0.0, np.float32), np.full((3, 2), -0.0, np.float32)
    np.add.at(want, rows, values)
    add_rows_at(got, rows, values)
    assert same_bits(got, want)


def test_what_the_loop_does_not_take_goes_to_the_fallback(add_rows_at):
    """Strided columns, mixed dtypes, a non-contiguous table: the fallback, with np.add.at's numbers;
    a row out of range: its IndexError, with nothing added by the loop before it."""
    rng = np.random.default_rng(3)
    rows = np.array([0, 2, 2, 1])
    cases = [(np.zeros((3, 4), np.float32), rng.standard_normal((4, 8)).astype(np.float32)[:, ::2]),
             (np.zeros((3, 4), np.float32), rng.standard_normal((4, 4))),
             (np.zeros((3, 8), np.float32)[:, :4], rng.standard_normal((4, 4)).astype(np.float32))]
    for table, values in cases:
        del add_rows_at.fallback_calls[:]
        want = table.copy()
        np.add.at(want, rows, values)
        add_rows_at(table, rows, values)
        assert same_bits(np.ascontiguousarray(table), want)
        assert add_rows_at.fallback_calls == [values.shape]
    table = np.zeros((3, 4), np.float32)
    with pytest.raises(IndexError):
        add_rows_at(table, np.array([0, 3]), np.ones((2, 4), np.float32))
    assert not table.any()


def test_a_fast_model_scatters_by_the_loop_with_the_same_gradients():
    """A fast char LSTM's `_add_rows_at` is the loop; its embedding gradients over two time blocks are
    those of the module's own (np.add.at's numbers), bit for bit."""
    import rnnalg

    model = rnnalg.compile(_char_lstm(), backend="fast")
    ns = model._module
    assert ns["_add_rows_at"].__module__ == "rnnalg.fast.numba_scatter"
    rng = np.random.default_rng(0)
    params = model.init_params(rng)
    T, B = 40, 8
    batch = {"x": rng.integers(0, 50, (T, B)), "y": rng.integers(0, 50, (T, B)), "mask": np.ones((T, B), np.float32)}
    ns["BLOCK_ROWS"] = 16 * B  # three time blocks: the scatter into the table of the blocks before
    _, fast_grads, _ = model.loss_and_grad(params, batch)
    ns["_add_rows_at"] = ns["_add_rows_at"].fallback
    _, own_grads, _ = model.loss_and_grad(params, batch)
    for name in ("i.W_x", "f.W_x", "o.W_x", "g.W_x"):
        assert same_bits(fast_grads[name], own_grads[name])


def _char_lstm():
    """examples/char_lstm.rnn at H = 16 (a checked program)."""
    from pathlib import Path

    from rnnalg.specfile import load_checked
    return load_checked(str(Path(__file__).resolve().parent.parent / "examples" / "char_lstm.rnn"), ["H=16"])
