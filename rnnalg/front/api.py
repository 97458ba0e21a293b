"""The Python spelling of the algebra: it builds the same `syntax.Spec` as the parser.

Python has no ⊕ or ▷, so they are the functions `plus(a, b, …)` and `predict(e)`.
Wherever an expression is expected, a name may be given as a string (`"x"`, `"h'"`),
a declaration (`Decl` -> its name) or an equation (`Equation` -> its target, so the
value returned by `update(h, …)` reads as h').  DOT(S)-RNN, `examples/dots.rnn`:

    import rnnalg
    from rnnalg.api import Builder, binary, plus, predict, tanh

    b = Builder()
    H = b.let("H", 200)                          # let H = 200
    x = b.input("x", binary(88))                 # input  x : binary[88]
    y = b.output("y", binary(88))                # output y : binary[88]
    h = b.state("h", H)                          # state  h : H
    z = b.eq("z", tanh(plus(x, h)), width=H)     # z : H = tanh(x ⊕ h)
    h_t = b.update(h, tanh(plus(z, h)))          # h'    = tanh(z ⊕ h)
    o = b.eq("o", tanh(plus(h_t, x)), width=H)   # o : H = tanh(h' ⊕ x)
    b.eq(y, predict(plus(o, h_t)))               # y     = ▷ (o ⊕ h')
    assert b.spec() == rnnalg.load("examples/dots.rnn")

Gates use Python's own operators on values (a Decl, an Equation, a `name(...)` or any
expression): `f * c + i * g`, `1 - z`, `plus(x, h) + 1`, `-h`; a number is a constant that
takes the width of the value it meets.  LSTM, `examples/lstm.rnn`:

    i = b.eq("i", sigmoid(plus(x, h)))           # i = sigmoid(x ⊕ h)
    f = b.eq("f", sigmoid(plus(x, h) + 1))       # f = sigmoid((x ⊕ h) + 1)
    o = b.eq("o", sigmoid(plus(x, h)))
    g = b.eq("g", tanh(plus(x, h)))
    c_t = b.update(c, f * c + i * g)             # c' = f * c + i * g
    b.update(h, o * tanh(c_t))                   # h' = o * tanh(c')

The same without a builder: `spec(let(...), input(...), …, eq(...))` with the items in
source order.  Functions: `tanh(e)`, `sigmoid(e)`, `relu(e)`, `linear(e)`; with static
arguments either `maxout[2](e)` or `maxout(2, e)`, `lp[2, 3](e)` or `lp(2, 3, e)`,
`dropout[0.5](e)` or `dropout(0.5, e)`; any other function `fn("name")`.  MLPs:
`MLP(e)` and `MLP(e, layers=[("tanh", 400), "tanh"])`, a layer being a function
(str or `maxout[2]`), a `(fn, width)` pair or a `layer(fn, width, args)`.
Misuse (a bad name, an empty Plus, a NaN or infinite argument) raises ValueError or
TypeError.
"""
from __future__ import annotations

import math

from . import syntax as S
from .unparse import check_ident

__all__ = ["Builder", "spec", "let", "input", "output", "state", "eq", "update", "real", "binary",
           "token", "name", "prime", "plus", "predict", "fn", "tanh", "sigmoid", "relu", "linear",
           "maxout", "lp", "dropout", "layernorm", "vdropout", "zoneout", "MLP", "layer"]

# ---------------------------------------------------------------- names, sizes, numbers


def name(value) -> S.Name:
    """A value as an expression: `"x"`, `"h'"`, a Decl, an Equation (its target) or a Name."""
    if isinstance(value, S.Name):
        return value
    if isinstance(value, S.Decl):
        return S.Name(value.name)
    if isinstance(value, S.Equation):
        return S.Name(value.target)
    if isinstance(value, str):
        return S.Name(check_ident(value, prime_ok=True))
    raise TypeError(f"expected a name, declaration or equation, not {value!r}")


def prime(state) -> S.Name:
    """`h'`, the next value of state `h` (a str, Decl or Name)."""
    base = state.name if isinstance(state, S.Decl) else state.id if isinstance(state, S.Name) else state
    return S.Name(check_ident(f"{base}'", prime_ok=True))


def _expr(value):
    if isinstance(value, S.EXPRESSIONS):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return S.Const(value)
    return name(value)


def _size(value) -> S.Size:
    if isinstance(value, S.Let):
        return value.name
    if isinstance(value, str):
        return check_ident(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"a size is an int, a let name or a Let, not {value!r}")


def _number(value):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"a number (function argument, let value) is an int or a float, not {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"a number (function argument, let value) must be finite, not {value!r}")
    return value


# ---------------------------------------------------------------- expressions


def plus(*operands) -> S.Plus:
    """`a ⊕ b ⊕ …`: the learned affine summary W_a a + W_b b + … + bias (two or more operands)."""
    if len(operands) < 2:
        raise ValueError("plus() takes two or more operands")
    return S.Plus(tuple(_expr(x) for x in operands))


def predict(expr) -> S.Predict:
    """`▷ e`: affine summary of e's operands to the output's width, then the output's link."""
    return S.Predict(_expr(expr))


class fn:
    """A function of the algebra: `tanh(e)`; with arguments `maxout[2](e)` or `maxout(2, e)`."""

    def __init__(self, fn_name: str, args: tuple = ()):
        self.name, self.args = check_ident(fn_name), tuple(_number(a) for a in args)

    def __getitem__(self, args) -> "fn":
        return fn(self.name, args if isinstance(args, tuple) else (args,))

    def __call__(self, *args_then_expr) -> S.Call:
        if not args_then_expr:
            raise TypeError(f"{self.name}() needs an expression")
        *args, expr = args_then_expr
        if args and self.args:
            raise TypeError(f"{self.name}{list(self.args)} already has its arguments")
        return S.Call(self.name, self.args or tuple(_number(a) for a in args), _expr(expr))

    def __repr__(self) -> str:
        return f"fn({self.name!r}, {self.args!r})"


tanh, sigmoid, relu, linear = fn("tanh"), fn("sigmoid"), fn("relu"), fn("linear")
maxout, lp, dropout = fn("maxout"), fn("lp"), fn("dropout")
layernorm, vdropout, zoneout = fn("layernorm"), fn("vdropout"), fn("zoneout")


def layer(function, width=None, args=()) -> S.Layer:
    """One MLP layer `fn[args] width`; `function` is a str or an `fn` (which may carry args)."""
    if isinstance(function, fn):
        function, args = function.name, function.args or tuple(args)
    return S.Layer(check_ident(function), tuple(_number(a) for a in args),
                   None if width is None else _size(width))


def _layer(spec) -> S.Layer:
    if isinstance(spec, S.Layer):
        return spec
    if isinstance(spec, (str, fn)):
        return layer(spec)
    if isinstance(spec, tuple) and len(spec) == 2:
        return layer(spec[0], spec[1])
    if isinstance(spec, tuple) and len(spec) == 3:
        return layer(spec[0], spec[2], spec[1])
    raise TypeError(f"an MLP layer is a function, (fn, width), (fn, args, width) or layer(...), not {spec!r}")


def MLP(expr, layers=None) -> S.MLP:
    """`MLP(e)` (= MLP[tanh W, tanh](e)) or `MLP[layers](e)` with `layers` a non-empty list."""
    if layers is None:
        return S.MLP(None, _expr(expr))
    layers = tuple(_layer(x) for x in layers)
    if not layers:
        raise ValueError("MLP layers must be a non-empty list (or None for plain MLP(e))")
    return S.MLP(layers, _expr(expr))


# ---------------------------------------------------------------- items


def real(size) -> S.Type:
    return S.Type("real", _size(size))


def binary(size) -> S.Type:
    return S.Type("binary", _size(size))


def token(size) -> S.Type:
    return S.Type("token", _size(size))


def let(let_name: str, value) -> S.Let:
    """`let H = 400`."""
    return S.Let(check_ident(let_name), _number(value))


def _decl(role: str, decl_name: str, type_, tied=None, static=False) -> S.Decl:
    type_ = type_ if isinstance(type_, S.Type) else real(type_)
    tied = tied.name if isinstance(tied, S.Decl) else tied
    return S.Decl(role, check_ident(decl_name), type_, None, None if tied is None else check_ident(tied), static)


def input(decl_name: str, type_, static=False) -> S.Decl:  # noqa: A001 (the language's keyword)
    """`input x : type [static]`; a bare size (int, let name, Let) means real[size]."""
    return _decl("input", decl_name, type_, static=static)


def output(decl_name: str, type_, tied=None) -> S.Decl:
    """`output y : type [tied x]` (x a str or the input's Decl)."""
    return _decl("output", decl_name, type_, tied)


def state(decl_name: str, type_) -> S.Decl:
    """`state h : type`."""
    return _decl("state", decl_name, type_)


def eq(target, expr, width=None) -> S.Equation:
    """`target [: width] = expr`; target is a str, a Decl (an output) or a Name."""
    target = name(target).id
    return S.Equation(target, None if width is None else _size(width), _expr(expr))


def update(state_, expr, width=None) -> S.Equation:
    """`h' = expr`, the update of state `h` (a str, Decl or Name)."""
    return S.Equation(prime(state_).id, None if width is None else _size(width), _expr(expr))


def spec(*items, file: str = "<api>") -> S.Spec:
    """The Spec of `items` (Let, Decl, Equation) in source order."""
    for item in items:
        if not isinstance(item, (S.Let, S.Decl, S.Equation)):
            raise TypeError(f"a spec item is a Let, Decl or Equation, not {item!r}")
    return S.Spec(tuple(items), file=file)


class Builder:
    """Records items in call order; each method returns its item for use in later expressions."""

    def __init__(self, file: str = "<api>"):
        self.items, self.file = [], file

    def _add(self, item):
        self.items.append(item)
        return item

    def let(self, let_name, value):
        return self._add(let(let_name, value))

    def input(self, decl_name, type_, static=False):
        return self._add(input(decl_name, type_, static))

    def output(self, decl_name, type_, tied=None):
        return self._add(output(decl_name, type_, tied))

    def state(self, decl_name, type_):
        return self._add(state(decl_name, type_))

    def eq(self, target, expr, width=None):
        return self._add(eq(target, expr, width))

    def update(self, state_, expr, width=None):
        return self._add(update(state_, expr, width))

    def spec(self) -> S.Spec:
        return spec(*self.items, file=self.file)
