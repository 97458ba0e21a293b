"""The checks and row reads of a fused run (fusion.py), for numba: each check compiled once per
type signature and called once a step (not inlined into the kernel: numba's own inlining of ~100
call sites made the LSTM's backward kernel take 80 s instead of 9 s to compile).

A run's arrays are 2-D (B, n) views, or 1-D (n,) rows read for every row of the loop (a bias
`h_b` in `a += h_b`, as numpy broadcasts it).  numba types both branches of the run's `if`
whatever the checks say, so everything here takes either rank and is resolved by type (`v.ndim`
is a constant numba prunes branches on; `_row` an intrinsic):

    _full(v, ref)           v is ref's shape (same rank) with contiguous rows
    _full_or_row(v, ref)    _full, or v is 1-D, one contiguous row of ref's length
    _column(c, ref)         c is a (B, 1) column of ref's rows
    _apart(w, v)            no element of w is one of v (byte ranges, or column blocks of one
                            array's rows)
    _apart_or_same(w, v)    _apart, or v is the very view w (each element read before it is written)
    _same(w, v)             v is the very view w
    _unshared(v, same)      v, or a copy of it where `same` (v is the very view the run writes)
    _widest(a, b)           a, or b if it has more dimensions
    _nrows(a)               rows of the loop over a: B, or 1 for a 1-D a
    _kept(ref, like)        a new array of the loop's shape, or of its row where `like` is 1-D
    _row(v, r)              row r of the 2-D v, or the 1-D v itself, typed contiguous: no copy

The fused loop itself reads rows as `_row(v, r)` and elements as `row[j]`.  A view it reads that is
the very view it writes (`_apart_or_same`: the lowering's tanh over its own input, `P_h_a = buf_h[1:]`)
is read from a copy made before the loop (`_unshared`): LLVM vectorises a loop only where its run-time
check finds the rows it reads and writes apart, and otherwise runs it element by element (the RNN's
forward kernel, B=64: 12.0 ms against numpy's 7.2 ms, 6.2 ms vectorised).  The copy holds the values
the loop would have read in place (each element is read before it is written), so the results are
the same.  Where no view is the one written, `_unshared` returns the view itself: no allocation, and
the row loop reads every view the same way (a row read from either a view or its copy, chosen row by
row, kept LLVM from vectorising the LSTM's backward loop: 8 ns an element instead of 1).

`_row` passes each row's address through an empty inline assembly.  Otherwise LLVM (≥ 17) hoists
the loop's run-time overlap check out of the row loop, over the rows of all B rows at once: there
the four gate blocks the LSTM's backward loop writes, columns 0:200 … 600:800 of the rows of one
array, overlap (row 0's 200:400 lies inside the span of the 0:200 blocks), the check fails, and every
row runs the scalar loop (3.4 ns an element against 0.9 vectorised, 16 rows of 200, one thread).
A fused loop runs only where every check holds; otherwise the run's statements run as they were.
"""
import operator

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic

from .numba_rows import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _nrows(a):
    if a.ndim == 1:
        return 1
    return a.shape[0]


@njit(**JIT_OPTIONS)
def _unit_stride(v):
    return (v.shape[-1] <= 1) | (v.strides[-1] == v.itemsize)


@njit(**JIT_OPTIONS)
def _full(v, ref):
    if v.ndim != ref.ndim:
        return False
    return (v.shape == ref.shape) & _unit_stride(v)


@njit(**JIT_OPTIONS)
def _full_or_row(v, ref):
    if v.ndim == 1 and ref.ndim == 2:
        return (v.shape[0] == ref.shape[-1]) & _unit_stride(v)
    return _full(v, ref)


@njit(**JIT_OPTIONS)
def _column(c, ref):
    if c.ndim != 2:
        return False
    return (c.shape[0] == _nrows(ref)) & (c.shape[1] == 1)


@njit(**JIT_OPTIONS)
def _widest(a, b):
    if a.ndim >= b.ndim:
        return a
    return b


@njit(**JIT_OPTIONS)
def _kept(ref, like):
    """A new array for a value the run keeps: the loop's (rows, columns) of ref, or its columns
    alone where `like` (the widest array the value is computed from) is 1-D: numpy's rank."""
    if like.ndim == 1:
        return np.empty(ref.shape[-1], ref.dtype)
    return np.empty((_nrows(ref), ref.shape[-1]), ref.dtype)


@njit(**JIT_OPTIONS)
def _end(a):
    """One past the last byte of a (non-negative strides)."""
    end = a.ctypes.data + (a.shape[-1] - 1) * a.strides[-1] + a.itemsize
    if a.ndim == 2:
        end += (a.shape[0] - 1) * a.strides[0]
    return end


@njit(**JIT_OPTIONS)
def _apart(w, v):
    # byte ranges [first, last + 1) apart, or, for two column blocks of one array's rows
    # (one row stride, contiguous rows: G_i_a[t], G_f_a[t]), apart within every row
    w0, v0 = w.ctypes.data, v.ctypes.data
    w1, v1 = _end(w), _end(v)
    positive = (w.strides[0] >= 0) & (w.strides[-1] >= 0) & (v.strides[0] >= 0) & (v.strides[-1] >= 0)
    step = w.strides[0]
    rows = ((w.ndim == 2) & (v.ndim == 2) & (step > 0) & (v.strides[0] == step)
            & (w.strides[-1] == w.itemsize) & (v.strides[-1] == v.itemsize))
    shift = (v0 - w0) % max(step, 1)
    in_rows = rows & (w.shape[-1] * w.itemsize <= shift) & (shift + v.shape[-1] * v.itemsize <= step)
    return (w.size == 0) | (v.size == 0) | (positive & (((w1 <= v0) | (v1 <= w0)) | in_rows))


@njit(**JIT_OPTIONS)
def _same(w, v):
    return ((w.ndim == v.ndim) & (w.ctypes.data == v.ctypes.data) & (w.shape[0] == v.shape[0])
            & (w.shape[-1] == v.shape[-1]) & (w.strides[0] == v.strides[0]) & (w.strides[-1] == v.strides[-1]))


@njit(**JIT_OPTIONS)
def _apart_or_same(w, v):
    return _same(w, v) | _apart(w, v)


@njit(**JIT_OPTIONS)
def _unshared(v, same):
    """v, or a copy of it where it is the very view the run writes (`same`): read before the loop."""
    if same:
        return v.copy()
    return v


@intrinsic
def _row(typingctx, v, r):
    """Row r of the 2-D array v (its getitem), or the 1-D v itself, typed contiguous (the checks
    have seen its stride): no copy."""
    if not (isinstance(v, types.Array) and v.ndim in (1, 2) and isinstance(r, types.Integer)):
        return None
    if v.ndim == 1:
        def same(context, builder, signature, args):
            return impl_ret_borrowed(context, builder, signature.return_type, args[0])
        return v.copy(layout="C")(v, r), same
    getitem = typingctx.resolve_function_type(operator.getitem, (v, r), {})

    def row(context, builder, signature, args):  # a new reference, as getitem returns it
        value = context.get_function(operator.getitem, getitem)(builder, args)
        array = context.make_array(signature.return_type)(context, builder, value)
        array.data = _opaque(builder, array.data)
        return array._getvalue()
    return v.copy(ndim=1, layout="C")(v, r), row


def _opaque(builder, pointer):
    """`pointer` through an empty inline assembly: the same address, which LLVM can no longer
    write as base + r·stride of the row loop (the module docstring says why)."""
    return builder.asm(ir.FunctionType(pointer.type, [pointer.type]), "", "=r,0", [pointer], False)
