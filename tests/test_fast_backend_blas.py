"""The compiled kernels' products (rnnalg/fast/numba_gemm.py): numpy's own gemm/gemv called from
numba, for every operand layout a kernel can pass, against numpy's @ in float64."""
from pathlib import Path

import numpy as np
import pytest

from rnnalg import fast

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")

# (M, K, N) of out = a (M, K) · b (K, N): the kernels' shapes (B rows, B = 1: gemv) and the edges
CASES = [((16, 20, 80), np.float32), ((1, 5, 3), np.float32), ((16, 20, 80), np.float64),
         ((1, 5, 3), np.float64), ((3, 1, 4), np.float64), ((4, 3, 1), np.float64), ((0, 3, 2), np.float64),
         ((2, 0, 3), np.float64)]


@pytest.fixture(scope="module")
def products():
    from numba import njit

    from rnnalg.fast.numba_gemm import _dot_into, _matmul

    @njit
    def run(a, b, out):
        _dot_into(a, b, out)
        return _matmul(a, b), _matmul(b.T, a.T)
    return run


def layouts(a):
    """a as rows of a wider array (read as is), the transpose of such (read transposed) and every
    other column (copied first); all non-contiguous, so that numba compiles the helpers once."""
    rows, cols = a.shape
    wide = np.zeros((rows, cols + 3), a.dtype)
    wide[:, 1:1 + cols] = a
    tall = np.zeros((cols, rows + 3), a.dtype)
    tall[:, 1:1 + rows] = a.T
    return [wide[:, 1:1 + cols], tall[:, 1:1 + rows].T, np.repeat(a, 2, axis=1)[:, ::2]]


@pytest.mark.parametrize("shape, dtype", CASES, ids=str)
def test_products_match_numpy_for_every_layout(products, shape, dtype):
    m, k, n = shape
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    expected = A.astype(np.float64) @ B.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for a in layouts(A):
        for b in layouts(B):
            out = np.full((m + 1, n + 2), np.nan, dtype)[1:, 1:1 + n]  # a view with its own strides
            into_fortran = np.full((n, m + 1), np.nan, dtype)[:, 1:].T  # not row-major: through a copy
            first, second = products(a, b, out)
            products(a, b, into_fortran)
            for got in (out, first, second.T, into_fortran):
                assert got.dtype == dtype and got.shape == (m, n)
                scale = max(1.0, np.abs(expected).max(initial=0))
                np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)


def test_kernels_call_numpys_blas_where_numpy_has_one():
    from rnnalg.fast import blas, numba_gemm
    found = blas.find()
    if found is None:
        pytest.skip("numpy's BLAS has no ILP64 cblas symbols here: numba's np.dot is used")
    assert "numpy" in Path(found["path"]).parent.name
    assert numba_gemm.GEMM_SYMBOLS == tuple(found[k] for k in ("sgemm", "dgemm", "sgemv", "dgemv"))


def test_kernel_text_calls_the_gemm_helpers():
    from rnnalg.fast.backend import kernel_module_text
    source = ("def _scan_forward(T, B, h, W, out, G):\n"
              "    for t in range(T):\n"
              "        np.dot(h, W, out)\n"
              "        g = G[t] @ W.T + np.dot(h, W)\n")
    text = kernel_module_text(source)
    # W, an argument, is a step weight: packed once, each step's product through numba_packed's helpers
    assert "_step_dot_into(h, W, _packed_W, out)" in text
    assert "_add(_matmul(G[t], W.T), _step_matmul(h, W, _packed_W))" in text
    body = text.split("def _scan_forward")[1]
    assert "np.dot" not in body and "@" not in body
