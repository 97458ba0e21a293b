"""The surface syntax of a spec: what the parser and the Python API both build.

Records are frozen; `span` rides along for error messages but is not part of
equality, so a parsed spec equals its Python spelling.  A size is either an `int`
or the `str` name of a `let`.

    spec  := item*
    item  := Let(name, value) | Decl(role, name, Type) | Equation(target, width, expr)
    expr  := Name | Plus(operands) | Predict(expr) | Call(fn, args, expr) | MLP(layers, expr)
           | BinOp(op, left, right) | Neg(expr) | Const(value)      op in '*', '+', '-'

Values support Python's `*`, `+`, `-` (and `1 - z`, `-z`): the Python API spells the
elementwise operators as Python's own (`Elementwise` below).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from ..errors import Span

Size = Union[int, str]  # a literal width or the name of a `let`
Number = Union[int, float]


def _span():
    return field(default=None, compare=False, repr=False)


def operand(value):
    """A Python value as an expression: a number is a Const, a Decl or an Equation its name."""
    if isinstance(value, bool):
        raise TypeError(f"not a value of the algebra: {value!r}")
    if isinstance(value, (int, float)):
        return Const(value)
    if isinstance(value, Decl):
        return Name(value.name)
    if isinstance(value, Equation):
        return Name(value.target)
    if isinstance(value, EXPRESSIONS):
        return value
    if isinstance(value, str):  # "h" * 2 would be Python's string repetition: never guess
        raise TypeError(f"write name({value!r}) for a name beside * + -, not the string {value!r}")
    raise TypeError(f"not a value of the algebra: {value!r}")


class Elementwise:
    """Python's `*`, `+`, `-` and unary `-` build the elementwise operators of the algebra."""

    __slots__ = ()

    def __mul__(self, other):
        return BinOp("*", operand(self), operand(other))

    def __rmul__(self, other):
        return BinOp("*", operand(other), operand(self))

    def __add__(self, other):
        return BinOp("+", operand(self), operand(other))

    def __radd__(self, other):
        return BinOp("+", operand(other), operand(self))

    def __sub__(self, other):
        return BinOp("-", operand(self), operand(other))

    def __rsub__(self, other):
        return BinOp("-", operand(other), operand(self))

    def __neg__(self):
        return negate(operand(self))


def negate(e):
    """`-e`; the sign of a number is part of the number (`-2` is Const(-2), as parsed)."""
    return Const(-e.value) if isinstance(e, Const) else Neg(e)


@dataclass(frozen=True)
class Name(Elementwise):
    """A value: an input, a state (`h` = previous step), `h'` (this step) or a bound name."""

    id: str
    span: Span | None = _span()


@dataclass(frozen=True)
class Plus(Elementwise):
    """`a ⊕ b ⊕ …`: the learned affine summary W_a a + W_b b + … + bias."""

    operands: tuple
    span: Span | None = _span()


@dataclass(frozen=True)
class Predict(Elementwise):
    """`▷ e`: affine summary of e's operands to the output's width, then its link."""

    expr: object
    span: Span | None = _span()


@dataclass(frozen=True)
class Call(Elementwise):
    """`fn[args](expr)`, e.g. `tanh(e)`, `maxout[2](e)`, `lp[2, 3](e)`, `dropout[0.5](e)`."""

    fn: str
    args: tuple
    expr: object
    span: Span | None = _span()


@dataclass(frozen=True)
class BinOp(Elementwise):
    """`left op right`, op in '*', '+', '-': elementwise on two values of equal width (no weights)."""

    op: str
    left: object
    right: object
    span: Span | None = _span()


@dataclass(frozen=True)
class Neg(Elementwise):
    """`-e`: elementwise negation (of a value; `-2` is the number Const(-2))."""

    expr: object
    span: Span | None = _span()


@dataclass(frozen=True)
class Const(Elementwise):
    """A number in an expression (`1` in `1 - z`); it takes the width of the value it meets."""

    value: Number
    span: Span | None = _span()


@dataclass(frozen=True)
class Layer:
    """One MLP layer `fn[args] width`; `width` None = taken from the context."""

    fn: str
    args: tuple = ()
    width: Size | None = None
    span: Span | None = _span()


@dataclass(frozen=True)
class MLP(Elementwise):
    """`MLP[layers](expr)`; `layers` None is plain `MLP(e)` = `MLP[tanh W, tanh](e)`."""

    layers: tuple | None
    expr: object
    span: Span | None = _span()


@dataclass(frozen=True)
class Type:
    """`real[N]`, `binary[N]` or `token[V]`; a bare `N` is `real[N]`."""

    kind: str
    size: Size
    span: Span | None = _span()


@dataclass(frozen=True)
class Let:
    """`let H = 400`; `value` is kept as written (the checker rejects non-positive ints)."""

    name: str
    value: Number
    span: Span | None = _span()


@dataclass(frozen=True)
class Decl(Elementwise):
    """`input x : binary[88]`, `output y : …`, `state h : H`; role in input/output/state."""

    role: str
    name: str
    type: Type
    span: Span | None = _span()
    tied: str | None = None  # `output y : token[V] tied x`: the input whose embedding y's weights are
    static: bool = False  # `input key : real[24] static`: one value per sequence (a conditioning input)


@dataclass(frozen=True)
class Equation(Elementwise):
    """`target [: width] = expr`; a state update has target `h'`."""

    target: str
    width: Size | None
    expr: object
    span: Span | None = _span()
    width_span: Span | None = _span()  # where `width` is written


@dataclass(frozen=True)
class Spec:
    """A whole spec file: its items in source order."""

    items: tuple
    file: str = field(default="<spec>", compare=False)
    text: str = field(default="", compare=False, repr=False)

    @property
    def lets(self):
        return tuple(i for i in self.items if isinstance(i, Let))

    @property
    def decls(self):
        return tuple(i for i in self.items if isinstance(i, Decl))

    @property
    def equations(self):
        return tuple(i for i in self.items if isinstance(i, Equation))


EXPRESSIONS = (Name, Plus, Predict, Call, MLP, BinOp, Neg, Const)
ARITH_OPS = ("*", "+", "-")
