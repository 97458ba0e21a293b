"""The products of the scan kernels, for numba: `np.dot(a, b, out)` -> `_dot_into(a, b, out)`,
`a @ b` and `np.dot(a, b)` -> `_matmul(a, b)` (the rewrite is in backend.py).

For 2-D float32/float64 operands of one dtype they call numpy's own `cblas_?gemm` (blas.py says
why): out (M, N) = op(a) (M, K) · op(b) (K, N), row-major, each operand read in place when one of
its strides is the item size (a transposed view is op = transpose), else copied first.  Other
operands, and machines without that library, get numba's np.dot / @.
"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from . import blas, cache_lock
from .numba_retype import retyped

cache_lock.install()  # before the cached functions below compile

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # the CBLAS enums
_FOUND = blas.find()
GEMM_SYMBOLS = None if _FOUND is None else tuple(_FOUND[k] for k in ("sgemm", "dgemm", "sgemv", "dgemv"))


def _gemm_function(symbol, real):
    ptr, i64, enum = types.CPointer(real), types.int64, types.intc
    return types.ExternalFunction(symbol, types.void(enum, enum, enum, i64, i64, i64, real, ptr, i64,
                                                     ptr, i64, real, ptr, i64))


def _gemv_function(symbol, real):
    ptr, i64, enum = types.CPointer(real), types.int64, types.intc
    return types.ExternalFunction(symbol, types.void(enum, enum, i64, i64, real, ptr, i64, ptr, i64,
                                                     real, ptr, i64))


# numba dtype -> (gemm, gemv)
_GEMM = {} if _FOUND is None else {
    real: (_gemm_function(_FOUND[kind + "gemm"], real), _gemv_function(_FOUND[kind + "gemv"], real))
    for kind, real in (("s", types.float32), ("d", types.float64))}


@njit(inline="always", cache=True)
def _layout(a):
    """(op, ld) under which BLAS reads the 2-D `a` in place as a row-major matrix, or (0, 0)."""
    rows, cols = a.shape
    s0, s1 = a.strides
    item = a.itemsize
    if (cols == 1 or s1 == item) and s0 > 0 and s0 % item == 0 and (rows == 1 or s0 // item >= cols):
        return NO_TRANS, max(s0 // item if rows > 1 else cols, 1)
    if (rows == 1 or s0 == item) and s1 > 0 and s1 % item == 0 and (cols == 1 or s1 // item >= rows):
        return TRANS, max(s1 // item if cols > 1 else rows, 1)
    return 0, 0


def _dot_into_any(a, b, out):  # the stubs; kernels call them through `retyped` (numba_retype.py)
    np.dot(a, b, out)


def _matmul_any(a, b):
    return a @ b


def _gemm_types(a, b):
    """numpy's gemm for these numba types, or None (then np.dot / @)."""
    if (isinstance(a, types.Array) and isinstance(b, types.Array) and a.ndim == 2 and b.ndim == 2
            and a.dtype == b.dtype and a.dtype in _GEMM):
        return _GEMM[a.dtype]
    return None


@overload(_dot_into_any, inline="never")
def _dot_into_typed(a, b, out):
    gemm_gemv = _gemm_types(a, b)
    if gemm_gemv is None or not isinstance(out, types.Array) or out.dtype != a.dtype or out.ndim != 2:
        return lambda a, b, out: np.dot(a, b, out)
    gemm, gemv = gemm_gemv
    one, zero = a.dtype(1), a.dtype(0)

    def impl(a, b, out):
        rows, inner = a.shape
        cols = b.shape[1]
        if b.shape[0] != inner or out.shape[0] != rows or out.shape[1] != cols:
            raise ValueError("_dot_into: shapes do not match")
        if rows == 0 or cols == 0:
            return
        if inner == 0:
            out[:] = 0
            return
        op_a, lda = _layout(a)
        a_in = np.ascontiguousarray(a) if op_a == 0 else a
        op_a, lda = (NO_TRANS, inner) if op_a == 0 else (op_a, lda)
        op_b, ldb = _layout(b)
        b_in = np.ascontiguousarray(b) if op_b == 0 else b
        op_b, ldb = (NO_TRANS, cols) if op_b == 0 else (op_b, ldb)
        op_c, ldc = _layout(out)
        if rows == 1 and op_c == NO_TRANS:  # a row vector: gemv, out = op(b)ᵀ a (gemm would pack b)
            # b (K, N) row-major is read as bᵀ; a transposed view of (N, K) as itself
            op_v, m_v, n_v = (TRANS, inner, cols) if op_b == NO_TRANS else (NO_TRANS, cols, inner)
            inc_a = 1 if op_a == NO_TRANS else lda
            gemv(ROW_MAJOR, op_v, m_v, n_v, one, b_in.ctypes, ldb, a_in.ctypes, inc_a, zero, out.ctypes, 1)
        elif op_c == NO_TRANS:
            gemm(ROW_MAJOR, op_a, op_b, rows, cols, inner, one, a_in.ctypes, lda, b_in.ctypes, ldb,
                 zero, out.ctypes, ldc)
        else:  # out is not row-major: into a fresh array, then copied
            c = np.empty((rows, cols), out.dtype)
            gemm(ROW_MAJOR, op_a, op_b, rows, cols, inner, one, a_in.ctypes, lda, b_in.ctypes, ldb,
                 zero, c.ctypes, cols)
            for i in range(rows):  # (not out[:] = c: numba's shape-mismatch message compiles 3 s of string code)
                for j in range(cols):
                    out[i, j] = c[i, j]
    return impl


@overload(_matmul_any, inline="never")
def _matmul_typed(a, b):
    if _gemm_types(a, b) is None:
        return lambda a, b: a @ b

    def impl(a, b):
        out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        _dot_into_any(a, b, out)
        return out
    return impl


_dot_into, _matmul = retyped(_dot_into_any), retyped(_matmul_any)
