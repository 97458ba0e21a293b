"""The prelude's compiled helpers as the scan kernels call them: through an intrinsic, not the
dispatcher object, so that every kernel can go to numba's disk cache.

numba lowers a kernel's reference to a dispatcher (`_layernorm_grad(...)`) as a load of the
dispatcher's address in this process (numba.experimental.function_type's
`lower_constant_dispatcher`), whatever the call then does.  LLVM's optimisations drop that unused
load; a kernel compiled optnone (backend.OPTIMISE_UP_TO) keeps it, and numba does not cache code
that holds an address of its process ("Cannot cache compiled function … as it uses dynamic
globals"): such a kernel compiled again in every process.  `direct(f)` is an intrinsic that calls
f's compiled code for the call's argument types, as the dispatcher's call would (the same
function, linked the same way), without the address.

    kernel:   y = _sigmoid(a_t)                # the intrinsic: no dispatcher constant
    compiles: numba_prelude._sigmoid(array(float32, 2d, C)), called directly
"""
from numba.extending import intrinsic

from . import numba_prelude


def direct(dispatcher):
    """An intrinsic taking `dispatcher`'s arguments that calls its compiled code (module docstring)."""
    def typer(typingctx, *args):
        function = typingctx.resolve_value_type(dispatcher)
        called = function.get_call_type(typingctx, args, {})
        if called is None:
            return None

        def codegen(context, builder, signature, values):
            return context.get_function(function, called)(builder, values)
        return called, codegen

    arity = dispatcher.py_func.__code__.co_argcount
    helper = _TYPERS[arity](typer)
    helper.__name__ = helper.__qualname__ = dispatcher.py_func.__name__
    return intrinsic(helper)


# numba's intrinsic takes named arguments, not *args: one typer signature per arity
_TYPERS = {1: lambda typer: lambda typingctx, a: typer(typingctx, a),
           2: lambda typer: lambda typingctx, a, b: typer(typingctx, a, b),
           3: lambda typer: lambda typingctx, a, b, c: typer(typingctx, a, b, c),
           4: lambda typer: lambda typingctx, a, b, c, d: typer(typingctx, a, b, c, d)}

# the prelude's njit helpers a kernel may call (its ufunc `_tanh` and overload `_tanh_scalar` lower
# to no address: the kernels take those from numba_prelude itself)
_group_max = direct(numba_prelude._group_max)
_layernorm = direct(numba_prelude._layernorm)
_layernorm_grad = direct(numba_prelude._layernorm_grad)
_lp = direct(numba_prelude._lp)
_lp_grad = direct(numba_prelude._lp_grad)
_maxout_grad = direct(numba_prelude._maxout_grad)
_sigmoid = direct(numba_prelude._sigmoid)
_sigmoid_deriv = direct(numba_prelude._sigmoid_deriv)
_tanh_deriv = direct(numba_prelude._tanh_deriv)
