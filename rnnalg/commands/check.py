"""`rnnalg check spec.rnn [--set H=600] [--canonical]`: parse and type-check; silent on success.

Errors print as `file:line:col: error: …` with a caret (exit 1); warnings go to stderr.
`--canonical` prints the canonical form (rnnalg/algebra/canonical.py): names, equation order
and operand order forgotten, so two specs of the same model print the same text.
"""
from __future__ import annotations

import argparse

from .common import load_program


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--canonical", action="store_true",
                        help="print the canonical form: the same text for specs of the same model")


def run(args: argparse.Namespace) -> int:
    program = load_program(args)
    if getattr(args, "canonical", False):
        from ..algebra.canonical import canonical_text

        print(canonical_text(program))
    return 0
