"""`rnnalg cost spec.rnn [-B 16] [-T 100] [--format text|json] [--measure]`: parameters,
multiply-adds, BPTT memory and sequential depth as formulas in the spec's sizes.

    $ rnnalg cost examples/rnn.rnn
    examples/rnn.rnn   H = 200, B = 16, T = 100
    parameters                               H² + 177·H + 88                     75,488
      h'.a                                   H² + 89·H                           58,200
    ...

Each formula (rnnalg/algebra/cost.py) is evaluated at the spec's sizes (`--set` overrides)
and -B, -T.  `--format json` prints one object: `parameters` (the integer), `formulas` and
`values` (one per figure), `sites`, `depth`, `sizes`.  `--measure` also traces what the
current lowering keeps per step (rnnalg/algebra/kept.py; runs the model twice).
"""
from __future__ import annotations

import argparse
import json
import re

from ..errors import UsageError
from .common import load_program

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("-B", "--batch-size", dest="B", type=int, default=16, help="sequences per batch (default 16)")
    a("-T", "--steps", dest="T", type=int, default=100, help="time steps per sequence (default 100)")
    a("--format", choices=("text", "json"), default="text", help="text (default) or one JSON object")
    a("--measure", action="store_true",
      help="also trace the bytes per step the current lowering keeps (runs the model at T=200 and 600)")


def show(formula) -> str:
    """sympy text for a reader: `4*H**2 + 355*H` -> `4·H² + 355·H`."""
    text = re.sub(r"\*\*(\d+)", lambda m: m.group(1).translate(_SUPERSCRIPT), str(formula))
    return text.replace("*", "·")


def report(c) -> dict:
    """The JSON object of `--format json`."""
    return {
        "spec": c.program.file,
        "sizes": {**dict(c.program.sizes), "B": c.batch, "T": c.steps},
        "parameters": c.parameters,
        "formulas": {f.key: str(f.formula) for f in c.figures},
        "values": c.values,
        "labels": {f.key: f.label for f in c.figures},
        "sites": {name: {"formula": str(f), "value": c.at(f)} for name, f in c.sites.items()},
        "depth": {"ops": c.depth, "products": c.depth_products},
    }


def run(args: argparse.Namespace) -> int:
    from ..algebra.cost import cost  # sympy: imported only by the commands that use it
    from ..algebra.symbolic import NotAffine

    program = load_program(args)
    try:
        c = cost(program, args.B, args.T)
    except NotAffine as err:
        raise UsageError(f"{program.file}: error: no formula: {err}") from None
    measured = None
    if args.measure:
        from ..algebra.kept import traced_bytes_per_step

        measured = traced_bytes_per_step(program, args.B)
    if args.format == "json":
        obj = report(c)
        if measured is not None:
            obj["measured"] = {"kept_bytes_step": measured, "batch": args.B, "dtype": "float32"}
        print(json.dumps(obj, indent=2, ensure_ascii=False))
        return 0
    sizes = ", ".join(f"{k} = {v}" for k, v in [*program.sizes, ("B", args.B), ("T", args.T)])
    print(f"{program.file}   {sizes}")
    values = c.values
    rows = []  # (label, formula, value)
    for f in c.figures:
        rows.append((f.label, show(f.formula), f"{values[f.key]:,}"))
        if f.key == "parameters":
            rows += [(f"  {name}", show(formula), f"{c.at(formula):,}") for name, formula in c.sites.items()]
    rows.append(("sequential depth h -> h′: ops (matrix products)", "", f"{c.depth} ({c.depth_products})"))
    if measured is not None:
        minimum = values["bptt_floats_step"] * 4
        ratio = f"  ({measured / minimum:.1f}× the minimum)" if minimum else ""
        rows.append(("traced: bytes per step the current lowering keeps (float32)", "", f"{measured:,.0f}{ratio}"))
    wide = [max(len(r[i]) for r in rows) for i in range(2)] + [max(len(r[2].split()[0]) for r in rows)]
    for label, formula, value in rows:
        number, _, note = value.partition(" ")
        print(f"{label:<{wide[0]}}  {formula:<{wide[1]}}  {number:>{wide[2]}} {note}".rstrip())
    return 0
