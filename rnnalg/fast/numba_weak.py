"""Python numbers beside float arrays in the scan kernels, cast as numpy casts them (NEP 50).

numpy takes a Python number beside a float array (or numpy float) in the array's dtype:
`a / 0.3` for a float32 `a` divides by float32(0.3) in float32.  numba's own operations compute
a float32 array and a Python float in float64 (and return float64, or round into a float32
target), and in its fused array expressions an int too: `(1 - a) * a + a` is float64 inside (236
of 1028 float32 elements differed from numpy's).  The row-loop helpers (numba_rows: + − * and
their in-place forms) cast already; backend.py rewrites every other number of a kernel that
meets an array (the operators those helpers lack, and all of them in a long kernel, which calls
no row-loop helper):

    a <op> c, c <op> a          -> _<op>_number(a, c), _number_<op>(c, a)   (NUMBER_OPS)
    x <op>= c, X[i…] <op>= c    -> x <op>= _weak_like(x, c), X[i…] <op>= _weak_like(X, c)
    np.<ufunc>(a, c, …)         -> np.<ufunc>(a, _weak_like(a, c), …)      (a a name or a view)

Other operands (an int or a bool array beside a number, two arrays) are numba's as before.
"""
import operator

from numba import njit, types
from numba.extending import overload
from numba.np.numpy_support import as_dtype

from .numba_rows import JIT_OPTIONS, _is_number, _named


def _weak_like(ref, c):
    """c, a Python number, in the float dtype of `ref` (an array or a number); else c."""
    return c


@overload(_weak_like, inline="always", jit_options=JIT_OPTIONS)
def _weak_like_typed(ref, c):
    dtype = ref.dtype if isinstance(ref, types.Array) else ref
    if _is_number(c) and isinstance(dtype, types.Float):
        cast = as_dtype(dtype).type
        return lambda ref, c: cast(c)
    return lambda ref, c: c


# the operators that take a number beside an array: name -> function (ast op -> name: backend.py)
NUMBER_OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
              "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
              "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
              "eq": operator.eq, "ne": operator.ne}


def _number_ops(op):
    """(a op c, c op a) for a number c cast as numpy casts it beside a (`_weak_like`)."""
    def number_right(a, c):
        return op(a, _weak_like(a, c))

    def number_left(c, a):
        return op(_weak_like(a, c), a)
    return tuple(njit(inline="always", **JIT_OPTIONS)(_named(f, op.__name__)) for f in (number_right, number_left))


# the kernels' names for them: _mul_number(a, 0.3) is a * 0.3, _number_sub(1, a) is 1 - a
HELPERS = {}
for _name, _op in NUMBER_OPS.items():
    HELPERS[f"_{_name}_number"], HELPERS[f"_number_{_name}"] = _number_ops(_op)
globals().update(HELPERS)
