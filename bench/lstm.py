"""rnnalg's gated cells vs PyTorch's fused kernels (torch.nn.LSTM, torch.nn.GRU) vs a PyTorch eager
loop of the same cell.

    python bench/lstm.py            # LSTM and GRU, H=200, T=100, B in 1/16/64, float32; also to bench/results_lstm.md
    python bench/lstm.py --quick    # a smoke run at toy sizes (stdout only)
    python bench/lstm.py --cells gru
    python bench/lstm.py --cells lstm -B 16 --repeats 6   # one row, few calls (a loaded machine)
    python bench/lstm.py --batch-threads 1          # rnnalg's call unsplit (default: as a user's, see below)
    OPENBLAS_NUM_THREADS=1 python bench/lstm.py --torch-threads 1 --clock cpu --out bench/results_lstm_1thread.md

The models are examples/lstm.rnn and gru.rnn (binary[88] in and out); the timing is compare.py's
(blocks taking turns, warm-up, pauses; see bench/README.md), and so is the honesty check: the
losses must agree before anything is timed.  The floor column is the cell's matrix products
alone (bench/floor.py: those of one forward+backward of rnnalg's emitted module, run with numpy's
BLAS), timed in the same rounds and clock: where floor > the fused kernel, ≤ 1.0× is out of
reach with this BLAS whatever the elementwise code does, and the report says so — for an unsplit
call: with ≥ 2 BLAS threads and B ≥ 16, rnnalg's call runs as parts of the batch on threads, each
with a one-thread BLAS (rnnalg/batch_threads.py), as a user's call does; the report says which
rows did.
torch.nn.GRU resets after its product, rnnalg's GRU before it (torch_models.GRUFused): its loss
is checked with the reset gate held open, where the two cells are one function, and timed with
the weights as they are.  Without torch only the
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
import floor  # noqa: E402
import report  # noqa: E402


# column -> (heading, target for rnnalg / column at every B), bench/README.md "Targets"
COLUMNS = {"fused": ("PyTorch fused (nn.LSTM / nn.GRU)", 1.0), "eager": ("PyTorch eager loop", 0.5)}
# cell -> (example spec stem, its torch_models fused class name)
CELLS = {"LSTM": ("lstm", "LSTMFused"), "GRU": ("gru", "GRUFused")}
FUSED_NAMES = {"LSTM": "torch.nn.LSTM", "GRU": "torch.nn.GRU"}


def bench(settings: compare.Settings, torch_pair, log, cells=tuple(CELLS), batch_threads=None) -> list[dict]:
    rows = []
    for cell in cells:
        stem = CELLS[cell][0]
        for program, numpy_model, params, B, batch in compare.cases(compare.ROOT / "examples" / f"{stem}.rnn",
                                                                   settings):
            model = compare.rnnalg.compile(program, np.float32)  # what a user gets: fast when numba is installed
            model.batch_threads = batch_threads  # None: as a user's call (rnnalg/batch_threads.py)
            ours = lambda model=model, batch=batch: model.loss_and_grad(params, batch)  # noqa: E731
            expected = ours()[0]
            products = floor_products(numpy_model, params, batch)
            parts = model.split_parts(B)  # what a user's call does: split over threads or not
            log(f"{cell} B={B}: rnnalg backend {model.backend}, {_split_words(parts)}; floor: {len(products)} "
                f"products, {floor.total_flops(products) / 1e9:.3g} GFLOP")
            calls = {"rnnalg": (ours, settings.repeats), "floor": (floor.floor_call(products), settings.repeats)}
            if torch_pair is not None:
                calls.update(_torch_calls(torch_pair, cell, model, params, batch, expected, settings))
            row = {"cell": cell, "B": B, "rnnalg": None, "floor": None, "fused": None, "eager": None,
                   "flops": floor.total_flops(products), "parts": parts}
            row.update(compare._rounds(calls, settings, log, f"{cell} B={B}"))
            rows.append(row)
    return rows


def _split_words(parts: int) -> str:
    return f"split in {parts} parts on {parts} threads" if parts > 1 else "unsplit"


def split_line(rows) -> str:
    """Which rows rnnalg ran as parts of the batch on threads (rnnalg/batch_threads.py)."""
    split = [f"{r['cell']} B={r['B']} in {r['parts']}" for r in rows if r.get("parts", 1) > 1]
    if not split:
        return "rnnalg ran every call unsplit (rnnalg/batch_threads.py splits with ≥ 2 BLAS threads at B ≥ 16)"
    rest = "; the other rows unsplit" if len(split) < len(rows) else ""
    return ("rnnalg ran parts of the batch on threads, each with a one-thread BLAS (rnnalg/batch_threads.py): "
            + ", ".join(split) + " parts" + rest)


def floor_products(numpy_model, params, batch) -> list:
    """floor.Product of each matrix product one `loss_and_grad` of the emitted numpy module runs
    (the fast backend's kernels run the same products, through the same BLAS: backend.py)."""
    return floor.trace_products(numpy_model.source, params, batch)


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
    lines = [f"| cell | B | rnnalg ms | floor ms | {head} | {ratios} | floor / PyTorch fused | rnnalg − floor ms |",
             "|---|---:|---:|---:|" + "---:|" * len(COLUMNS) + "---|" * len(COLUMNS) + "---|---:|"]
    for r in rows:
        cells = [report.format_times(r[c]) for c in COLUMNS]
        cells += [_ratio(r["rnnalg"], r[c], target) for c, (_, target) in COLUMNS.items()]
        cells += [_floor_ratio(r["floor"], r["fused"]), _excess(r["rnnalg"], r["floor"])]
        lines.append(f"| {r['cell']} | {r['B']} | {report.format_times(r['rnnalg'])} | "
                     f"{report.format_times(r['floor'])} | " + " | ".join(cells) + " |")
    return lines


def _ratio(ours, other, target: float) -> str:
    if ours is None or other is None:
        return "—"
    ratio = float(np.median(ours) / np.median(other))
    return f"{ratio:.3g} {'✓' if ratio <= target else '✗'} (≤ {target:.3g})"


def _floor_ratio(floor_times, fused) -> str:
    """floor / fused kernel, marked 'out of reach' above 1 (the products alone are slower)."""
    if floor_times is None or fused is None:
        return "—"
    ratio = float(np.median(floor_times) / np.median(fused))
    return f"{ratio:.3g} {'out of reach' if ratio > 1 else 'reachable'}"


def _excess(ours, floor_times) -> str:
    """rnnalg's median minus the floor's: the elementwise work, call overhead and copies (ms)."""
    if ours is None or floor_times is None:
        return "—"
    return report.format_ms(float(np.median(ours) - np.median(floor_times)))


def verdicts(rows) -> list[str]:
    """One plain sentence per row with a fused time: is ≤ 1.0× reachable with this BLAS?"""
    lines = []
    for r in rows:
        if r["floor"] is None or r["fused"] is None:
            continue
        ours, products, fused = (float(np.median(r[k])) * 1e3 for k in ("rnnalg", "floor", "fused"))
        what = f"{r['cell']} B={r['B']}: the products alone take {products:.3g} ms"
        if products > fused and r.get("parts", 1) > 1:
            lines.append(f"{what}, more than {FUSED_NAMES[r['cell']]}'s whole {fused:.3g} ms, unsplit: rnnalg "
                         f"ran {r['parts']} parts of the batch on {r['parts']} threads, each with a one-thread "
                         f"BLAS, in {ours:.3g} ms.")
        elif products > fused:
            lines.append(f"{what}, more than {FUSED_NAMES[r['cell']]}'s whole {fused:.3g} ms: "
                         f"≤ 1.0× is out of reach with this BLAS (OpenBLAS {blas_family()} kernels), "
                         "whatever the elementwise code does.")
        else:
            lines.append(f"{what} of {FUSED_NAMES[r['cell']]}'s {fused:.3g} ms, leaving {fused - products:.3g} ms "
                         f"for everything else; rnnalg spends {ours - products:.3g} ms there.")
    return lines


def blas_family() -> str:
    """numpy's OpenBLAS kernel family, e.g. 'Haswell' (AVX2) or 'SkylakeX' (AVX-512): on an AVX-512
    machine the second runs the products about twice as fast; OPENBLAS_CORETYPE forces it."""
    try:
        from threadpoolctl import threadpool_info
        return ", ".join(sorted({str(i.get("architecture")) for i in threadpool_info() if i.get("user_api") == "blas"}))
    except ImportError:
        return "unknown (no threadpoolctl)"


def _blas_kernels() -> str:
    return f"OpenBLAS kernels: {blas_family()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(not set)')}"


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
    parser.add_argument("-B", "--batch-sizes", help="comma-separated batch sizes (default 1,16,64; --quick 1,4)")
    parser.add_argument("--repeats", type=int, help="timed calls per implementation (default 21; --quick 3)")
    parser.add_argument("--batch-threads", type=int, metavar="N",
                        help="rnnalg's call in N parts of the batch on N threads (1: unsplit; default: as a "
                             "user's call, rnnalg/batch_threads.py)")
    args = parser.parse_args(argv)
    cells = [c.strip().upper() for c in args.cells.split(",") if c.strip()]
    if not cells or any(c not in CELLS for c in cells):
        parser.error(f"--cells: choose from {', '.join(c.lower() for c in CELLS)}")
    if args.torch_threads < 1:
        parser.error("--torch-threads must be at least 1")
    settings = compare.QUICK if args.quick else compare.FULL
    settings = dataclasses.replace(settings, reference_batch_sizes=(), word_batch_sizes=(), clock=args.clock)
    try:
        if args.batch_sizes:
            settings = dataclasses.replace(settings, batch_sizes=tuple(int(b) for b in args.batch_sizes.split(",")))
    except ValueError:
        parser.error(f"-B/--batch-sizes: expected integers like 1,16,64, not {args.batch_sizes!r}")
    if args.repeats is not None:
        settings = dataclasses.replace(settings, repeats=args.repeats)
    if min(settings.batch_sizes) < 1 or settings.repeats < 1 or (args.batch_threads is not None and args.batch_threads < 1):
        parser.error("batch sizes, --repeats and --batch-threads must be at least 1")
    out = args.out if args.out is not None or args.quick else HERE / "results_lstm.md"
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    torch_pair = compare.import_torch(args.no_torch, args.torch_threads)
    load_before = report.load_average()
    log(f"load average {load_before} on {os.cpu_count()} cores")
    rows = bench(settings, torch_pair, log, cells, args.batch_threads)
    lines = ["# Gated cells: rnnalg vs torch.nn.LSTM / nn.GRU vs a PyTorch eager loop, forward+backward", "",
             _describe(settings, cells), "",
             "Milliseconds per call: median (min–max) over all timed calls; ratios are of medians. "
             "floor: the cell's matrix products of one forward+backward alone, with numpy's BLAS "
             "(bench/floor.py); rnnalg − floor: the elementwise work, call overhead and copies.", ""]
    lines += table(rows)
    said = verdicts(rows)
    lines += [""] + [f"- {line}" for line in said] if said else []
    lines += ["", f"- {split_line(rows)}"]
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
