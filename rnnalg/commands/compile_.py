"""`rnnalg compile spec.rnn [--format text|dot] [-o model.py]`.

Prints the operator graph (widths, phases, parameters and their total) or its Graphviz
form to stdout; `-o` also writes the standalone numpy module (atomically).
"""
from __future__ import annotations

import argparse
import os
import sys

from ..atomic import write_atomic
from ..errors import UsageError
from ..pretty import format_program, to_dot
from .common import load_program

FORMATS = {"text": format_program, "dot": to_dot}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=sorted(FORMATS), default="text",
                        help="the graph summary (text, default) or a Graphviz digraph (dot)")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="write the standalone numpy module (forward, loss, BPTT) to PATH")


def run(args: argparse.Namespace) -> int:
    program = load_program(args)
    if args.output:
        write_atomically(args.output, _emit(program))
        print(f"wrote {args.output}", file=sys.stderr)
    sys.stdout.write(FORMATS[args.format](program))
    return 0


def _emit(program) -> str:
    try:
        from ..lower.emit import emit_module
    except ImportError as err:  # the lowering is not part of this build
        raise UsageError(f"cannot write a module: the code generator is unavailable ({err})") from None
    return emit_module(program)


def write_atomically(path: str, text: str) -> None:
    """Write `text` to `path` atomically; an OSError is a UsageError naming the path."""
    target = os.path.abspath(path)
    try:
        write_atomic(os.path.dirname(target), os.path.basename(target), lambda f: f.write(text.encode("utf-8")))
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
