"""minGRU (examples/mingru.rnn): the compiled parallel scan against the compiled step loop and a
hand-written numpy loop, at T = 100, 1000, 4000, in one run (issue 20, item 5).

    python bench/parallel_scan.py [-H 64] [-B 16] [-T 100 1000 4000] [--repeats 5] [--clock cpu]

Rows (median ms of `--repeats` calls after one warm-up, float32, numpy backend):
  parallel fwd      the compiled module's `forward` (h by `_linear_scan`, log2 T rounds)
  step loop fwd     the same program compiled with parallel=False (`for t in range(T)`)
  numpy loop fwd    a hand-written loop: z, g from x once, then h = (1 − z_t) h + z_t g_t per step
  parallel/step fwd+bwd   `loss_and_grad` of both compiled modules
The first two and the last two also check that both modules give one loss (float32: 1e-5).
"""
from __future__ import annotations

import argparse
import builtins
import statistics
from pathlib import Path

import numpy as np

import rnnalg
from rnnalg.commands.bench import CLOCKS, time_block
from rnnalg.lower.emit import emit_module
from rnnalg.testing import random_batch

ROOT = Path(__file__).resolve().parents[1]


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-H", type=int, default=64)
    ap.add_argument("-B", type=int, default=16)
    ap.add_argument("-T", type=int, nargs="+", default=[100, 1000, 4000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    args = ap.parse_args(argv)
    program = rnnalg.load_program(ROOT / "examples" / "mingru.rnn", {"H": args.H})
    par, seq = module(program, True), module(program, False)
    params = par["init"](np.random.default_rng(0), "gaussian", None, np.float32)
    print(f"minGRU H={args.H} B={args.B} float32, median ms of {args.repeats} calls ({args.clock} clock)")
    print(f"{'T':>5}  {'parallel fwd':>12}  {'step loop fwd':>13}  {'numpy loop fwd':>14}  "
          f"{'parallel f+b':>12}  {'step loop f+b':>13}  speed-up fwd (vs step, vs numpy)  f+b")
    for T in args.T:
        rng = np.random.default_rng(T)
        batch = {k: v.astype(np.float32) for k, v in random_batch(program, T, args.B, rng, mask=False).items()}
        lp, ls = par["loss_and_grad"](params, batch)[0], seq["loss_and_grad"](params, batch)[0]
        assert abs(lp - ls) <= 1e-5 * abs(ls), (lp, ls)
        hp = par["forward"](params, batch)[2]["h"]
        assert np.allclose(hand_loop(params, batch["x"])[-1], hp, rtol=1e-4, atol=1e-5)
        calls = {"pf": lambda: par["forward"](params, batch), "sf": lambda: seq["forward"](params, batch),
                 "hf": lambda: hand_loop(params, batch["x"]),
                 "pb": lambda: par["loss_and_grad"](params, batch), "sb": lambda: seq["loss_and_grad"](params, batch)}
        ms = {k: 1e3 * statistics.median(time_block(c, args.repeats, warmup=1, clock=args.clock))
              for k, c in calls.items()}
        print(f"{T:>5}  {ms['pf']:>12.2f}  {ms['sf']:>13.2f}  {ms['hf']:>14.2f}  {ms['pb']:>12.2f}  {ms['sb']:>13.2f}  "
              f"{ms['sf'] / ms['pf']:>5.1f}x, {ms['hf'] / ms['pf']:>5.1f}x{'':>22}{ms['sb'] / ms['pb']:>5.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
