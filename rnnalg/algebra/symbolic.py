"""The widths of a checked program as formulas in its `let` sizes (sympy).

The checker works with integers, so a width's formula is recovered from the checker itself:
every width is an affine form  w(s) = c₀ + Σᵢ cᵢ·sᵢ  of the sizes s (a width is a size or a
number, times a group factor k of `maxout[k]`/`lp[p, k]`, or a sum of operand widths), so
checking the spec at the current sizes s⁰ and once more with each size doubled gives every
cᵢ = (w(s⁰ + sᵢ⁰eᵢ) − w(s⁰)) / sᵢ⁰ exactly.  A further check with all sizes tripled confirms
the form; a width that is not affine in the sizes raises NotAffine (never a wrong formula).
"""
from __future__ import annotations

import sympy

from ..ir import Program

B, T = sympy.symbols("B T", positive=True, integer=True)


class NotAffine(Exception):
    """A width that the probes show is not an affine form of the sizes."""


def size_symbols(program: Program) -> dict:
    """{let name: sympy Symbol} in the order of the spec's `let`s."""
    return {name: sympy.Symbol(name, positive=True, integer=True) for name, _ in program.sizes}


def _widths(program: Program) -> dict:
    """name -> width of every input, previous state and equation value (heads' outputs too)."""
    widths = {v.name: v.width for v in program.inputs}
    widths.update({s.prev.name: s.prev.width for s in program.states})
    widths.update({e.out.name: e.out.width for e in program.eqns})
    widths.update({h.output.name: h.output.width for h in program.heads})
    return widths


def _recheck(program: Program, sizes: dict) -> dict:
    from ..checking import check
    from ..front.parser import parse

    return _widths(check(parse(program.text, program.file), sizes))


def width_formulas(program: Program) -> dict:
    """name -> sympy expression of its width in the `let` sizes (see the module docstring)."""
    base = _widths(program)
    symbols = size_symbols(program)
    values = dict(program.sizes)
    if not symbols or not program.text:
        return {name: sympy.Integer(w) for name, w in base.items()}
    slopes = {}
    for name, value in values.items():
        probe = _recheck(program, {**values, name: 2 * value})
        slopes[name] = {v: sympy.Rational(probe[v] - base[v], value) for v in base}
    formulas = {}
    for v, w in base.items():
        linear = sum((slopes[n][v] * symbols[n] for n in values), sympy.Integer(0))
        formulas[v] = sympy.expand(linear + w - linear.subs({symbols[n]: values[n] for n in values}))
    tripled = {n: 3 * value for n, value in values.items()}
    widths3 = _recheck(program, tripled)
    at3 = {symbols[n]: tripled[n] for n in values}
    for v, f in formulas.items():
        if f.subs(at3) != widths3[v]:
            raise NotAffine(f"the width of {v} is not an affine form of the sizes ({f} at 3× gives "
                            f"{f.subs(at3)}, the checker {widths3[v]})")
    return formulas
