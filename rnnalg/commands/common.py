"""Shared by the commands that take a spec: `--set` parsing and `load_program` (over
`rnnalg.specfile`, which training runs use too)."""
from __future__ import annotations

import argparse

from ..ir import Program
from ..specfile import load_checked, parse_sets
from ..specfile import read_spec as load_spec

__all__ = ["load_program", "load_spec", "parse_sets"]


def load_program(args: argparse.Namespace, default_sizes: dict | None = None) -> Program:
    """Parse and check `args.spec` (`-`: standard input) with the `--set` overrides; print
    warnings to stderr.

    `default_sizes` (e.g. those a checkpoint was trained with) apply to the `let`s the spec
    defines, unless `--set` says otherwise.
    """
    return load_checked(args.spec, getattr(args, "set", None) or [], default_sizes)
