"""`syntax.Spec` -> canonical spec text; `parse(unparse(spec)) == spec`.

    unparse(spec)              -> "let H = 400\\ninput x : binary[88]\\n...\\nh' = tanh(x ⊕ h)\\n"
    unparse(spec, ascii=True)  -> the same with `<+>` for ⊕ and `|>` for ▷

Canonical form: one item per line in source order; `real[N]` is written bare `N`;
an operand is parenthesised only where the grammar needs it: ▷ binds loosest, then ⊕,
then `+`/`-` (which do not mix with ⊕ unparenthesised), then `*`, then unary minus;
`+`, `-`, `*` associate to the left.  Comments and layout are not kept.
A spec that no text can express (a name that is not an identifier, an empty
Plus or MLP layer list, a non-finite number) raises ValueError.
"""
from __future__ import annotations

import math
import re

from . import syntax as S
from .parser import KEYWORDS
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ROLES = ("input", "output", "state")
KINDS = ("real", "binary", "token")


def unparse(spec: S.Spec, ascii: bool = False) -> str:
    """The canonical text of `spec` (ends with a newline)."""
    plus, predict = ("<+>", "|>") if ascii else ("⊕", "▷")
    writer = _Writer(plus, predict)
    return "".join(writer.item(item) + "\n" for item in spec.items)


def check_ident(name: str, prime_ok: bool = False) -> str:
    """`name` if it is a valid value name (`h'` only when prime_ok), else ValueError."""
    base = name[:-1] if prime_ok and isinstance(name, str) and name.endswith("'") else name
    if not isinstance(base, str) or not _IDENT.fullmatch(base):
        raise ValueError(f"{name!r} is not a name (letters, digits and _, not starting with a digit)")
    if base in KEYWORDS:
        raise ValueError(f"{base!r} is a keyword and cannot be used as a name")
    return name


def number(value) -> str:
    """An int as written, a float by repr (which the grammar reads back exactly)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be written in a spec")
    return repr(value)


def size(value) -> str:
    if isinstance(value, str):
        return check_ident(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"a size is an int or a let name, not {value!r}")
    return str(value)


class _Writer:
    def __init__(self, plus: str, predict: str):
        self.plus, self.predict = plus, predict

    def item(self, item) -> str:
        if isinstance(item, S.Let):
            return f"let {check_ident(item.name)} = {number(item.value)}"
        if isinstance(item, S.Decl):
            if item.role not in ROLES:
                raise ValueError(f"unknown declaration role {item.role!r}")
            tied = "" if item.tied is None else f" tied {check_ident(item.tied)}"
            static = " static" if item.static else ""
            return f"{item.role} {check_ident(item.name)} : {self.type(item.type)}{static}{tied}"
        if isinstance(item, S.Equation):
            width = "" if item.width is None else f" : {size(item.width)}"
            return f"{check_ident(item.target, prime_ok=True)}{width} = {self.expr(item.expr)}"
        raise ValueError(f"not a spec item: {item!r}")

    def type(self, t: S.Type) -> str:
        if t.kind not in KINDS:
            raise ValueError(f"unknown type kind {t.kind!r}")
        return size(t.size) if t.kind == "real" else f"{t.kind}[{size(t.size)}]"

    def expr(self, e) -> str:
        if isinstance(e, S.Name):
            return check_ident(e.id, prime_ok=True)
        if isinstance(e, S.Plus):
            if len(e.operands) < 2:
                raise ValueError("a Plus needs at least two operands")
            return f" {self.plus} ".join(self.operand(x) for x in e.operands)
        if isinstance(e, S.Predict):
            return f"{self.predict} {self.operand(e.expr)}"  # ▷ (a ⊕ b), as the docs write it
        if isinstance(e, S.Call):
            return f"{check_ident(e.fn)}{self.args(e.args)}({self.expr(e.expr)})"
        if isinstance(e, S.BinOp):
            if e.op not in S.ARITH_OPS:
                raise ValueError(f"unknown elementwise operator {e.op!r}")
            level = _LEVEL[e.op]
            left = self.wrap(e.left, lambda x: _level(x) < level)
            right = self.wrap(e.right, lambda x: _level(x) <= level)
            return f"{left} {e.op} {right}"
        if isinstance(e, S.Neg):  # `-(2)`: a bare `-2` would read back as the number -2
            return "-" + self.wrap(e.expr, lambda x: _level(x) < _LEVEL["neg"] or isinstance(x, S.Const))
        if isinstance(e, S.Const):
            return number(e.value)
        if isinstance(e, S.MLP):
            if e.layers is None:
                return f"MLP({self.expr(e.expr)})"
            if not e.layers:
                raise ValueError("MLP[...] needs at least one layer (plain MLP(e) has layers=None)")
            layers = ", ".join(self.layer(layer) for layer in e.layers)
            return f"MLP[{layers}]({self.expr(e.expr)})"
        raise ValueError(f"not an expression: {e!r}")

    def operand(self, e) -> str:
        """An operand of ⊕ or ▷: parenthesised if it is a ⊕, a ▷, or a sum or difference."""
        return self.wrap(e, lambda x: _level(x) <= _LEVEL["+"])

    def wrap(self, e, needs_parens) -> str:
        text = self.expr(e)
        return f"({text})" if needs_parens(e) else text

    def args(self, args) -> str:
        return f"[{', '.join(number(a) for a in args)}]" if args else ""

    def layer(self, layer: S.Layer) -> str:
        width = "" if layer.width is None else f" {size(layer.width)}"
        return f"{check_ident(layer.fn)}{self.args(layer.args)}{width}"


# binding strength, loosest first (a Const binds like an atom: `-2` is one number)
_LEVEL = {"▷": 0, "⊕": 1, "+": 2, "-": 2, "*": 3, "neg": 4}


def _level(e) -> int:
    if isinstance(e, S.Predict):
        return _LEVEL["▷"]
    if isinstance(e, S.Plus):
        return _LEVEL["⊕"]
    if isinstance(e, S.BinOp):
        return _LEVEL.get(e.op, 0)
    if isinstance(e, S.Neg):
        return _LEVEL["neg"]
    return 5
