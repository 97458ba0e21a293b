"""Spec files to checked programs, for the commands and for training runs (`train.launch`).

    read_spec(path)                        -> syntax.Spec      `-` reads standard input
    parse_sets(["H=600", "E=64"])          -> {"H": 600, "E": 64}
    load_checked(path, sets, defaults)     -> ir.Program       warnings printed to stderr

`defaults` (e.g. the sizes a checkpoint was trained with) apply to the `let`s the spec
defines, `sets` (a dict, or the `--set` strings) override them; a set size the spec does not
define is a UsageError.
"""
from __future__ import annotations

import re
import sys

from .errors import UsageError

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


def read_spec(path: str):
    """The parsed spec at `path`; `-` reads standard input (named `<stdin>` in messages)."""
    from .front.parser import MAX_SPEC_BYTES, load, parse_bytes

    if path == "-":
        return parse_bytes(sys.stdin.buffer.read(MAX_SPEC_BYTES + 1), "<stdin>")
    return load(path)


def load_checked(path: str, sets=None, defaults: dict | None = None):
    """Parse and check the spec at `path` with sizes `defaults` overridden by `sets` ({name:
    size}, or `--set` strings, parsed after the spec is read); print its warnings to stderr.
    -> ir.Program"""
    from .checking import check
    from .checking.scope import defined_sizes
    from .pretty import format_warnings

    spec = read_spec(path)
    defined = {item.name for item in spec.lets}
    sizes = {k: v for k, v in (defaults or {}).items() if k in defined}
    sets = dict(sets) if isinstance(sets, dict) else parse_sets(sets)
    for name in sets:
        if name not in defined:
            raise UsageError(f"unknown size '{name}' in --set (the spec defines: {defined_sizes(spec)})")
    sizes.update(sets)
    program = check(spec, sizes)
    if program.warnings:
        print(format_warnings(program.warnings), file=sys.stderr)
    return program
