"""Rule tables of the ONNX target: one row per op (or output kind), as in `lower/rules.py`.

A rule appends the nodes of one op application to a `Builder` and returns the name of
its result.  An `OnnxSite` carries what it reads:

    a, b   — the argument names (b: the second argument of mul, add, sub)
    out    — the name the result must have
    width  — the width of `a` (group ops reshape (…, W·k) to (…, W, k))
    lead   — the number of leading axes: 1 for one step (B, W), 2 for all steps (T, B, W)
    attrs  — static arguments (k, p, rate, c)
    params — the initialiser names of the op's own parameters (layernorm: gain, bias)

Opset 17 (ReduceMax / ReduceMean take `axes` as an attribute there).  `dropout` is the
identity: the export is an inference graph, as rnnalg evaluates (no noise); so is `vdropout`,
and `zoneout` is its expectation, h + (1 − rate)(new − h).
`affine` is structural (split between the phases by onnx_.py); its terms are written by
`affine_terms` below.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..lower.prelude import LN_EPS, LP_EPS
from ..lower.rules import RuleTable
from .onnx_graph import Builder

OPSET = 17


@dataclass(frozen=True)
class OnnxSite:
    a: str
    out: str
    lead: int
    width: int = 0
    b: str = ""
    attrs: dict = field(default_factory=dict)
    params: tuple = ()


def _groups(g: Builder, s: OnnxSite) -> str:
    """(…, W·k) -> (…, W, k): unit j pools inputs j·k .. j·k + k − 1 (0 in a shape copies the dim)."""
    k = s.attrs["k"]
    return g.op("Reshape", s.a, g.const([0] * s.lead + [s.width // k, k], np.int64))


def _maxout(g: Builder, s: OnnxSite) -> str:
    return g.op("ReduceMax", _groups(g, s), out=s.out, axes=[-1], keepdims=0)


def _lp(g: Builder, s: OnnxSite) -> str:
    """L_p pooling as rnnalg computes it (prelude._lp): m = max(ε, max_k |a|) (…, W, 1),
    s = (ε/m)^p + mean_k (|a|/m)^p, y = m s^(1/p) − ε: no power of a number above 1."""
    p = float(s.attrs["p"])
    ga = g.op("Abs", _groups(g, s))
    m = g.op("Max", g.op("ReduceMax", ga, axes=[-1], keepdims=1), g.const(LP_EPS))
    mean = g.op("ReduceMean", g.op("Pow", g.op("Div", ga, m), g.const(p)), axes=[-1], keepdims=1)
    inner = g.op("Add", g.op("Pow", g.op("Div", g.const(LP_EPS), m), g.const(p)), mean)
    y = g.op("Sub", g.op("Mul", m, g.op("Pow", inner, g.const(1.0 / p))), g.const(LP_EPS))
    return g.op("Squeeze", y, g.const([-1], np.int64), out=s.out)


def _layernorm(g: Builder, s: OnnxSite) -> str:
    """gain ⊙ (a − μ) / √(σ² + ε) + bias, μ and σ² over the units (the last axis)."""
    d = g.op("Sub", s.a, g.op("ReduceMean", s.a, axes=[-1], keepdims=1))
    var = g.op("ReduceMean", g.op("Mul", d, d), axes=[-1], keepdims=1)
    n = g.op("Div", d, g.op("Sqrt", g.op("Add", var, g.const(LN_EPS))))
    gain, bias = s.params
    return g.op("Add", g.op("Mul", n, gain), bias, out=s.out)


def _zoneout(g: Builder, s: OnnxSite) -> str:
    """zoneout(new a, previous b) at evaluation: b + (1 − rate)(a − b), the expectation."""
    keep_new = g.const(1.0 - float(s.attrs["rate"]))
    return g.op("Add", s.b, g.op("Mul", g.op("Sub", s.a, s.b), keep_new), out=s.out)


def _unary(op_type):
    return lambda g, s: g.op(op_type, s.a, out=s.out)


def _binary(op_type):
    return lambda g, s: g.op(op_type, s.a, s.b, out=s.out)


# out = f(a) or f(a, b), for an array of `lead` leading axes
onnx_rules = RuleTable("onnx_rules", {
    "tanh": _unary("Tanh"),
    "sigmoid": _unary("Sigmoid"),
    "relu": _unary("Relu"),
    "linear": _unary("Identity"),
    "maxout": _maxout,
    "lp": _lp,
    "dropout": _unary("Identity"),  # inference graph: dropout is off, as in rnnalg's evaluation
    "vdropout": _unary("Identity"),
    "zoneout": _zoneout,
    "layernorm": _layernorm,
    "mul": _binary("Mul"),
    "add": _binary("Add"),
    "sub": _binary("Sub"),
    "scale": lambda g, s: g.op("Mul", g.const(float(s.attrs["c"])), s.a, out=s.out),
    "shift": lambda g, s: g.op("Add", s.a, g.const(float(s.attrs["c"])), out=s.out),
})

# the predict link: logits -> what the output means, over the last axis
onnx_link_rules = RuleTable("onnx_link_rules", {
    "binary": lambda g, a, out: g.op("Sigmoid", a, out=out),  # probabilities of the units
    "token": lambda g, a, out: g.op("Softmax", a, out=out, axis=-1),  # probabilities of the tokens
    "real": lambda g, a, out: g.op("Identity", a, out=out),  # the predicted value
})


def affine_terms(g: Builder, pairs) -> list:
    """The products `a @ W` (a dense) and `W[a]` (a token: a row of the embedding) of
    (value name, kind, parameter name) triples: one name each."""
    return [g.op("Gather", w, a, axis=0) if kind == "token" else g.op("MatMul", a, w) for a, kind, w in pairs]


def add_all(g: Builder, terms, out: str) -> str:
    """Σ terms, the last addition (or an Identity) named `out`."""
    total = terms[0]
    for i, term in enumerate(terms[1:], 2):
        total = g.op("Add", total, term, out=out if i == len(terms) else None)
    return total if len(terms) > 1 else g.op("Identity", total, out=out)
