"""Widths through the elementwise operators, before the IR is built.

`a * b`, `a + b`, `a - b` need two values of one width, and a number takes the width of
the value it meets, so a width known on one side, or from the context, fixes the others:
in `c' = f * c + i * g` the state gives `c'` its width H, and with it f, c, i and g.
`infer_widths` finds the width of every unannotated intermediate that can be fixed only
this way (from where it is used, not from what it reads) by a fixpoint over the equations:

    up(e)        the width e has from the names it reads (None: not known yet)
    down(e, w)   e must have width w: pass w through functions (× k for maxout/lp),
                 both sides of an elementwise operator and unary minus, to the names read

The builder still checks every width; a name fixed by two uses with different widths
is a width mismatch there, at the second use.
"""
from __future__ import annotations

import operator

from ..front import syntax
from .functions import ArgumentError, FUNCTIONS, function_attrs, group_factor

FOLD = {"*": operator.mul, "+": operator.add, "-": operator.sub}


def constant_value(e):
    """The number an expression of numbers alone stands for (`1 - 0.5`, `-2`), else None."""
    if isinstance(e, syntax.Const):
        return e.value
    if isinstance(e, syntax.Neg):
        value = constant_value(e.expr)
        return None if value is None else -value
    if isinstance(e, syntax.BinOp) and e.op in FOLD:
        left, right = constant_value(e.left), constant_value(e.right)
        if left is not None and right is not None:
            return FOLD[e.op](left, right)
    return None


def is_elementwise(e) -> bool:
    return isinstance(e, (syntax.BinOp, syntax.Neg, syntax.Const))


def _factor(e: syntax.Call, size_of) -> int | None:
    if e.fn not in FUNCTIONS:
        return None
    try:
        return group_factor(function_attrs(e.fn, e.args, size_of))
    except (ArgumentError, KeyError, TypeError):
        return None


def up(e, width_of, size_of) -> int | None:
    """The width of `e` from the names it reads; `width_of(name)` is a known width or None."""
    if isinstance(e, syntax.Name):
        return width_of(e.id)
    if isinstance(e, syntax.Call) and not isinstance(e.expr, syntax.Plus):
        k, inner = _factor(e, size_of), up(e.expr, width_of, size_of)
        return None if k is None or inner is None or inner % k else inner // k
    if isinstance(e, syntax.Neg):
        return up(e.expr, width_of, size_of)
    if isinstance(e, syntax.BinOp):
        for side in (e.left, e.right):
            if constant_value(side) is None:
                w = up(side, width_of, size_of)
                if w is not None:
                    return w
    if isinstance(e, syntax.MLP) and e.layers:
        last = e.layers[-1].width
        return size_of(last) if last is not None else None
    return None


def infer_widths(bindings, known: dict, free: set, size_of) -> dict:
    """{name: (width, equation it was fixed by)} for the names in `free` fixed by their uses.

    `known` maps names to widths known from declarations and annotations; `free` holds
    the unannotated intermediates.  `bindings` are the checker's equations (`.eq`, `.role`).
    """
    widths = dict(known)
    fixed_by = {}

    def width_of(name):
        return widths.get(name)

    def down(e, want, eq):
        if isinstance(e, syntax.Name):
            if want is not None and e.id in free and e.id not in widths:
                widths[e.id] = want
                fixed_by[e.id] = eq
        elif isinstance(e, syntax.Plus):
            for op in e.operands:
                down(op, None, eq)
        elif isinstance(e, syntax.Predict):
            down(e.expr, None, eq)
        elif isinstance(e, syntax.Call):
            k = _factor(e, size_of)
            inner = None if want is None or k is None or isinstance(e.expr, syntax.Plus) else k * want
            down(e.expr, inner, eq)
        elif isinstance(e, syntax.MLP):
            down(e.expr, None, eq)
        elif isinstance(e, syntax.Neg):
            down(e.expr, want, eq)
        elif isinstance(e, syntax.BinOp):
            w = want if want is not None else up(e, width_of, size_of)
            for side in (e.left, e.right):
                down(side, w, eq)

    for _ in range(len(bindings) + 1):
        before = len(widths)
        for b in bindings:  # bottom-up first: a name takes the width of what it reads
            if b.eq.target in free and b.eq.target not in widths:
                w = up(b.eq.expr, width_of, size_of)
                if w is not None:
                    widths[b.eq.target] = w
        for b in bindings:
            expr = b.eq.expr.expr if isinstance(b.eq.expr, syntax.Predict) else b.eq.expr
            want = None if b.role == "predict" else widths.get(b.eq.target)
            down(expr, want, b.eq)
        if len(widths) == before:
            break
    return {name: (widths[name], eq) for name, eq in fixed_by.items()}
