"""The function table: which functions exist, their static arguments and group factor.

A function maps a vector of `k · n` units to `n` units: `k = 1` for the elementwise
functions (tanh, sigmoid, relu, linear, dropout, layernorm), `k` for `maxout[k]` (max over groups
of k) and `lp[p, k]` (L_p pooling over groups of k, the power mean (mean_group |a|^p)^(1/p)).
Adding a function means one row in `FUNCTIONS` (and one in each lowering table).
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Callable


class ArgumentError(Exception):
    """Bad static arguments; the message is completed with the function's name."""


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):  # only a Spec built in Python can hold one
        raise ArgumentError(f"{name} must be a finite number, got {value!r}")
    return value


def _group(value) -> int:
    k = _number(value, "the group size k")
    if k != int(k) or k < 1:
        raise ArgumentError(f"the group size k must be an integer >= 1, got {value!r}")
    return int(k)


def _no_args(values) -> tuple:
    return ()


def _maxout(values) -> tuple:
    (k,) = values
    return (("k", _group(k)),)


def _lp(values) -> tuple:
    p, k = values
    p = _number(p, "the exponent p")
    if p < 1:
        raise ArgumentError(f"the exponent p must be >= 1, got {p!r}")
    return (("p", float(p)), ("k", _group(k)))


def _dropout(values) -> tuple:
    (rate,) = values
    rate = _number(rate, "the dropout rate")
    if not 0 <= rate < 1:
        raise ArgumentError(f"the dropout rate must be in [0, 1), got {rate!r}")
    return (("rate", float(rate)),)


@dataclass(frozen=True)
class FunctionRule:
    """`arg_names`: the static arguments in order; `attrs(values)` validates them."""

    arg_names: tuple
    attrs: Callable

    def signature(self, fn: str) -> str:
        return f"{fn}[{', '.join(self.arg_names)}]" if self.arg_names else fn


FUNCTIONS = {
    "tanh": FunctionRule((), _no_args),
    "sigmoid": FunctionRule((), _no_args),
    "relu": FunctionRule((), _no_args),
    "linear": FunctionRule((), _no_args),
    "maxout": FunctionRule(("k",), _maxout),
    "lp": FunctionRule(("p", "k"), _lp),
    "dropout": FunctionRule(("rate",), _dropout),
    "layernorm": FunctionRule((), _no_args),  # owns a gain and a bias: PARAM_FUNCTIONS
    "vdropout": FunctionRule(("rate",), _dropout),  # one mask per sequence (variational dropout)
    "zoneout": FunctionRule(("rate",), _dropout),  # only as a whole state update: h' = zoneout[r](…)
}

# functions that own parameters: fn -> (suffix, role) of each, named `<site><suffix>` in order
PARAM_FUNCTIONS = {
    "layernorm": ((".ln.g", "gain"), (".ln.b", "bias")),
}


def unknown_function_message(fn: str) -> str:
    close = difflib.get_close_matches(fn, FUNCTIONS, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown function '{fn}' (known: {', '.join(FUNCTIONS)}){hint}"


def function_attrs(fn: str, args: tuple, size_of: Callable) -> tuple:
    """The validated attrs of `fn[args]`; `size_of(name)` resolves a `let` name used as an arg.

    Raises ArgumentError with a complete message (the caller knows `fn` is in the table).
    """
    rule = FUNCTIONS[fn]
    if len(args) != len(rule.arg_names):
        wanted = (f"{len(rule.arg_names)} argument{'s' if len(rule.arg_names) != 1 else ''} "
                  f"({rule.signature(fn)})" if rule.arg_names else "no arguments")
        raise ArgumentError(f"{fn} takes {wanted}, got {len(args)}")
    values = tuple(size_of(a) if isinstance(a, str) else a for a in args)
    try:
        return rule.attrs(values)
    except ArgumentError as err:
        raise ArgumentError(f"bad argument to {rule.signature(fn)}: {err}") from None


def group_factor(attrs: tuple) -> int:
    """k for maxout/lp (input width = k × output width), 1 otherwise."""
    return dict(attrs).get("k", 1)
