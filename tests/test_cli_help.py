"""`rnnalg COMMAND --help`: every flag says what it does and, where it has one, its default; the
defaults it states are the ones the code applies (argparse's, TrainConfig's and the per-unit and
per-optimiser tables')."""
import argparse
import re

import pytest

from rnnalg.cli import build_parser, main
from rnnalg.train.config import UNIT_DEFAULTS, TrainConfig
from rnnalg.train.optim import OPTIMIZERS


def _parsers(parser, prog="rnnalg"):
    """(command, parser) of `parser` and of every subcommand below it."""
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{prog} {name}")


def _arguments():
    """(command, flag, action) of every argument but --help, --version and a subcommand's choice."""
    for command, parser in _parsers(build_parser()):
        for action in parser._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                yield command, "/".join(action.option_strings) or action.dest, action


def _help_of(command: str, flag: str) -> str:
    return " ".join(next(a.help for c, f, a in _arguments() if (c, f) == (command, flag)).split())


def test_every_argument_says_what_it_does():
    """Help beyond its default (before: sample's --data-dir and --unit had none; eval's --split and
    train's --optimizer only "(default …)")."""
    bare = [f"{command} {flag}" for command, flag, action in _arguments()
            if len(re.sub(r"\([^)]*\)", "", action.help or "").split()) < 2]
    assert bare == []


def test_a_default_argparse_holds_is_shown():
    """A flag whose parser default is a value (not None, False or an empty list) names it."""
    hidden = [f"{command} {flag} (default {action.default!r})" for command, flag, action in _arguments()
              if action.default not in (None, False, []) and "default" not in (action.help or "")]
    assert hidden == []
    for command, flag, action in _arguments():
        for said in re.findall(r"\(default (\d[\d.e-]*)\)", action.help or ""):
            if action.default is not None:
                assert float(said) == float(action.default), (command, flag, said, action.default)


@pytest.mark.parametrize("flag, field", [
    ("--data", "data"), ("--epochs", "epochs"), ("--optimizer", "optimizer"), ("--momentum", "momentum"),
    ("--clip", "clip"), ("--init", "init"), ("--patience", "patience"), ("--halvings", "halvings"),
    ("--seed", "seed"), ("--min-count", "min_count"),
])
def test_train_states_the_training_configurations_defaults(flag, field):
    assert re.search(rf"\(default:? {re.escape(str(getattr(TrainConfig(), field)))}\b", _help_of("rnnalg train", flag))


def test_train_states_the_per_unit_and_per_optimiser_defaults():
    music, chars, words = (UNIT_DEFAULTS[u] for u in ("frame", "char", "word"))
    assert chars[0] == words[0] and chars[2] == words[2]  # "text": one figure for both units
    assert f"music {music[0]}, text {chars[0]}" in _help_of("rnnalg train", "--batch-size")
    assert f"chars {chars[1]}, words {words[1]}" in _help_of("rnnalg train", "--steps")
    assert f"music {music[2]:g}, text {chars[2]:g}" in _help_of("rnnalg train", "--weight-noise")
    assert ", ".join(f"{name} {OPTIMIZERS[name][2]:g}" for name in OPTIMIZERS) in _help_of("rnnalg train", "--lr")


def test_eval_states_its_batch_default():
    assert f"default: the run's, {TrainConfig().eval_batch_size};" in _help_of("rnnalg eval", "--batch-size")


@pytest.mark.parametrize("command", [[], *[[name] for name in ("check", "compile", "bench", "train", "eval",
                                     "sample", "data", "sweep", "report", "export", "equiv", "search", "cost")],
                                     ["data", "fetch"], ["data", "list"]])
def test_every_help_prints_and_exits_0(command, capsys):
    assert main([*command, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: rnnalg {' '.join(command)}".rstrip())
