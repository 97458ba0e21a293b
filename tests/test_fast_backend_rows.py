"""The compiled kernels' elementwise helpers (rnnalg/fast/numba_rows.py) and the float32 tanh of
numba_prelude.py: numpy's results, for contiguous rows, strided views, in place, broadcasting."""
import numpy as np
import pytest

from rnnalg import fast

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")


@pytest.fixture(scope="module")
def helpers():
    from numba import njit

    from rnnalg.fast.numba_rows import _add, _add_into, _mul, _mul_into, _sub, _sub_into, _tanh_into

    @njit
    def binary(a, b, out):
        _mul_into(a, b, out)
        return _mul(a, b), _add(a, b), _sub(a, b), _sub(1, b), _add(a, 0.5)

    @njit
    def into(a, b, out_add, out_sub):
        _add_into(a, b, out_add)
        _sub_into(a, b, out_sub)

    @njit
    def tanh(a, out):
        _tanh_into(a, out)
    return binary, into, tanh


def operands(dtype, rows=4, cols=6):
    """A (rows, cols) column slice of a wider array (the kernels' gate views: contiguous rows),
    a contiguous one, every other column of another (strided rows)."""
    rng = np.random.default_rng(1)
    wide = rng.standard_normal((rows, 3 * cols)).astype(dtype)
    spaced = rng.standard_normal((rows, 2 * cols)).astype(dtype)[:, ::2]
    return wide[:, cols:2 * cols], rng.standard_normal((rows, cols)).astype(dtype), spaced


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_helpers_equal_numpy(helpers, dtype):
    binary, into, _ = helpers
    gate, dense, spaced = operands(dtype)
    # numba types gate and spaced as layout 'A', dense as 'C': each distinct pair of types is a
    # compilation of `binary` and `into`; a 'C' array first is test_in_place_and_broadcast's
    for a, b in [(gate, dense), (spaced, gate), (gate, spaced)]:
        out = np.empty_like(dense)
        got = binary(a, b, out)
        expected = (a * b, a + b, a - b, 1 - b, a + dtype(0.5))
        np.testing.assert_array_equal(out, a * b)
        for g, e in zip(got, expected):
            assert g.dtype == dtype
            np.testing.assert_array_equal(g, e)
        out_add, out_sub = np.empty((4, 9), dtype)[:, 2:8], np.empty_like(dense)  # a strided out
        into(a, b, out_add, out_sub)
        np.testing.assert_array_equal(out_add, a + b)
        np.testing.assert_array_equal(out_sub, a - b)


def test_in_place_and_broadcast_calls_equal_numpy(helpers):
    binary, into, tanh = helpers
    gate, dense, _ = operands(np.float64)
    x, y = gate.copy(), dense.copy()
    binary(x, y, x)  # out is a: in place
    np.testing.assert_array_equal(x, gate * dense)
    mask = np.array([[1.0], [0.0], [1.0], [0.0]])  # (B, 1), as the kernels' masks
    got = binary(mask, dense, np.empty_like(dense))
    np.testing.assert_array_equal(got[0], mask * dense)
    np.testing.assert_array_equal(got[2], mask - dense)
    with pytest.raises(ValueError, match="broadcast"):
        binary(np.ones((3, 1)), dense, np.empty_like(dense))
    z = dense.copy()
    tanh(z, z)
    np.testing.assert_allclose(z, np.tanh(dense), rtol=1e-15)


def test_float32_tanh_is_within_6_ulp_of_numpy_on_a_dense_grid(helpers):
    """Every float32 step of 1/20000 on [0, 10], powers of ten down to subnormals, the clamp at
    7.905 and beyond, ±inf, nan and −0, through the row loop (vectorised) and the strided path."""
    _, _, tanh = helpers
    f32 = np.float32
    special = np.array([0, 1e-45, 1e-40, 1e-38, 1e-30, 1e-10, 1e-7, 4e-4, 1e-2, 0.1, 7.9, 7.905, 7.906, 8,
                        9, 20, 88, 1e10, 3.4e38], f32)
    positive = np.concatenate([special, np.linspace(0, 10, 200_001, dtype=f32)])
    finite = np.concatenate([positive, -positive])
    x = np.concatenate([finite, np.array([np.inf, -np.inf, np.nan, -0.0], f32)])
    for view in (x.reshape(1, -1), np.repeat(x, 2).reshape(1, -1)[:, ::2]):
        out = np.empty((1, x.size), f32)
        tanh(view, out)
        got, expected = out[0], np.tanh(x)
        ulps = np.abs(got[:finite.size].view(np.int32).astype(np.int64)
                      - expected[:finite.size].view(np.int32).astype(np.int64))
        assert ulps.max() <= 6, (ulps.max(), finite[np.argmax(ulps)])
        assert list(got[finite.size:finite.size + 2]) == [1.0, -1.0]
        assert np.isnan(got[-2]) and got[-1] == 0 and np.signbit(got[-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_into_is_numpys_maximum_against_zero_bit_for_bit(dtype):
    """The kernels' relu (lower/rules.py into_rules): numpy's np.maximum(a, 0), sign bits included
    (−0 -> +0, −NaN kept; numba's own np.maximum kept −0), through the row loops (a gate view with
    contiguous rows; in place), the strided path (a strided out) and a broadcast (1, W) row."""
    from numba import njit

    from rnnalg.fast.numba_rows import _relu_into

    @njit
    def relu(a, out):
        _relu_into(a, out)

    def bits(x):
        return np.ascontiguousarray(x).view(np.uint8)

    row = np.array([-0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, -1.5, 2.5, 1e-40, -1e-40, 1e-45], dtype)
    gate, _, _ = operands(dtype, rows=4, cols=row.size)
    gate[:] = row * np.array([[1], [2], [-1], [3]], dtype)
    expected = np.maximum(gate, 0)
    assert not np.signbit(expected[0, 0]) and np.signbit(expected[0, 3])  # numpy: +0, −NaN
    dense, spaced = np.empty((4, row.size), dtype), np.empty((4, 2 * row.size), dtype)[:, ::2]
    for a, out, want in ((gate, dense, expected), (gate, spaced, expected),
                         (gate[:1], dense, np.broadcast_to(expected[:1], dense.shape))):
        relu(a, out)
        assert np.array_equal(bits(out), bits(want)), (a, out)
    relu(gate, gate)  # in place
    assert np.array_equal(bits(gate), bits(expected))


def test_kernel_text_runs_elementwise_work_through_the_helpers():
    from rnnalg.fast.backend import kernel_module_text
    source = ("def _scan_forward(T, B, a, b, out, S):\n"
              "    for t in range(T - 1, -1, -1):\n"
              "        np.multiply(a, b, out)\n"
              "        np.tanh(a, S[t])\n"
              "        c = (1 - a) * b + S[t + 1]\n")
    body = kernel_module_text(source).split("def _scan_forward")[1]
    assert "range(T - 1, -1, -1)" in body and "S[t + 1]" in body  # integers left alone
    assert "_mul_into(a, b, out)" in body and "_tanh_into(a, S[t])" in body
    assert "_add(_mul(_sub(1, a), b), S[t + 1])" in body


def test_a_long_unoptimised_kernel_keeps_numbas_own_operations():
    """Over OPTIMISE_UP_TO statements a kernel compiles optnone; with the helpers numba could not
    cache it ("uses dynamic globals"), so it keeps numba's operations (np.tanh -> _tanh; a number
    beside an array cast as numpy casts it, numba_weak.py)."""
    from rnnalg.fast.backend import OPTIMISE_UP_TO, kernel_module_text
    lines = [f"        a{i} = a * b + {i}\n" for i in range(OPTIMISE_UP_TO)]
    source = ("def _scan_backward(T, B, a, b, out):\n    for t in range(T):\n"
              "        np.multiply(a, b, out)\n        np.tanh(a, out)\n" + "".join(lines))
    body = kernel_module_text(source).split("def _scan_backward")[1]
    assert "np.multiply(a, b, out)" in body and "_tanh(a, out)" in body and "a0 = _add_number(a * b, 0)" in body
    assert "_mul" not in body and "_tanh_into" not in body


def test_in_place_operators_equal_numpys_for_every_operand_kind():
    """x op= y (x = _iop(x, y)) and X[i] op= y (_iop_at(X, i, y)): in place on a gate view with
    contiguous rows, a strided view, a (B, 1) mask, a bias row, a number; X[t] of a 3-D buffer
    and an element of a 1-D one."""
    from numba import njit

    from rnnalg.fast.numba_rows import _iadd, _iadd_at, _imul, _imul_at, _isub, _isub_at

    @njit
    def run(view, spaced, other, mask, bias, number, buffer, vector):
        view = _iadd(view, other)
        spaced = _imul(spaced, other)
        view = _imul(view, mask)
        view = _isub(view, bias)
        number = _iadd(number, 2.0)
        number = _imul(number, 3.0)
        _imul_at(buffer, 1, 0.5)
        _iadd_at(buffer, 1, 0.5)
        _isub_at(buffer, 0, other)
        _iadd_at(vector, 2, 1.5)
        _isub_at(vector, 0, 1.0)
        return view, spaced, number

    gate, dense, spaced = operands(np.float64)
    mask, bias = np.array([[1.0], [0.0], [1.0], [0.0]]), np.linspace(-1, 1, dense.shape[1])
    buffer, vector = np.random.default_rng(2).standard_normal((3,) + dense.shape), np.arange(4.0)
    expected_view = (gate + dense) * mask - bias
    expected_spaced, expected_buffer, expected_vector = spaced * dense, buffer.copy(), vector.copy()
    expected_buffer[1] = expected_buffer[1] * 0.5 + 0.5
    expected_buffer[0] -= dense
    expected_vector[2] += 1.5
    expected_vector[0] -= 1.0
    view_before, spaced_before = gate, spaced
    view, spaced_after, number = run(gate, spaced, dense, mask, bias, 1.0, buffer, vector)
    np.testing.assert_array_equal(view, expected_view)
    np.testing.assert_array_equal(view_before, expected_view)  # in place: the caller's array changed
    np.testing.assert_array_equal(spaced_before, expected_spaced)
    np.testing.assert_array_equal(buffer, expected_buffer)
    np.testing.assert_array_equal(vector, expected_vector)
    assert number == 9.0


def test_kernel_text_runs_in_place_operators_through_the_helpers():
    from rnnalg.fast.backend import kernel_module_text
    source = ("def _scan_forward(T, B, joint, P, S, mk, h, c):\n"
              "    for t in range(T):\n"
              "        joint += P[t]\n"
              "        S[t] *= 0.5\n"
              "        S[t + 1] += 0.5\n"
              "        h -= c * mk[t]\n"
              "        S[t, 0] -= 1.0\n"
              "        h /= 2.0\n")
    body = kernel_module_text(source).split("def _scan_forward")[1]
    assert "joint = _iadd(joint, P[t])" in body and "_imul_at(S, t, 0.5)" in body
    assert "_iadd_at(S, t + 1, 0.5)" in body and "h = _isub(h, _mul(c, mk[t]))" in body
    # a tuple index and / stay numba's, the number cast as numpy casts it (numba_weak.py)
    assert "S[t, 0] -= _weak_like(S, 1.0)" in body and "h /= _weak_like(h, 2.0)" in body


# a kernel of 1-D float rows (the lowering's bias rows, `h_b`) and Python numbers, each helper's
# form: allocating (b * 0.1, 0.3 - g), into (np.multiply), in place (x += …), a row in place (X[t] *= …)
ROW_NUMBERS_KERNEL = '''
def _scan_k(T, B, X, b, g, o):
    u = b * 0.1
    v = 0.3 - g
    np.multiply(g, 0.7, o)
    for t in range(T):
        X[t] *= 0.1
        u += 0.3
    return u, v
'''


def test_a_number_beside_a_float32_row_is_float32_as_numpys(monkeypatch):
    """numpy computes a float32 array and a Python number in float32 (NEP 50); numba's own 1-D
    operations computed them in float64 (u and v came back float64, X and o rounded from float64):
    the helpers cast the number first, so the compiled kernel's results are numpy's bit for bit."""
    from rnnalg.fast import fusion

    monkeypatch.setattr(fusion, "fuse_kernel", lambda fn: fn)  # outside fused runs (they cast already)
    as_numpy = {"np": np}
    exec(ROW_NUMBERS_KERNEL, as_numpy)
    T, n = 3, 257
    rng = np.random.default_rng(3)
    X, b, g = (rng.standard_normal(shape).astype(np.float32) for shape in ((T, n), n, n))
    results = []
    for kernel in (fast.load_kernels(ROW_NUMBERS_KERNEL)["_scan_k"], as_numpy["_scan_k"]):
        X_, o = X.copy(), np.empty(n, np.float32)
        results.append((*kernel(T, 1, X_, b, g, o), X_, o))
    for got, want in zip(*results):
        np.testing.assert_array_equal(got.astype(np.float32), want)  # 0.1, 0.3, 0.7 are not exact in float32
        assert got.dtype == want.dtype == np.float32
