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


def load_spec(path: str):
    """The parsed spec at `path`; `-` reads standard input (named `<stdin>` in messages)."""
    from ..front.parser import MAX_SPEC_BYTES, load, parse_bytes

    if path == "-":
        return parse_bytes(sys.stdin.buffer.read(MAX_SPEC_BYTES + 1), "<stdin>")
    return load(path)


def load_program(args: argparse.Namespace, default_sizes: dict | None = None) -> Program:
    """Parse and check `args.spec` (`-`: standard input) with the `--set` overrides; print
    warnings to stderr.

    `default_sizes` (e.g. those a checkpoint was trained with) apply to the `let`s the spec
    defines, unless `--set` says otherwise.
    """
    from ..checking import check
    from ..checking.scope import defined_sizes
    from ..pretty import format_warnings

    spec = load_spec(args.spec)
    defined = {item.name for item in spec.lets}
    sizes = {k: v for k, v in (default_sizes or {}).items() if k in defined}
    sets = parse_sets(getattr(args, "set", None))
    for name in sets:
        if name not in defined:
            raise UsageError(f"unknown size '{name}' in --set (the spec defines: {defined_sizes(spec)})")
    sizes.update(sets)
    program = check(spec, sizes)
    if program.warnings:
        print(format_warnings(program.warnings), file=sys.stderr)
    return program
