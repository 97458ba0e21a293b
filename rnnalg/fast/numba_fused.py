"""The checks of a fused run (fusion.py), for numba: each compiled once per type signature and
called once a step (not inlined into the kernel: numba's own inlining of ~100 call sites made the
LSTM's backward kernel take 80 s instead of 9 s to compile).

    _full(v, ref)           v is ref's shape with contiguous rows
    _column(c, ref)         c is a (B, 1) column of ref's rows
    _apart(w, v)            no element of w is one of v (byte ranges, or column blocks of one
                            array's rows)
    _apart_or_same(w, v)    _apart, or v is the very view w (each element read before it is written)

The fused loop itself reads rows as `_as_c(v[r])` (numba_rows) and elements as `row[j]`.
A fused loop runs only where every check holds; otherwise the run's statements run as they were.
"""
from numba import njit

from .numba_rows import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _full(v, ref):
    return ((v.shape[0] == ref.shape[0]) & (v.shape[1] == ref.shape[1])
            & ((v.shape[1] <= 1) | (v.strides[1] == v.itemsize)))


@njit(**JIT_OPTIONS)
def _column(c, ref):
    return (c.shape[0] == ref.shape[0]) & (c.shape[1] == 1)


@njit(**JIT_OPTIONS)
def _apart(w, v):
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


@njit(**JIT_OPTIONS)
def _apart_or_same(w, v):
    same = ((w.ctypes.data == v.ctypes.data) & (w.shape[0] == v.shape[0]) & (w.shape[1] == v.shape[1])
            & (w.strides[0] == v.strides[0]) & (w.strides[1] == v.strides[1]))
    return same | _apart(w, v)
