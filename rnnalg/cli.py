"""The `rnnalg` command: `main(argv) -> int` over argparse, one subcommand per module."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from . import __version__
from .errors import RnnalgError
from .values import typed_flags

# subcommand -> (module in rnnalg.commands, one-line help).  A command module has
# `add_arguments(parser)` and `run(args) -> int`; `TAKES_SPEC = False` in a module
# (data, sweep, search, report, and equiv, which adds two specs and a `--set` of its own) means
# it gets no spec positional and no `--set` here.
COMMANDS = {
    "check": ("check", "parse and type-check a spec; errors as file:line:col"),
    "compile": ("compile_", "show the operator graph; -o writes the standalone numpy module"),
    "bench": ("bench", "median milliseconds of one forward+backward pass"),
    "train": ("train", "train a spec on a dataset (progress, metrics JSONL, checkpoints)"),
    "eval": ("eval_", "evaluate a checkpoint: NLL per frame / BPC / perplexity"),
    "sample": ("sample", "generate music (MIDI) or text from a checkpoint"),
    "data": ("data", "fetch a dataset (rnnalg data fetch ptb) or list what is on this machine"),
    "sweep": ("sweep", "run a sweep file's table of trainings on Ray Tune (local or a cluster)"),
    "report": ("report", "regenerate RESULTS.md and its figures from sweep results lines"),
    "export": ("export", "write the model for PyTorch, JAX or ONNX (--to), with a checkpoint's parameters"),
    "equiv": ("equiv", "are two specs the same model? the parameter map, or the first difference"),
    "search": ("search", "architecture search: checked, deduplicated, budget-sized variants, trained as a sweep"),
    "cost": ("cost", "parameters, multiply-adds, BPTT memory and depth as formulas in the spec's sizes"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 2) instead of exiting the interpreter."""

    def error(self, message):
        raise _ArgError(f"{self.prog}: error: {message}")


class _ArgError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rnnalg", description="Compose deep RNNs from ⊕ (plus) and ▷ (predict).")
    parser.add_argument("--version", action="version", version=f"rnnalg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(f"rnnalg.commands.{module_name}")
        epilog = getattr(module, "EPILOG", None)  # a command's longer notes, shown as written
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter if epilog else argparse.HelpFormatter)
        if getattr(module, "TAKES_SPEC", True):
            p.add_argument("spec", help="the .rnn spec file (- reads standard input)")
            p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                           help="override a `let` size (repeatable)")
        module.add_arguments(p)
        typed_flags(p)  # every numeric flag gets its rule of rnnalg.values.FLAGS
        p.set_defaults(_run=module.run)
    return parser


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line, `warning: MESSAGE (Category, file.py:LINE)`: never the source line
    Python prints by default (a line of rnnalg's or numpy's code means nothing to a user)."""
    where = f"{os.path.basename(filename)}:{lineno}" if filename else "?"
    try:
        print(f"warning: {message} ({category.__name__}, {where})", file=file or sys.stderr)
    except (OSError, ValueError):  # stderr closed: as Python's own showwarning, drop it
        pass


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _ArgError as err:
        print(parser.format_usage().rstrip(), file=sys.stderr)
        print(err, file=sys.stderr)
        return 2
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            return int(args._run(args) or 0)
    except RnnalgError as err:
        print(err, file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("rnnalg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
