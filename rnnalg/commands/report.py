"""`rnnalg report RESULTS.jsonl …`: regenerate RESULTS.md and its figures from results lines (an
architecture search's lines, `rnnalg search`, as a section of their own with its figure)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError

TAKES_SPEC = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", help="results files written by rnnalg sweep (JSONL)")
    parser.add_argument("--out", metavar="DIR", default="experiments",
                        help="where RESULTS.md and figures/ go (default experiments; created if missing)")
    parser.add_argument("--no-figures", action="store_true", help="write only the markdown")


def run(args: argparse.Namespace) -> int:
    from ..sweep.collect import collect_placed
    from ..sweep.report import write_report
    from ..sweep.search_results import split_searches

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: not a folder; --out names the folder that gets RESULTS.md and "
                         f"figures/ (e.g. --out {out.parent if str(out.parent) != '.' else 'experiments'})")
    placed = collect_placed(args.results)  # refuses empty or foreign files and conflicting duplicates
    lines, searches = split_searches(placed)  # an architecture search's lines get a section of their own
    for path in write_report(lines, args.out, args.results, figures=not args.no_figures, searches=searches):
        print(path)
    return 0
