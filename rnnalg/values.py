"""The allowed values of every numeric flag: one table, used by argparse and by `TrainConfig`.

`typed_flags` (for cli.py and sweep files) gives each flag listed in `FLAGS`, in whatever
command, the argparse type `flag_type(flag)` ("argument --seed: must be an integer >= 0, got
-1", exit 2);
`train.config.resolve` checks a config from the API or a checkpoint with `check_flag`.
A numeric flag must be listed (tests/test_cli_flags.py checks that none escapes).
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Callable

from .errors import UsageError


@dataclass(frozen=True)
class Rule:
    """A value kind: how a flag's text becomes a number, and which numbers are allowed."""

    convert: type  # int or float
    allowed: Callable[[float], bool]
    phrase: str  # completes "must be …"


RULES = {
    "count": Rule(int, lambda v: v >= 1, "an integer >= 1"),
    "natural": Rule(int, lambda v: v >= 0, "an integer >= 0"),
    "positive": Rule(float, lambda v: 0 < v < math.inf, "a finite number > 0"),
    "nonnegative": Rule(float, lambda v: 0 <= v < math.inf, "a finite number >= 0"),
    "fraction": Rule(float, lambda v: 0 <= v < 1, "a number in [0, 1)"),
}

# flag -> rule, for every command that has the flag
FLAGS = {
    "--seed": "natural",
    "--epochs": "natural",
    "--batch-size": "count",
    "-B": "count",
    "--steps": "count",
    "-T": "count",
    "--repeats": "count",
    "--warmup": "natural",
    "--temperature": "positive",
    "--lr": "positive",
    "--momentum": "fraction",
    "--clip": "nonnegative",
    "--weight-noise": "nonnegative",
    "--init-scale": "positive",
    "--patience": "count",
    "--halvings": "natural",
    "--min-count": "count",
    "--time-limit": "positive",
    "--timeout": "positive",
    "--cpus": "count",
    "--threads": "count",
}


def _problem(flag: str, value) -> str | None:
    """Why `value` is not allowed for `flag` ("must be …"), or None when it is."""
    rule = RULES[FLAGS[flag]]
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if not is_int and (rule.convert is int or not isinstance(value, float)):
        return f"must be {rule.phrase}, got {value!r}"
    if not rule.allowed(value):  # NaN fails every comparison, so it is refused here too
        return f"must be {rule.phrase}, got {value}"
    return None


def flag_type(flag: str) -> Callable[[str], float]:
    """An argparse `type=` for `flag`: the converted value, or an error naming the flag."""
    rule = RULES[FLAGS[flag]]

    def parse(text: str):
        try:
            value = rule.convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule.phrase}, got {text!r}") from None
        problem = _problem(flag, value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = FLAGS[flag]
    return parse


def check_flag(flag: str, value) -> None:
    """UsageError "<flag> must be …" unless `value` is allowed (None: not given, allowed)."""
    if value is None:
        return
    problem = _problem(flag, value)
    if problem:
        raise UsageError(f"{flag} {problem}")


def typed_flags(parser: argparse.ArgumentParser) -> None:
    """Give every numeric flag of `parser` listed in `FLAGS` its rule there (`--seed -1`,
    `--temperature nan`, `--batch-size 0` are refused naming the flag), whatever command has it."""
    for action in parser._actions:
        flags = [f for f in action.option_strings if f in FLAGS]
        if flags and action.nargs != 0:
            action.type = flag_type(flags[-1])
