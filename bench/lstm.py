"""rnnalg's LSTM vs torch.nn.LSTM (PyTorch's fused kernel) vs a PyTorch eager loop of the same cell.

    python bench/lstm.py            # H=200, T=100, B in 1/16/64, float32; also to bench/results_lstm.md
    python bench/lstm.py --quick    # a smoke run at toy sizes (stdout only)
    OPENBLAS_NUM_THREADS=1 python bench/lstm.py --torch-threads 1 --clock cpu --out bench/results_lstm_1thread.md

The model is examples/lstm.rnn (binary[88] in and out); the timing is compare.py's (blocks
taking turns, warm-up, pauses; see bench/README.md), and so is the honesty check: the three
losses must agree before anything is timed.  Without torch only the rnnalg column is filled.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench/ is a folder of scripts, not a package

import compare  # noqa: E402 (after the path)
import report  # noqa: E402


# column -> (heading, target for rnnalg / column at every B), bench/README.md "Targets"
COLUMNS = {"fused": ("torch.nn.LSTM", 1.0), "eager": ("PyTorch eager loop", 0.5)}


def bench(settings: compare.Settings, torch_pair, log) -> list[dict]:
    rows = []
    for program, _, params, B, batch in compare.cases(compare.ROOT / "examples" / "lstm.rnn", settings):
        model = compare.rnnalg.compile(program, np.float32)  # what a user gets: fast when numba is installed
        ours = lambda model=model, batch=batch: model.loss_and_grad(params, batch)  # noqa: E731
        expected = ours()[0]
        log(f"LSTM B={B}: rnnalg backend {model.backend}")
        calls = {"rnnalg": (ours, settings.repeats)}
        if torch_pair is not None:
            torch, tm = torch_pair
            xs, ys = torch.from_numpy(batch["x"]), torch.from_numpy(batch["y"])
            for column, call in (("fused", tm.fused_lstm_call(params, xs, ys)),
                                 ("eager", tm.loss_and_grad_call("lstm", tm.to_torch(params), xs, ys))):
                compare.check_loss("LSTM", COLUMNS[column][0], call().item(), expected)
                calls[column] = (call, settings.repeats)
        row = {"B": B, "rnnalg": None, "fused": None, "eager": None}
        row.update(compare._rounds(calls, settings, log, f"LSTM B={B}"))
        rows.append(row)
    return rows


def table(rows) -> list[str]:
    head = " | ".join(heading + " ms" for heading, _ in COLUMNS.values())
    ratios = " | ".join(f"rnnalg / {heading}" for heading, _ in COLUMNS.values())
    lines = [f"| B | rnnalg ms | {head} | {ratios} |", "|---:|---:|" + "---:|" * len(COLUMNS) + "---|" * len(COLUMNS)]
    for r in rows:
        cells = [report.format_times(r[c]) for c in COLUMNS]
        cells += [_ratio(r["rnnalg"], r[c], target) for c, (_, target) in COLUMNS.items()]
        lines.append(f"| {r['B']} | {report.format_times(r['rnnalg'])} | " + " | ".join(cells) + " |")
    return lines


def _ratio(ours, other, target: float) -> str:
    if ours is None or other is None:
        return "—"
    ratio = float(np.median(ours) / np.median(other))
    return f"{ratio:.3g} {'✓' if ratio <= target else '✗'} (≤ {target:.3g})"


def _describe(settings) -> str:
    text = settings.describe().replace("binary[88] in/out", "examples/lstm.rnn, binary[88] in/out")
    return re.sub(r" \(\d+ for the autograd reference, at B in \[\]\)", "", text)  # not run here


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run at toy sizes; writes no file unless --out")
    parser.add_argument("--no-torch", action="store_true", help=f"skip PyTorch (same as {compare.NO_TORCH_ENV}=1)")
    parser.add_argument("--out", type=Path, help="markdown file (default bench/results_lstm.md; none with --quick)")
    parser.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time (default) or process CPU time (single-threaded runs on a busy machine)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.torch_threads < 1:
        parser.error("--torch-threads must be at least 1")
    settings = compare.QUICK if args.quick else compare.FULL
    settings = dataclasses.replace(settings, reference_batch_sizes=(), word_batch_sizes=(), clock=args.clock)
    out = args.out if args.out is not None or args.quick else HERE / "results_lstm.md"
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    torch_pair = compare.import_torch(args.no_torch, args.torch_threads)
    load_before = report.load_average()
    log(f"load average {load_before} on {os.cpu_count()} cores")
    rows = bench(settings, torch_pair, log)
    lines = ["# LSTM: rnnalg vs torch.nn.LSTM vs a PyTorch eager loop, forward+backward", "",
             _describe(settings), "",
             "Milliseconds per call: median (min–max) over all timed calls; ratios are of medians.", ""]
    lines += table(rows)
    lines += ["", "Machine:", ""] + [f"- {line}" for line in report.machine_info(torch_pair and torch_pair[0])]
    lines += [f"- load average (1, 5, 15 min): {load_before} before, {report.load_average()} after"]
    text = "\n".join(lines)
    print(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
