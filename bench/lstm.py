"""rnnalg's gated cells vs PyTorch's fused kernels (torch.nn.LSTM, torch.nn.GRU) vs a PyTorch eager
loop of the same cell.

    python bench/lstm.py            # LSTM and GRU, H=200, T=100, B in 1/16/64, float32; also to bench/results_lstm.md
    python bench/lstm.py --quick    # a smoke run at toy sizes (stdout only)
    python bench/lstm.py --cells gru
    OPENBLAS_NUM_THREADS=1 python bench/lstm.py --torch-threads 1 --clock cpu --out bench/results_lstm_1thread.md

The models are examples/lstm.rnn and gru.rnn (binary[88] in and out); the timing is compare.py's
(blocks taking turns, warm-up, pauses; see bench/README.md), and so is the honesty check: the
losses must agree before anything is timed.  torch.nn.GRU resets after its product, rnnalg's GRU
before it (torch_models.GRUFused): its loss is checked with the reset gate held open, where the
two cells are one function, and timed with the weights as they are.  Without torch only the
rnnalg column is filled.
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
COLUMNS = {"fused": ("PyTorch fused (nn.LSTM / nn.GRU)", 1.0), "eager": ("PyTorch eager loop", 0.5)}
# cell -> (example spec stem, its torch_models fused class name)
CELLS = {"LSTM": ("lstm", "LSTMFused"), "GRU": ("gru", "GRUFused")}


def bench(settings: compare.Settings, torch_pair, log, cells=tuple(CELLS)) -> list[dict]:
    rows = []
    for cell in cells:
        stem = CELLS[cell][0]
        for program, _, params, B, batch in compare.cases(compare.ROOT / "examples" / f"{stem}.rnn", settings):
            model = compare.rnnalg.compile(program, np.float32)  # what a user gets: fast when numba is installed
            ours = lambda model=model, batch=batch: model.loss_and_grad(params, batch)  # noqa: E731
            expected = ours()[0]
            log(f"{cell} B={B}: rnnalg backend {model.backend}")
            calls = {"rnnalg": (ours, settings.repeats)}
            if torch_pair is not None:
                calls.update(_torch_calls(torch_pair, cell, model, params, batch, expected, settings))
            row = {"cell": cell, "B": B, "rnnalg": None, "fused": None, "eager": None}
            row.update(compare._rounds(calls, settings, log, f"{cell} B={B}"))
            rows.append(row)
    return rows


def _torch_calls(torch_pair, cell, model, params, batch, expected, settings) -> dict:
    """column -> (call, repeats), each checked against rnnalg's loss first."""
    import torch_models as tm  # (compare.import_torch's second item is peers.GeneratedPeers, the exports)
    torch = torch_pair[0]
    stem, fused_class = CELLS[cell]
    fused = getattr(tm, fused_class)
    xs, ys = torch.from_numpy(batch["x"]), torch.from_numpy(batch["y"])
    if cell == "GRU":  # one function only with the reset gate open (torch_models.GRUFused)
        opened = tm.reset_open(params)
        compare.check_loss(cell, "torch.nn.GRU (reset gate open)",
                           tm.fused_lstm_call(opened, xs, ys, fused)().item(), model.loss_and_grad(opened, batch)[0])
    else:
        compare.check_loss(cell, "torch.nn.LSTM", tm.fused_lstm_call(params, xs, ys, fused)().item(), expected)
    eager = tm.loss_and_grad_call(stem, tm.to_torch(params), xs, ys)
    compare.check_loss(cell, COLUMNS["eager"][0], eager().item(), expected)
    return {"fused": (tm.fused_lstm_call(params, xs, ys, fused), settings.repeats), "eager": (eager, settings.repeats)}


def table(rows) -> list[str]:
    head = " | ".join(heading + " ms" for heading, _ in COLUMNS.values())
    ratios = " | ".join(f"rnnalg / {heading}" for heading, _ in COLUMNS.values())
    lines = [f"| cell | B | rnnalg ms | {head} | {ratios} |",
             "|---|---:|---:|" + "---:|" * len(COLUMNS) + "---|" * len(COLUMNS)]
    for r in rows:
        cells = [report.format_times(r[c]) for c in COLUMNS]
        cells += [_ratio(r["rnnalg"], r[c], target) for c, (_, target) in COLUMNS.items()]
        lines.append(f"| {r['cell']} | {r['B']} | {report.format_times(r['rnnalg'])} | " + " | ".join(cells) + " |")
    return lines


def _ratio(ours, other, target: float) -> str:
    if ours is None or other is None:
        return "—"
    ratio = float(np.median(ours) / np.median(other))
    return f"{ratio:.3g} {'✓' if ratio <= target else '✗'} (≤ {target:.3g})"


def _blas_kernels() -> str:
    """numpy's OpenBLAS kernel family (AVX2 'Haswell' vs AVX-512 'SkylakeX' halves the products'
    time on an AVX-512 machine) and OPENBLAS_CORETYPE, which forces it."""
    try:
        from threadpoolctl import threadpool_info
        arch = ", ".join(sorted({str(i.get("architecture")) for i in threadpool_info() if i.get("user_api") == "blas"}))
    except ImportError:
        arch = "unknown (no threadpoolctl)"
    return f"OpenBLAS kernels: {arch}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(not set)')}"


def _describe(settings, cells) -> str:
    specs = " and ".join(f"examples/{CELLS[c][0]}.rnn" for c in cells)
    text = settings.describe().replace("binary[88] in/out", f"{specs}, binary[88] in/out")
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
    parser.add_argument("--cells", default="lstm,gru", help="comma-separated: lstm, gru (default both)")
    args = parser.parse_args(argv)
    cells = [c.strip().upper() for c in args.cells.split(",") if c.strip()]
    if not cells or any(c not in CELLS for c in cells):
        parser.error(f"--cells: choose from {', '.join(c.lower() for c in CELLS)}")
    if args.torch_threads < 1:
        parser.error("--torch-threads must be at least 1")
    settings = compare.QUICK if args.quick else compare.FULL
    settings = dataclasses.replace(settings, reference_batch_sizes=(), word_batch_sizes=(), clock=args.clock)
    out = args.out if args.out is not None or args.quick else HERE / "results_lstm.md"
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    torch_pair = compare.import_torch(args.no_torch, args.torch_threads)
    load_before = report.load_average()
    log(f"load average {load_before} on {os.cpu_count()} cores")
    rows = bench(settings, torch_pair, log, cells)
    lines = ["# Gated cells: rnnalg vs torch.nn.LSTM / nn.GRU vs a PyTorch eager loop, forward+backward", "",
             _describe(settings, cells), "",
             "Milliseconds per call: median (min–max) over all timed calls; ratios are of medians.", ""]
    lines += table(rows)
    from rnnalg import fast
    info = report.machine_info(torch_pair and torch_pair[0], fast=fast.unavailable_reason() is None)
    lines += ["", "Machine:", ""] + [f"- {line}" for line in info + [_blas_kernels()]]
    lines += [f"- load average (1, 5, 15 min): {load_before} before, {report.load_average()} after"]
    text = "\n".join(lines)
    print(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
