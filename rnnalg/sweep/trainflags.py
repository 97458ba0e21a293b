"""The `rnnalg train` flags of a sweep file's [train], [data.NAME] and model `train` tables,
each checked by the `rnnalg train` parser itself (train.flags, values.py's rules):

    lr = 1e-3                            a value: the flag as `--lr 1e-3` takes it
    weight_noise = [0.0, 0.02]           a list: a grid axis (every value checked)
    lr = { loguniform = [3e-4, 3e-3] }   a random range of a float flag: `Random`, drawn per
                                         sample, uniform in x or in log x on [LOW, HIGH]
    nesterov = true                      a switch: true or false

A sweep decides some flags itself (OWN_FLAGS: --data, --seed, --out, …): a file may not set them.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from ..errors import RnnalgError

RANDOM_KINDS = ("uniform", "loguniform")
# `rnnalg train` flags a sweep decides itself, so a file may not set them
OWN_FLAGS = ("data", "data_dir", "seed", "out", "resume", "force", "quiet")


@dataclass(frozen=True)
class Random:
    """A random range for a float flag: `kind` is 'uniform' or 'loguniform'."""

    kind: str
    low: float
    high: float

    def draw(self, rng) -> float:
        if self.kind == "uniform":
            value = rng.uniform(self.low, self.high)
        else:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return float(f"{value:.3g}")  # readable ids and commands


def value_kind(value) -> str:
    """How a message names a TOML value's type: 'a table', 'a list', 'a string', …"""
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), type(value).__name__)


def flag_checker(c):
    """A function `check(table, where)` checking a table of train flags (values, lists, random
    ranges) by the `rnnalg train` parser itself; it returns the table with ranges as `Random`.
    `c` reports a mistake at its key (`c.fail(key, message)`, `c.known(table, where, allowed)`)."""
    parser = train_parser()
    actions = {a.dest: a for a in parser._actions if a.option_strings and a.dest not in OWN_FLAGS
               and a.dest != "help"}

    def check_value(key: str, flag: str, value) -> None:
        action = actions[flag]
        if action.nargs == 0:  # a switch such as --nesterov
            if not isinstance(value, bool):
                c.fail(key, f"expected true or false, got {value!r}")
            return
        if isinstance(value, (dict, list, bool)):
            c.fail(key, f"expected a single value, got {value_kind(value)}")
        try:
            parser.parse_args(["spec.rnn", action.option_strings[0], str(value)])
        except _ArgError as err:
            c.fail(key, str(err).split("error: ", 1)[-1])

    def check(table: dict, where: str) -> dict:
        c.known(table, where, tuple(actions))
        out = {}
        for flag, value in table.items():
            key = f"{where}.{flag}"
            if isinstance(value, dict):
                out[flag] = _random(c, key, value, actions[flag])
                continue
            for v in value if isinstance(value, list) else [value]:
                check_value(key, flag, v)
            if isinstance(value, list) and not value:
                c.fail(key, "an empty list gives no trials")
            out[flag] = value
        return out

    return check


def _random(c, key: str, value: dict, action) -> Random:
    if len(value) != 1 or next(iter(value)) not in RANDOM_KINDS:
        c.fail(key, "a range is written { uniform = [LOW, HIGH] } or { loguniform = [LOW, HIGH] }")
    kind, bounds = next(iter(value.items()))
    if not _is_float(action):
        c.fail(key, f"only float flags take a random range; {action.option_strings[0]} does not")
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)):
        c.fail(f"{key}.{kind}", "expected [LOW, HIGH], two numbers")
    low, high = map(float, bounds)
    if not low < high or (kind == "loguniform" and low <= 0):
        c.fail(f"{key}.{kind}", f"expected LOW < HIGH{' and LOW > 0' if kind == 'loguniform' else ''}, "
                                f"got [{low:g}, {high:g}]")
    return Random(kind, low, high)


def _is_float(action) -> bool:
    from ..values import FLAGS, RULES

    flag = action.option_strings[-1]
    return flag in FLAGS and RULES[FLAGS[flag]].convert is float


class _ArgError(RnnalgError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _ArgError(message)


def train_parser() -> argparse.ArgumentParser:
    """The flags of `rnnalg train` (train.flags, as the command has them), raising instead of exiting."""
    from ..train.flags import add_arguments
    from ..values import typed_flags

    parser = _Parser(prog="rnnalg train", add_help=False)
    parser.add_argument("spec")
    parser.add_argument("--set", action="append", default=[])
    add_arguments(parser)
    typed_flags(parser)  # the value rules of rnnalg.values, as the command line has them
    return parser
