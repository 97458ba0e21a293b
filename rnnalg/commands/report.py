"""`rnnalg report RESULTS.jsonl …`: regenerate RESULTS.md and its figures from results lines."""
from __future__ import annotations

import argparse

TAKES_SPEC = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", help="results files written by rnnalg sweep (JSONL)")
    parser.add_argument("--out", metavar="DIR", default="experiments",
                        help="where RESULTS.md and figures/ go (default experiments)")
    parser.add_argument("--no-figures", action="store_true", help="write only the markdown")


def run(args: argparse.Namespace) -> int:
    from ..sweep.report import write_report
    from ..sweep.results import read_lines

    unique = {}  # a trial listed twice (the same id and command) counts once: the later line
    for path in args.results:
        for line in read_lines(path):
            unique[line["trial"].get("id"), line.get("command")] = line
    lines = list(unique.values())
    for path in write_report(lines, args.out, args.results, figures=not args.no_figures):
        print(path)
    return 0
