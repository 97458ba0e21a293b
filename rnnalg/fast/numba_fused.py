"""The checks and element access of a fused run (fusion.py), for numba; all inlined.

    _full(v, ref)    v is ref's shape and dtype with contiguous rows (a number: True)
    _column(c, ref)  c is a (B, 1) column of ref's rows and dtype
    _apart(w, v)     no element of w is one of v (byte ranges, or column blocks of one array's rows)
    _apart_or_same(w, v)  _apart, or v is the very view w (each element read before it is written)
    _row(v, r)       row r of v as a contiguous 1-D array (a number: itself)
    _at(x, j)        x[j] (a number: itself)
    _const(ref, c)   the number c in ref's dtype (numpy's weak scalar: `a * 0.5` stays float32)

A fused loop runs only where every check holds; otherwise the run's statements run as they were.
"""
from numba import types
from numba.extending import overload

from .numba_rows import _as_c


def _full(v, ref):
    pass


def _column(c, ref):
    pass


def _apart(w, v):
    pass


def _apart_or_same(w, v):
    pass


def _row(v, r):
    pass


def _at(x, j):
    pass


def _const(ref, c):
    pass


def _is_matrix(a, like=None):
    return (isinstance(a, types.Array) and a.ndim == 2 and isinstance(a.dtype, types.Float)
            and (like is None or a.dtype == like.dtype))


def _is_number(a):
    return isinstance(a, (types.Float, types.Integer))


@overload(_full, inline="always")
def _full_typed(v, ref):
    if _is_number(v):
        return lambda v, ref: True
    if not (_is_matrix(v, ref) and _is_matrix(ref)):
        return lambda v, ref: False
    # no `and`/`or`: short-circuits inlined into a kernel upset numba's SSA pass (warnings)
    return lambda v, ref: ((v.shape[0] == ref.shape[0]) & (v.shape[1] == ref.shape[1])
                           & ((v.shape[1] <= 1) | (v.strides[1] == v.itemsize)))


@overload(_column, inline="always")
def _column_typed(c, ref):
    if not (_is_matrix(c, ref) and _is_matrix(ref)):
        return lambda c, ref: False
    return lambda c, ref: (c.shape[0] == ref.shape[0]) & (c.shape[1] == 1)


@overload(_apart, inline="always")
def _apart_typed(w, v):
    if _is_number(w) or _is_number(v):
        return lambda w, v: True
    if not (_is_matrix(w) and _is_matrix(v)):
        return lambda w, v: False

    def impl(w, v):
        # byte ranges [first, last + 1) apart, or, for two column blocks of one array's rows
        # (one row stride, contiguous rows: G_i_a[t], G_f_a[t]), apart within every row
        w0, v0 = w.ctypes.data, v.ctypes.data
        w1 = w0 + (w.shape[0] - 1) * w.strides[0] + (w.shape[1] - 1) * w.strides[1] + w.itemsize
        v1 = v0 + (v.shape[0] - 1) * v.strides[0] + (v.shape[1] - 1) * v.strides[1] + v.itemsize
        positive = (w.strides[0] >= 0) & (w.strides[1] >= 0) & (v.strides[0] >= 0) & (v.strides[1] >= 0)
        step = w.strides[0]
        rows = (step > 0) & (v.strides[0] == step) & (w.strides[1] == w.itemsize) & (v.strides[1] == v.itemsize)
        shift = (v0 - w0) % max(step, 1)
        in_rows = rows & (w.shape[1] * w.itemsize <= shift) & (shift + v.shape[1] * v.itemsize <= step)
        return (w.size == 0) | (v.size == 0) | (positive & (((w1 <= v0) | (v1 <= w0)) | in_rows))
    return impl


@overload(_apart_or_same, inline="always")
def _apart_or_same_typed(w, v):
    if not (_is_matrix(w) and _is_matrix(v)):
        return lambda w, v: _apart(w, v)
    return lambda w, v: (((w.ctypes.data == v.ctypes.data) & (w.shape[0] == v.shape[0]) & (w.shape[1] == v.shape[1])
                          & (w.strides[0] == v.strides[0]) & (w.strides[1] == v.strides[1])) | _apart(w, v))


@overload(_row, inline="always")
def _row_typed(v, r):
    if _is_number(v):
        return lambda v, r: v
    return lambda v, r: _as_c(v[r])


@overload(_at, inline="always")
def _at_typed(x, j):
    if _is_number(x):
        return lambda x, j: x
    return lambda x, j: x[j]


@overload(_const, inline="always")
def _const_typed(ref, c):
    real = ref.dtype if isinstance(ref, types.Array) else ref
    return lambda ref, c: real(c)
