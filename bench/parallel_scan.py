"""minGRU (examples/mingru.rnn): the compiled parallel scan against the compiled step loop, the
module's own choice between them (`auto`, issue 21) and a hand-written numpy loop, over a grid of
sizes, in one run (issue 20, item 5; issue 21).

    python bench/parallel_scan.py [-H 64] [-B 16] [-T 100 1000 4000] [--repeats 5] [--clock cpu] [--fit]

-H, -B and -T take several values: every (H, B, T) of the grid is a row.  Columns (median ms of
`--repeats` rounds after one warm-up call each, float32, numpy backend; in each round every call
runs once, in turn, so that a loaded machine slows them alike):
  parallel fwd      the compiled module's `forward` with parallel=True (h by `_linear_scan`)
  step loop fwd     the same program compiled with parallel=False (the steps: `_scan_linear_forward`)
  auto fwd          compiled with parallel='auto' (the default): the rule `_use_scan` picks one per call
  numpy loop fwd    a hand-written loop: z, g from x once, then h = (1 − z) h + z g per step
  parallel/step/auto f+b   `loss_and_grad` of the three modules
  choice            what `_use_scan` picked; auto/best: auto f+b over the faster of parallel and step f+b
glibc keeps freed memory for reuse (`keep_freed_memory`, as every `rnnalg.compile`d model does):
without it each call's large temporaries come as fresh pages, and the order of the calls decides
which one pays for them (the step side's f+b measured 1.37× auto's, the same code, one sitting).
Every row also checks that the three modules give one loss (float32: 1e-5).  `--fit` ends with the
least-squares constants of the prelude's cost model (`LOOP_STEP_US`, `SCAN_PASS_NS`) fitted to the
grid's f+b times: per step, loop − scan = LOOP_STEP_US − bytes·SCAN_PASS_NS·⌈log2 T⌉/1000 µs,
bytes = B·H·4, each row weighted by 1 / (the faster one's time per step).
"""
from __future__ import annotations

import argparse
import builtins
import gc
import itertools
import statistics
from pathlib import Path

import numpy as np

import rnnalg
from rnnalg.commands.bench import CLOCKS
from rnnalg.lower.memory import keep_freed_memory
from rnnalg.lower.emit import emit_module
from rnnalg.testing import random_batch

ROOT = Path(__file__).resolve().parents[1]
CHOICES = {"parallel": True, "step": False, "auto": "auto"}  # column -> emit_module's `parallel`


def module(program, parallel):
    namespace = {}
    exec(builtins.compile(emit_module(program, parallel), "<mingru>", "exec"), namespace)
    return namespace


def hand_loop(params, x):
    """minGRU forward by hand: the gates of all steps at once, then the recurrence step by step."""
    T, B, _ = x.shape
    z = 1.0 / (1.0 + np.exp(-(x.reshape(T * B, -1) @ params["z.1.W_x"] + params["z.1.b"]))).reshape(T, B, -1)
    g = (x.reshape(T * B, -1) @ params["g.1.W_x"] + params["g.1.b"]).reshape(T, B, -1)
    h = np.zeros((B, z.shape[-1]), dtype=x.dtype)
    hs = np.empty_like(z)
    for t in range(T):
        h = (1 - z[t]) * h + z[t] * g[t]
        hs[t] = h
    return hs


def interleaved(calls: dict, repeats: int, clock: str) -> dict:
    """name -> median ms: one warm-up call each, then `repeats` rounds of one call each, in turn."""
    timer = CLOCKS[clock]
    for call in calls.values():
        call()
    times = {k: [] for k in calls}
    for _ in range(repeats):
        for k, call in calls.items():
            gc.collect()
            start = timer()
            call()
            times[k].append(timer() - start)
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


def fit(rows):
    """(LOOP_STEP_US, SCAN_PASS_NS) by weighted least squares over rows (T, bytes per step, scan
    f+b ms, loop f+b ms); see the module docstring."""
    X, y, w = [], [], []
    for T, nbytes, scan, loop in rows:
        X.append([1.0, -nbytes * max(T - 1, 0).bit_length() / 1e3])
        y.append(1e3 * (loop - scan) / T)  # µs per step
        w.append(T / (1e3 * min(scan, loop)))
    X, y, w = np.array(X), np.array(y), np.array(w)
    return tuple(np.linalg.lstsq(X * w[:, None], y * w, rcond=None)[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-H", type=int, nargs="+", default=[64])
    ap.add_argument("-B", type=int, nargs="+", default=[16])
    ap.add_argument("-T", type=int, nargs="+", default=[100, 1000, 4000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    ap.add_argument("--fit", action="store_true", help="end with the cost model's constants fitted to the grid")
    args = ap.parse_args(argv)
    keep_freed_memory()
    print(f"minGRU float32, median ms of {args.repeats} interleaved rounds ({args.clock} clock)")
    print(f"{'H':>5} {'B':>3} {'T':>5}  {'parallel fwd':>12}  {'step loop fwd':>13}  {'auto fwd':>8}  "
          f"{'numpy loop fwd':>14}  {'parallel f+b':>12}  {'step loop f+b':>13}  {'auto f+b':>8}  "
          f"{'choice':>8}  {'auto/best f+b':>13}")
    rows, worst = [], 0.0
    for H in args.H:
        program = rnnalg.load_program(ROOT / "examples" / "mingru.rnn", {"H": H})
        mods = {k: module(program, v) for k, v in CHOICES.items()}
        params = mods["parallel"]["init"](np.random.default_rng(0), "gaussian", None, np.float32)
        for B, T in itertools.product(args.B, args.T):
            rng = np.random.default_rng(T)
            batch = {k: v.astype(np.float32) for k, v in random_batch(program, T, B, rng, mask=False).items()}
            losses = {k: m["loss_and_grad"](params, batch)[0] for k, m in mods.items()}
            assert all(abs(v - losses["step"]) <= 1e-5 * abs(losses["step"]) for v in losses.values()), losses
            hp = mods["parallel"]["forward"](params, batch)[2]["h"]
            assert np.allclose(hand_loop(params, batch["x"])[-1], hp, rtol=1e-4, atol=1e-5)
            calls = {f"{k} fwd": (lambda m=m: m["forward"](params, batch)) for k, m in mods.items()}
            calls["numpy fwd"] = lambda: hand_loop(params, batch["x"])
            calls.update({f"{k} f+b": (lambda m=m: m["loss_and_grad"](params, batch)) for k, m in mods.items()})
            ms = interleaved(calls, args.repeats, args.clock)
            choice = "scan" if mods["auto"]["_by_scan"](params, batch) else "loop"
            ratio = ms["auto f+b"] / min(ms["parallel f+b"], ms["step f+b"])
            worst = max(worst, ratio)
            rows.append((T, B * H * 4, ms["parallel f+b"], ms["step f+b"]))
            print(f"{H:>5} {B:>3} {T:>5}  {ms['parallel fwd']:>12.2f}  {ms['step fwd']:>13.2f}  "
                  f"{ms['auto fwd']:>8.2f}  {ms['numpy fwd']:>14.2f}  {ms['parallel f+b']:>12.2f}  "
                  f"{ms['step f+b']:>13.2f}  {ms['auto f+b']:>8.2f}  {choice:>8}  {ratio:>12.2f}x", flush=True)
    print(f"worst auto/best f+b over the grid: {worst:.2f}x")
    if args.fit:
        step_us, pass_ns = fit(rows)
        print(f"fit: LOOP_STEP_US = {step_us:.2f}, SCAN_PASS_NS = {pass_ns:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
