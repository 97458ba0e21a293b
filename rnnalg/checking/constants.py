"""Numbers in elementwise expressions must survive float32, the precision models train in.

    largest  3.4028235e38   (FLOAT32_MAX): a constant, or a product or sum of constants, beyond it is inf
    smallest 1.4e-45        (FLOAT32_TINY, the least subnormal): a nonzero constant below it becomes 0

A literal that Python itself reads as 0 (`1e-400`) or as inf is caught from its source text.
Each problem is located at the literal, or at the operation whose folded result is out of range
(`1e308 * 1e308`).
"""
from __future__ import annotations

import math
import re

import numpy as np

from ..front import syntax
from .widths import FOLD

FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT32_TINY = float(np.finfo(np.float32).smallest_subnormal)
_NONZERO_MANTISSA = re.compile(r"^[+-]?[0-9.]*[1-9]")  # digits before any exponent, one not 0


def _text(e) -> str:
    """The source text of `e` when its span is on one line (else a printed form)."""
    span = getattr(e, "span", None)
    if span is not None and span.line_text and span.end_line == span.line:
        return span.line_text[span.col - 1: span.end_col - 1].strip()
    return repr(getattr(e, "value", e))


def _problem(value: float, text: str, folded: bool) -> str | None:
    if not math.isfinite(value) or abs(value) > FLOAT32_MAX:
        shown = f"{text} = {value:g}" if folded else text
        return (f"the constant {shown} is outside float32's range (largest {FLOAT32_MAX:.8g}); "
                "models run in float32")
    if value != 0 and abs(value) < FLOAT32_TINY:
        shown = f"{text} = {value:g}" if folded else text
        return f"the constant {shown} is below float32's smallest number ({FLOAT32_TINY:.2g}) and would become 0"
    if value == 0 and not folded and _NONZERO_MANTISSA.match(text.lstrip("(-")):
        return f"the constant {text} is too small to be represented and would silently become 0"
    return None


def _as_float(value) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer literal of hundreds of digits
        return math.inf if value > 0 else -math.inf


def constant_problems(e) -> list[tuple[str, object]]:
    """(message, span) for each out-of-range literal or folded result in the constant expression `e`;
    [] when all are in range.  The folded value of a range error is not folded further."""
    problems = []

    def fold(node):
        if isinstance(node, syntax.Const):
            value = _as_float(node.value)
            problem = _problem(value, _text(node), folded=False)
        elif isinstance(node, syntax.Neg):
            value = fold(node.expr)
            return None if value is None else -value
        elif isinstance(node, syntax.BinOp) and node.op in FOLD:
            left, right = fold(node.left), fold(node.right)
            if left is None or right is None:
                return None
            value = FOLD[node.op](left, right)
            problem = _problem(value, _text(node), folded=True)
        else:
            return None
        if problem:
            problems.append((problem, node.span))
            return None
        return value

    fold(e)
    return problems
