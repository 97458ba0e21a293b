"""Conditioning inputs: `input key : real[24] static`, one value per sequence.

A static input is read like any other operand; in a batch it is (B, D), or (B,) for a token.
What depends on static inputs alone (`static_values`) is computed once per sequence in the pre
phase and broadcast over the steps.  The checker insists that

* only an input is static;
* some input is not static (the time-varying inputs give the number of steps);
* no output is predicted from static inputs alone (a prediction varies over time).
"""
from __future__ import annotations

from ..phases import static_values
from .diagnostics import Diagnostics


def check_static(spec, eqns, heads: dict, diags: Diagnostics) -> tuple:
    """The names of the static inputs, in declaration order (errors reported into `diags`)."""
    names = []
    for decl in spec.decls:
        if not decl.static:
            continue
        if decl.role != "input":
            diags.error("bad-static", f"only an input can be static (one value per sequence): {decl.role} "
                        f"{decl.name} … static", decl.span)
        else:
            names.append(decl.name)
    inputs = [d for d in spec.decls if d.role == "input"]
    if inputs and all(d.static for d in inputs):
        diags.error("bad-static", "every input is static: declare one that varies over time (it gives "
                    "the number of steps), e.g. input x : binary[88]", inputs[0].span)
    static = static_values(names, eqns)
    for name, head in heads.items():
        if head.logits.name in static:
            diags.error("bad-static", f"output {name} is predicted from static inputs alone: it would be one "
                        f"value per sequence; predict it from something that varies over time", head.span)
    return tuple(names)
