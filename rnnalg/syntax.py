"""The surface syntax of a spec: what the parser and the Python API both build.

Records are frozen; `span` rides along for error messages but is not part of
equality, so a parsed spec equals its Python spelling.  A size is either an `int`
or the `str` name of a `let`.

    spec  := item*
    item  := Let(name, value) | Decl(role, name, Type) | Equation(target, width, expr)
    expr  := Name | Plus(operands) | Predict(expr) | Call(fn, args, expr) | MLP(layers, expr)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .errors import Span

Size = Union[int, str]  # a literal width or the name of a `let`
Number = Union[int, float]


def _span():
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Name:
    """A value: an input, a state (`h` = previous step), `h'` (this step) or a bound name."""

    id: str
    span: Span | None = _span()


@dataclass(frozen=True)
class Plus:
    """`a ⊕ b ⊕ …`: the learned affine summary W_a a + W_b b + … + bias."""

    operands: tuple
    span: Span | None = _span()


@dataclass(frozen=True)
class Predict:
    """`▷ e`: affine summary of e's operands to the output's width, then its link."""

    expr: object
    span: Span | None = _span()


@dataclass(frozen=True)
class Call:
    """`fn[args](expr)`, e.g. `tanh(e)`, `maxout[2](e)`, `lp[2, 3](e)`, `dropout[0.5](e)`."""

    fn: str
    args: tuple
    expr: object
    span: Span | None = _span()


@dataclass(frozen=True)
class Layer:
    """One MLP layer `fn[args] width`; `width` None = taken from the context."""

    fn: str
    args: tuple = ()
    width: Size | None = None
    span: Span | None = _span()


@dataclass(frozen=True)
class MLP:
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
class Decl:
    """`input x : binary[88]`, `output y : …`, `state h : H`; role in input/output/state."""

    role: str
    name: str
    type: Type
    span: Span | None = _span()


@dataclass(frozen=True)
class Equation:
    """`target [: width] = expr`; a state update has target `h'`."""

    target: str
    width: Size | None
    expr: object
    span: Span | None = _span()


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
