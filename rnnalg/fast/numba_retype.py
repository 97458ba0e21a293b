"""The helpers a scan kernel calls, each compiled once per dtype instead of once per layout of its operands.

numba compiles an overloaded helper once per tuple of argument types, and an array's type includes
its layout: a step's operands are C-contiguous buffers (`S[t]`), gate views (`joint[:, 0:600]`,
layout 'A') and transposed weights (`W.T`, 'F'), so `_add_into` was compiled for 4 layout
combinations, `_dot_into` for 3, each ≈ 0.4 CPU s, and linked into the kernel again.  The helpers
read strides at run time anyway (numba_rows, numba_gemm), so `retyped(stub)` is the helper the
kernels call: an intrinsic that types every array argument layout 'A' (no copy, no code: the
arrays of every layout are one struct in numba) and calls `stub`'s overload with them.

    kernel:   _add_into(S[t], joint[:, 0:600], out)          # C, A, C
    compiles: _add_into_any(A, A, A)                          # once per dtype and operand kinds

`in_place=True` is x op= y (x = helper(x, y)): for an array x the call's value is x itself,
typed as the caller's (its layout does not spread to the kernel's own code), and the stub's
value (none) is dropped; for a number, the stub's value.
"""
import inspect

from numba import types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic


def any_layout(t):
    """numba type `t`, an array typed layout 'A'; anything else as it is."""
    return t.copy(layout="A") if isinstance(t, types.Array) and t.layout != "A" else t


def retyped(stub, in_place=False):
    """An intrinsic taking `stub`'s arguments that calls `stub`'s overload with every array typed
    layout 'A' (module docstring)."""
    def typer(typingctx, *args):
        function = typingctx.resolve_value_type(stub)
        called = function.get_call_type(typingctx, tuple(any_layout(a) for a in args), {})
        if called is None:
            return None
        keep = in_place and isinstance(args[0], types.Array)

        def codegen(context, builder, signature, values):
            value = context.get_function(function, called)(builder, values)
            if keep:
                return impl_ret_borrowed(context, builder, signature.return_type, values[0])
            return value
        return (args[0] if keep else called.return_type)(*args), codegen

    arity = len(inspect.signature(stub).parameters)
    helper = _TYPERS[arity](typer)
    helper.__name__ = helper.__qualname__ = stub.__name__.removesuffix("_any")
    return intrinsic(helper)


# numba's intrinsic takes named arguments, not *args: one typer signature per arity
_TYPERS = {2: lambda typer: lambda typingctx, a, b: typer(typingctx, a, b),
           3: lambda typer: lambda typingctx, a, b, c: typer(typingctx, a, b, c),
           4: lambda typer: lambda typingctx, a, b, c, d: typer(typingctx, a, b, c, d)}
