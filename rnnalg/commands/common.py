"""Shared by the commands that take a spec: `--set` parsing and `load_program`."""
from __future__ import annotations

import argparse
import re
import sys

from ..errors import UsageError
from ..ir import Program

_SET = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*")


def parse_sets(items) -> dict:
    """["H=600", "E=64"] -> {"H": 600, "E": 64}; a bad form or a non-integer is a UsageError."""
    sizes = {}
    for item in items or ():
        m = _SET.fullmatch(item)
        if m is None:
            raise UsageError(f"bad --set {item!r}: expected NAME=VALUE, e.g. --set H=600")
        name, value = m.groups()
        try:
            number = int(value)
        except ValueError:
            raise UsageError(f"bad --set {item!r}: VALUE must be an integer") from None
        if number < 1:
            raise UsageError(f"bad --set {item!r}: a size must be a positive integer")
        sizes[name] = number
    return sizes


def load_program(args: argparse.Namespace) -> Program:
    """Parse and check `args.spec` with the `--set` overrides; print warnings to stderr."""
    from ..checker import check
    from ..parser import load
    from ..pretty import format_warnings

    sizes = parse_sets(getattr(args, "set", None))
    program = check(load(args.spec), sizes)
    if program.warnings:
        print(format_warnings(program.warnings), file=sys.stderr)
    return program
