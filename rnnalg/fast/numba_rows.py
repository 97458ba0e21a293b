"""Elementwise work of the scan kernels, for numba, row by row over contiguous rows.

numba compiles `a * b` or `np.tanh(a, out)` on a 2-D view such as `joint_h[:, 0:600]` (numba's
layout 'A': its strides are unknown when compiling) into a strided loop LLVM does not vectorise:
at B=16, 200 columns, 0.85 µs for a product and 7.9 µs for the float32 tanh, against 0.17 µs and
0.58 µs on contiguous arrays (numpy: 1.3 µs each; one thread, CPU time).  The kernels' views have
contiguous rows, so these helpers check that once per call and run each row as a contiguous
1-D array (`_as_c`).  backend.py rewrites the kernels' calls:

    a * b, a + b, a - b            -> _mul(a, b), _add(a, b), _sub(a, b)
    np.multiply(a, b, out)         -> _mul_into(a, b, out)   (np.add, np.subtract: _add_into, _sub_into)
    np.tanh(a, out)                -> _tanh_into(a, out)
    (the kernels' relu, lower/rules.py: `_relu_into(a, out)`, is here too, row by row)
    x += y, x *= y, x -= y         -> x = _iadd(x, y), …     (x an array: in place, its row loops)
    X[t] += y, …                   -> _iadd_at(X, t, y), …   (X[t] a 2-D view: in place, its row loops)
    X[t] = y                       -> _set_at(X, t, y)        (X[t] a 2-D view: copied by its row loops)

(numba's own in-place operators on 2-D arrays are not vectorised: `joint_h += P[t]` at B=16,
800 columns, and the sigmoid's `S[t] *= 0.5; S[t] += 0.5` took 7.3 µs a step against 1.8 µs
through the row loops.)

2-D float arrays of one shape, or one of them a scalar, take the row loops; strided rows and
broadcasting (a (B, 1) mask) a plain 2-D loop; other operands (other ranks, integers, mixed
dtypes) numba's own operation, a number beside a float array cast to its dtype first as numpy
casts a Python number (`_weak`: a 1-D float32 bias row · 0.1 was computed in float64).  Results
are numpy's: the same operation per element, float32 tanh as in numba_prelude (≤ 6 ulp of
numpy's), float64 libm's tanh.  Operands may be the very output array (in place) but not partly
overlap it, which the emitted kernels never do.

Nothing here is cached on its own (numba would not see a change of numba_prelude.py inlined into
it): the kernels that call these helpers are, whole, in their module's cache (backend.py).
"""
import functools
import operator

import numpy as np
from numba import njit, types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, overload

from .numba_prelude import _tanh, _tanh_scalar
from .numba_retype import retyped

# numpy's semantics for a division by zero (inf/nan, as in the numpy module) instead of Python's
# exception: without it the branch keeps LLVM from vectorising any loop with a division in it
# (the float32 tanh: 8.2 µs instead of 0.58 µs for 16×200)
JIT_OPTIONS = {"error_model": "numpy"}


@intrinsic
def _as_c(typingctx, a):
    """The 1-D array `a` typed contiguous (the caller has checked its stride): no copy."""
    if not isinstance(a, types.Array) or a.ndim != 1:
        return None

    def codegen(context, builder, signature, args):
        return impl_ret_borrowed(context, builder, signature.return_type, args[0])
    return a.copy(layout="C")(a), codegen


@intrinsic
def _as_a(typingctx, a):
    """The array `a` typed layout 'A' (strides read at run time): no copy."""
    if not isinstance(a, types.Array):
        return None

    def codegen(context, builder, signature, args):
        return impl_ret_borrowed(context, builder, signature.return_type, args[0])
    return a.copy(layout="A")(a), codegen


@njit(inline="always")
def _unit_rows(a):
    """Are the rows of the 2-D `a` contiguous?"""
    return a.shape[1] <= 1 or a.strides[1] == a.itemsize


@njit(inline="always")
def _fits(a, out):
    """Can the row loops run `a` into `out`: one shape, contiguous rows?"""
    return a.shape == out.shape and _unit_rows(a) and _unit_rows(out)


@njit(inline="always")
def _same(a, out):
    """Is `out` the very array `a` (an in-place call)?  LLVM cannot vectorise a loop that reads
    one pointer and writes another equal to it, so in place runs as a loop over one array."""
    return a.ctypes.data == out.ctypes.data and a.strides == out.strides


def _broadcast_loop(op, a_matrix, b_matrix):
    """out = op(a, b) for 2-D a, b broadcast to out's shape (numpy's rule: each axis equal or 1),
    any strides: the slow path, a plain loop (quick to compile, unlike numba's ufunc machinery)."""
    def at(x, i, j):
        return x[i if x.shape[0] > 1 else 0, j if x.shape[1] > 1 else 0]

    def fits(x, out):
        return ((x.shape[0] == out.shape[0] or x.shape[0] == 1)
                and (x.shape[1] == out.shape[1] or x.shape[1] == 1))
    at, fits = njit(inline="always")(at), njit(inline="always")(fits)

    def both(a, b, out):
        if not (fits(a, out) and fits(b, out)):
            raise ValueError("operands could not be broadcast together")
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = op(at(a, i, j), at(b, i, j))

    def matrix_a(a, b, out):
        if not fits(a, out):
            raise ValueError("operands could not be broadcast together")
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = op(at(a, i, j), b)

    def matrix_b(a, b, out):
        if not fits(b, out):
            raise ValueError("operands could not be broadcast together")
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = op(a, at(b, i, j))
    return both if a_matrix and b_matrix else matrix_a if a_matrix else matrix_b


def _named(function, tag: str):
    """`function` with `_tag` added to its name.  numba names a compiled function by its
    qualified name and a per-process counter, and a kernel module's on-disk cache (backend.py)
    keeps those names: the closures one factory makes for `*`, `+` and `-` share a qualified name,
    so a cached kernel compiled in another process could link to another operator's loop under
    the same name (seen: a masked zoneout state came out all zeros after a kernel of another
    program had been loaded from the cache).  Every generated function carries its operator."""
    if not function.__qualname__.endswith(f"_{tag}"):
        function.__name__, function.__qualname__ = f"{function.__name__}_{tag}", f"{function.__qualname__}_{tag}"
    return function


def _tagged(typing, tag: str):
    """The overload typing function `typing`, its implementations `_named` with `tag`."""
    @functools.wraps(typing)
    def typed(*args):
        impl = typing(*args)
        return None if impl is None else _named(impl, tag)
    return typed


def _separate(function):
    """`function` compiled on its own: a loop that shares a function with the fallback's ufunc
    call (or with both in-place and out-of-place loops and that call) is not vectorised."""
    return njit(inline="never", **JIT_OPTIONS)(function)


def _is_matrix(a):
    return isinstance(a, types.Array) and a.ndim == 2 and isinstance(a.dtype, types.Float)


def _is_number(a):
    return isinstance(a, (types.Float, types.Integer))


def _weak(a, b):
    """Which of a, b is a number beside a float array ('a', 'b'; else None): numpy casts such a
    Python number to the array's dtype (NEP 50: float32 array · 0.1 is float32), where numba's own
    operation computes a float32 array and a float in float64 (and returns float64)."""
    def float_array(x):
        return isinstance(x, types.Array) and isinstance(x.dtype, types.Float)
    return "b" if _is_number(b) and float_array(a) else "a" if _is_number(a) and float_array(b) else None


def _weak_pair(a, b):
    return a, b


@overload(_weak_pair, jit_options=JIT_OPTIONS)
def _weak_pair_typed(a, b):
    """(a, b), a number beside a float array cast to the array's dtype (`_weak`)."""
    weak = _weak(a, b)
    if weak == "b":
        return lambda a, b: (a, a.dtype.type(b))
    if weak == "a":
        return lambda a, b: (b.dtype.type(a), b)
    return lambda a, b: (a, b)


def _row_loops(op):
    """case -> (row loop, fallback loop) of `op`, compiled once per dtype: the callers pass
    every array retyped as layout 'A' (`_as_a`) and a scalar cast to the arrays' dtype, so that
    a kernel's many call sites share these few compilations."""
    def both(a, b, out):
        in_place = _same(a, out)
        for r in range(out.shape[0]):
            orow, br = _as_c(out[r]), _as_c(b[r])
            if in_place:
                for j in range(out.shape[1]):
                    orow[j] = op(orow[j], br[j])
            else:
                ar = _as_c(a[r])
                for j in range(out.shape[1]):
                    orow[j] = op(ar[j], br[j])

    def scalar_b(a, b, out):
        in_place = _same(a, out)
        for r in range(out.shape[0]):
            orow = _as_c(out[r])
            if in_place:
                for j in range(out.shape[1]):
                    orow[j] = op(orow[j], b)
            else:
                ar = _as_c(a[r])
                for j in range(out.shape[1]):
                    orow[j] = op(ar[j], b)

    def scalar_a(a, b, out):
        for r in range(out.shape[0]):
            orow, br = _as_c(out[r]), _as_c(b[r])
            for j in range(out.shape[1]):
                orow[j] = op(a, br[j])
    tag = op.__name__
    return {case: (_separate(_named(rows, tag)), _separate(_named(_broadcast_loop(op, *case), tag)))
            for case, rows in (((True, True), both), ((True, False), scalar_b), ((False, True), scalar_a))}


def _dispatchers(op):
    """case -> into(a, b, out) of `op` (numba, inlined into each caller): the row loop where the
    operands have out's shape and contiguous rows, else the fallback loop; a scalar operand is cast
    to out's dtype first.  Every helper of `op` (into, allocate, in place) calls these, so each
    compiled helper links the two loops directly, not through another helper."""
    loops = _row_loops(op)
    both_rows, both_fallback = loops[True, True]
    b_rows, b_fallback = loops[True, False]
    a_rows, a_fallback = loops[False, True]

    def both(a, b, out):
        if _fits(a, out) and _fits(b, out):
            both_rows(_as_a(a), _as_a(b), _as_a(out))
        else:
            both_fallback(_as_a(a), _as_a(b), _as_a(out))

    def scalar_b(a, b, out):
        if _fits(a, out):
            b_rows(_as_a(a), out.dtype.type(b), _as_a(out))
        else:
            b_fallback(_as_a(a), out.dtype.type(b), _as_a(out))

    def scalar_a(a, b, out):
        if _fits(b, out):
            a_rows(out.dtype.type(a), _as_a(b), _as_a(out))
        else:
            a_fallback(out.dtype.type(a), _as_a(b), _as_a(out))
    return {(True, True): njit(inline="always")(both), (True, False): njit(inline="always")(scalar_b),
            (False, True): njit(inline="always")(scalar_a)}


def _case(a, b, out):
    """(a is a matrix, b is a matrix): the dispatcher that runs out = op(a, b) for these numba
    types (2-D float arrays of out's dtype, or one of them a number), or None (numba's own ufunc)."""
    if (_is_matrix(out) and (_is_matrix(a) or _is_matrix(b))
            and all(_is_number(v) or (_is_matrix(v) and v.dtype == out.dtype) for v in (a, b))):
        return _is_matrix(a), _is_matrix(b)
    return None


def _binary_overloads(op, ufunc, dispatch):
    """The typing functions of `into(a, b, out)` (out = op(a, b) row by row, for 2-D a and b of
    one shape, or one of them a scalar) and `allocate(a, b)` (the same into a new array); other
    operands get numba's `ufunc(a, b, out)` / `op(a, b)`."""
    def into_typed(a, b, out):
        case = _case(a, b, out)
        if case is None:
            def numbas(a, b, out):
                x, y = _weak_pair(a, b)
                ufunc(x, y, out)
            return numbas
        into = dispatch[case]
        return lambda a, b, out: into(a, b, out)

    def allocate_typed(a, b):
        if not ((_is_matrix(a) or _is_matrix(b)) and (_is_matrix(a) or _is_number(a))
                and (_is_matrix(b) or _is_number(b))) or (_is_matrix(a) and _is_matrix(b) and a.dtype != b.dtype):
            def numbas(a, b):
                x, y = _weak_pair(a, b)
                return op(x, y)
            return numbas
        into = dispatch[_is_matrix(a), _is_matrix(b)]
        if _is_matrix(a) and _is_matrix(b):
            def impl(a, b):  # the broadcast shape (numpy's rule; the loop checks it)
                out = np.empty((max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1])), a.dtype)
                into(a, b, out)
                return out
            return impl
        if _is_matrix(a):
            return lambda a, b: _into_new(into, a, b, a)
        return lambda a, b: _into_new(into, a, b, b)

    return into_typed, allocate_typed


@njit(inline="always")
def _into_new(into, a, b, x):
    out = np.empty(x.shape, x.dtype)
    into(a, b, out)
    return out


# The stubs the overloads below implement; the kernels call them through `retyped` (numba_retype.py:
# every array typed layout 'A', so that each compiles once per dtype, not per layout of its operands)
def _mul_any(a, b):
    return a * b


def _add_any(a, b):
    return a + b


def _sub_any(a, b):
    return a - b


def _mul_into_any(a, b, out):
    np.multiply(a, b, out)


def _add_into_any(a, b, out):
    np.add(a, b, out)


def _sub_into_any(a, b, out):
    np.subtract(a, b, out)


# operator -> (its ufunc, allocating stub, into stub): the rewrite's rule table (backend.py)
RULES = {operator.mul: (np.multiply, _mul_any, _mul_into_any), operator.add: (np.add, _add_any, _add_into_any),
         operator.sub: (np.subtract, _sub_any, _sub_into_any)}
_ALLOCATE_INTO = {op: into for op, (_, _, into) in RULES.items()}
_DISPATCH = {op: _dispatchers(op) for op in RULES}
for _op, (_ufunc, _allocate, _into) in RULES.items():
    _into_typed, _allocate_typed = _binary_overloads(_op, _ufunc, _DISPATCH[_op])
    overload(_into, jit_options=JIT_OPTIONS)(_tagged(_into_typed, _op.__name__))
    overload(_allocate, jit_options=JIT_OPTIONS)(_tagged(_allocate_typed, _op.__name__))
_mul, _add, _sub = retyped(_mul_any), retyped(_add_any), retyped(_sub_any)
_mul_into, _add_into, _sub_into = retyped(_mul_into_any), retyped(_add_into_any), retyped(_sub_into_any)


def _iadd_any(x, y):
    x += y
    return x


def _imul_any(x, y):
    x *= y
    return x


def _isub_any(x, y):
    x -= y
    return x


def _iadd_at_any(x, i, y):
    x[i] += y


def _imul_at_any(x, i, y):
    x[i] *= y


def _isub_at_any(x, i, y):
    x[i] -= y


def _in_place_overloads(op, into, dispatch):
    """The typing functions of `in_place(x, y)` (x op= y: an array in place through `dispatch`
    or, for other operands, the into stub `into`, its value dropped — `retyped(…, in_place=True)`
    makes x the call's value —, a number as op(x, y)) and `in_place_at(x, i, y)` (x[i] op= y: a
    2-D view x[i] of an array x in place likewise, anything else as x[i] = op(x[i], y))."""
    def in_place_typed(x, y):
        if isinstance(x, types.Array):
            case = _case(x, y, x)
            run = into if case is None else dispatch[case]
            return lambda x, y: run(x, y, x)
        return lambda x, y: op(x, y)

    def in_place_at_typed(x, i, y):
        if isinstance(x, types.Array) and x.ndim == 3 and isinstance(i, types.Integer):
            row = x.copy(ndim=2, layout="A")
            case = _case(row, y, row)
            run = into if case is None else dispatch[case]

            def view(x, i, y):
                row = x[i]
                run(row, y, row)
            return view

        if _weak(x, y) == "b":  # x[i] a row of a float array (or one of its numbers), y a number
            def weak_element(x, i, y):
                x[i] = op(x[i], x.dtype.type(y))
            return weak_element

        def element(x, i, y):
            x[i] = op(x[i], y)
        return element
    return in_place_typed, in_place_at_typed


# operator -> (x op= y stub, x[i] op= y stub), rewritten by backend.py from AugAssign
IN_PLACE = {operator.add: (_iadd_any, _iadd_at_any), operator.mul: (_imul_any, _imul_at_any),
            operator.sub: (_isub_any, _isub_at_any)}
for _op, (_in_place, _in_place_at) in IN_PLACE.items():
    _typed, _typed_at = _in_place_overloads(_op, _ALLOCATE_INTO[_op], _DISPATCH[_op])
    overload(_in_place, jit_options=JIT_OPTIONS)(_tagged(_typed, _op.__name__))
    overload(_in_place_at, jit_options=JIT_OPTIONS)(_tagged(_typed_at, _op.__name__))
_iadd, _imul, _isub = (retyped(stub, in_place=True) for stub in (_iadd_any, _imul_any, _isub_any))
_iadd_at, _imul_at, _isub_at = (retyped(stub) for stub in (_iadd_at_any, _imul_at_any, _isub_at_any))


def _tanh_into_any(a, out):
    np.tanh(a, out)


@overload(_tanh_into_any, jit_options=JIT_OPTIONS)
def _tanh_into_typed(a, out):
    if not (_is_matrix(a) and _is_matrix(out) and a.dtype == out.dtype):
        return lambda a, out: _tanh(a, out)
    def impl(a, out):
        if _fits(a, out):
            _tanh_rows(_as_a(a), _as_a(out))
        else:
            _tanh_separate(_as_a(a), _as_a(out))
    return impl


@njit(inline="never", **JIT_OPTIONS)
def _tanh_separate(a, out):
    """The slow path: any strides, a broadcast to out's shape."""
    if not ((a.shape[0] == out.shape[0] or a.shape[0] == 1) and (a.shape[1] == out.shape[1] or a.shape[1] == 1)):
        raise ValueError("operands could not be broadcast together")
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = _tanh_scalar(a[i if a.shape[0] > 1 else 0, j if a.shape[1] > 1 else 0])


@njit(inline="never", **JIT_OPTIONS)
def _tanh_rows(a, out):
    in_place = _same(a, out)
    for r in range(out.shape[0]):
        orow = _as_c(out[r])
        if in_place:
            for j in range(out.shape[1]):
                orow[j] = _tanh_scalar(orow[j])
        else:
            ar = _as_c(a[r])
            for j in range(out.shape[1]):
                orow[j] = _tanh_scalar(ar[j])


_tanh_into = retyped(_tanh_into_any)


def _relu_into_any(a, out):
    np.maximum(a, 0, out)


@njit(inline="always")
def _relu(v, zero):
    """max(v, 0) as numpy's np.maximum(v, 0): −0 -> +0 (numba's own np.maximum kept −0), NaN kept
    (a NaN is not <= 0); `zero` is 0 of v's dtype."""
    return zero if v <= zero else v


# out = _relu(a, 0), the number 0 cast to out's dtype: the binary operators' loops (a matrix and a
# scalar: the row loop where a fits out, else the broadcast loop)
_RELU_ROWS = _dispatchers(_relu)[True, False]


@overload(_relu_into_any, jit_options=JIT_OPTIONS)
def _relu_into_typed(a, out):
    """out = max(a, 0) as numpy's np.maximum(a, 0) bit for bit (`_relu`), row by row.  Against
    numba's np.maximum(a, 0, out) on gate views (one thread, CPU time, loaded): B = 2…128 float32
    3–4.5× faster (B=32, 400 columns: 4.9 -> 1.1 µs), float64 1.7–2.7×; B = 1 ~0.03 µs slower a
    call (its fixed cost; numba's ufunc has a fast single-row path).  Other operands: numba's
    np.maximum."""
    if not (_is_matrix(a) and _is_matrix(out) and a.dtype == out.dtype):
        return lambda a, out: np.maximum(a, 0, out)
    return lambda a, out: _RELU_ROWS(a, 0, out)


_relu_into = retyped(_relu_into_any)


def _set_at_any(x, i, y):
    x[i] = y


@overload(_set_at_any, jit_options=JIT_OPTIONS)
def _set_at_typed(x, i, y):
    """X[i] = y for a 2-D view X[i] of a 3-D float array and a 2-D y of its dtype: row by row, no
    code for numba's message on mismatched shapes (which compiles ~3 CPU s of string formatting
    into every kernel with such a line); anything else numba's own assignment."""
    if not (isinstance(x, types.Array) and x.ndim == 3 and _is_matrix(x.copy(ndim=2))
            and isinstance(i, types.Integer) and _is_matrix(y) and y.dtype == x.dtype):
        def assign(x, i, y):
            x[i] = y
        return assign

    def impl(x, i, y):
        row = x[i]
        if _fits(y, row):
            _copy_rows(_as_a(y), _as_a(row))
        else:
            _copy_separate(_as_a(y), _as_a(row))
    return impl


@njit(inline="never", **JIT_OPTIONS)
def _copy_rows(a, out):
    for r in range(out.shape[0]):
        orow, ar = _as_c(out[r]), _as_c(a[r])
        for j in range(out.shape[1]):
            orow[j] = ar[j]


@njit(inline="never", **JIT_OPTIONS)
def _copy_separate(a, out):
    """The slow path: any strides, a broadcast to out's shape (numpy's rule)."""
    if not ((a.shape[0] == out.shape[0] or a.shape[0] == 1) and (a.shape[1] == out.shape[1] or a.shape[1] == 1)):
        raise ValueError("could not broadcast the input array into the row")
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = a[i if a.shape[0] > 1 else 0, j if a.shape[1] > 1 else 0]


_set_at = retyped(_set_at_any)
