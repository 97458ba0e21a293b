"""Fused runs that read a 1-D row (a bias `h_b` in `a += h_b`, numpy broadcasting it over the
batch): the row is read for every batch row and the run stays fused (fusion.py, numba_fused.py).
The fused loops run (their fallback made to raise: test_fast_fusion's `strict`) and give the
unfused statements' results bit for bit, numpy's to rounding; the examples whose step adds a
bias row (dots, srnn2, dt_lstm) equal the numpy backend, float64 to 1e-12."""
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnalg import fast
from rnnalg.fast import fusion

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_fast_fusion import _numpy_kernel, _runs, assert_example_fast_equals_numpy, strict  # noqa: E402,F401  (strict: a fixture)

# the lowering's form (dots.rnn's step): a 1-D bias row read in a run that writes (B, n) views;
# u, of 1-D rows only, is kept (read after the run) with their rank, (n,), as numpy's would be
# (no number in it: numba's own 1-D `row - 0.5` is float64 where numpy's is float32)
KERNEL = '''
def _scan_k(T, B, A, O, carry, b, g, mk):
    for t in range(T):
        a = A[t]
        a += b
        u = g * b
        x = a * u + carry
        np.tanh(x, O[t])
        carry = O[t]
        if True:
            carry -= A[t]
            carry *= mk[t]
    return carry, u
'''


def _arguments(dtype, T=4, B=3, n=7, seed=1):
    rng = np.random.default_rng(seed)
    return (T, B, rng.standard_normal((T, B, n)).astype(dtype), np.zeros((T, B, n), dtype),
            rng.standard_normal((B, n)).astype(dtype), rng.standard_normal(n).astype(dtype),
            rng.standard_normal(n).astype(dtype), (rng.random((T, B, 1)) < 0.5).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_run_reading_a_bias_row_runs_fused_and_equals_the_unfused_one_bit_for_bit(dtype, strict, monkeypatch):
    assert len(_runs(KERNEL, "_scan_k")) == 2
    fused = fast.load_kernels(KERNEL)["_scan_k"]
    monkeypatch.setattr(fusion, "fuse_kernel", lambda fn: fn)
    unfused = fast.load_kernels(KERNEL)["_scan_k"]
    results = {}
    for name, kernel in (("fused", fused), ("unfused", unfused), ("numpy", _numpy_kernel(KERNEL))):
        args = _arguments(dtype)
        results[name] = (*kernel(*args), args[3], args[2])  # carry, u, O, A (written in place)
    assert results["fused"][1].shape == (7,)  # u: a row, as numpy's
    for got, same, near in zip(results["fused"], results["unfused"], results["numpy"]):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, same)
        np.testing.assert_allclose(got, near, rtol=1e-12 if dtype == np.float64 else 1e-5,
                                   atol=0 if dtype == np.float64 else 1e-6)


def test_a_bias_row_of_another_length_runs_the_statements_as_they_were():
    """b of length 1 (numpy broadcasts it too): the checks send the run to its statements."""
    compiled = fast.load_kernels(KERNEL)["_scan_k"]
    T, B, A, O, carry, b, g, mk = _arguments(np.float64)
    b, g = b[:1].copy(), g[:1].copy()
    expected = _numpy_kernel(KERNEL)(T, B, A.copy(), O.copy(), carry.copy(), b, g, mk)
    got = compiled(T, B, A, O, carry.copy(), b, g, mk)
    for g_, e in zip(got, expected):
        np.testing.assert_allclose(g_, e, rtol=1e-12)


@pytest.mark.parametrize("stem", ["dots", "srnn2", "dt_lstm"])
@pytest.mark.parametrize("dtype,mask", [(np.float64, True), (np.float64, False), (np.float32, True)])
def test_examples_adding_a_bias_row_in_the_step_run_fused_and_equal_numpy(stem, dtype, mask, strict):
    assert_example_fast_equals_numpy(stem, dtype, mask)
