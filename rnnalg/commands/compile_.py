"""`rnnalg compile spec.rnn [--format text|dot] [-o model.py | graph.dot]`.

Prints the operator graph (widths, phases, parameters and their total) or its Graphviz
form to stdout; `-o` also writes a file (atomically), chosen by its suffix (`OUTPUTS`):
the standalone numpy module (.py), the Graphviz graph (.dot, .gv) or the text summary (.txt).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..atomic import write_atomic
from ..errors import UsageError
from ..lower.emit import emit_module
from ..pretty import format_program, to_dot
from .common import load_program

FORMATS = {"text": format_program, "dot": to_dot}
# -o suffix -> what is written there
OUTPUTS = {".py": emit_module, ".dot": to_dot, ".gv": to_dot, ".txt": format_program}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=sorted(FORMATS), default="text",
                        help="the graph summary (text, default) or a Graphviz digraph (dot)")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="also write PATH: by its suffix the standalone numpy module (forward, loss, "
                             "BPTT; .py), the Graphviz graph (.dot, .gv) or the summary (.txt)")


def run(args: argparse.Namespace) -> int:
    render = _output_for(args.output) if args.output else None  # a bad -o fails before the spec is read
    program = load_program(args)
    if render:
        write_atomically(args.output, render(program))
        print(f"wrote {args.output}", file=sys.stderr)
    sys.stdout.write(FORMATS[args.format](program))
    return 0


def _output_for(path: str):
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUTS:
        raise UsageError(f"-o {path}: the suffix says what to write; use .py (the numpy module), "
                         ".dot or .gv (Graphviz) or .txt (the summary)")
    return OUTPUTS[suffix]


def write_atomically(path: str, text: str) -> None:
    """Write `text` to `path` atomically; an OSError is a UsageError naming the path."""
    target = os.path.abspath(path)
    try:
        write_atomic(os.path.dirname(target), os.path.basename(target), lambda f: f.write(text.encode("utf-8")))
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
