"""`rnnalg check spec.rnn [--set H=600]`: parse and type-check; silent on success.

Errors print as `file:line:col: error: …` with a caret (exit 1); warnings go to stderr.
"""
from __future__ import annotations

import argparse

from .common import load_program


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Nothing beyond the spec and `--set` that cli.py adds to every command."""


def run(args: argparse.Namespace) -> int:
    load_program(args)
    return 0
