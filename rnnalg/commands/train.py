"""`rnnalg train spec.rnn`: train a spec on a dataset; print the test metric of the best parameters.

Writes into the run directory (default runs/<spec stem>; runs/stdin for a spec on standard
input): best.json / last.json checkpoints (+ their .npz arrays), metrics.jsonl, curve.png and
result.json.  The run is `rnnalg.train.launch.run_training` (which a sweep trial calls too);
this module parses the flags, prints and picks the exit code.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..train.feed import METRIC_LABELS
from ..train.flags import add_arguments, run_arguments
from ..train.launch import describe_stop, run_training

__all__ = ["add_arguments", "run"]  # add_arguments: the flags, defined in train/flags.py

EXIT_CODES = {"interrupted": 130, "terminated": 143}  # 128 + SIGINT, 128 + SIGTERM


def run(args: argparse.Namespace) -> int:
    result = run_training(**run_arguments(args))
    reason, run_dir = result["stopped"], Path(result["run_dir"])
    again = f"rnnalg train {shlex.quote(args.spec)} --resume {shlex.quote(str(run_dir))}"
    if args.spec == "-":
        again += "  (with the same spec on standard input)"
    if reason in EXIT_CODES:
        print(f"saved {run_dir / 'last.json'}; continue with: {again}", file=sys.stderr)
        return EXIT_CODES[reason]
    label = METRIC_LABELS.get(result["metric"], result["metric"])
    best = (f"best valid {result['best_valid']:.4f} at epoch {result['best_epoch']}" if result["best_epoch"]
            else "no finished epoch: current parameters")
    stopped = describe_stop(reason, result["epochs"])
    print(f"test {label}: {result['test']:.4f}  ({best}; {stopped}, {result['seconds']:.0f}s; {run_dir})")
    if reason == "time limit":
        print(f"continue with: {again}", file=sys.stderr)
    return 0
