"""Is the products' floor the BLAS's?  The step products of the LSTM, GRU and RNN in every operand
layout, timed against the layout rnnalg's module uses today (issue 21).

    OPENBLAS_NUM_THREADS=1 python bench/gemm_layouts.py --clock cpu                 # LSTM, GRU, RNN; B 1, 16, 64
    OPENBLAS_NUM_THREADS=1 python bench/gemm_layouts.py --clock cpu --cells LSTM -B 16 --rounds 5
    OPENBLAS_NUM_THREADS=1 python bench/gemm_layouts.py --clock cpu --coretype SkylakeX   # + the same in a
                                                    # child process with OPENBLAS_CORETYPE=SkylakeX (AVX-512)

Three families of products per step shape (K, N) (K = H = 200 state units, N = the fused gates'
width: LSTM 800, GRU 400 and 200, RNN 200; T = 100, float32):

  forward   T × (B×K)·(K×N)   h·W, one per step (the steps depend on each other)
  backward  T × (B×N)·(N×K)   G[t]·Wᵀ, one per step
  weights   (K×R)·(R×N) and (88×R)·(R×N) per time block of R = B·⌈1024/B⌉ rows (≤ T·B): Hᵀ·G and Xᵀ·G

and, in each, every layout variant below (VARIANTS: `today` is the module's; `ceiling` is all T
steps as one product, impossible for dependent steps: the rate a batched product would reach).
A family's variants take turns within every round (`--rounds`, `--repeats` calls each, one call =
all products of the family); the table gives medians and each as a ratio to `today`, and the
saving of the best variant as a share of the whole traced floor of one forward+backward
(bench/floor.py's products of the model, timed in the same rounds).  With `--coretype NAME` the
whole measurement also runs in a child process with OPENBLAS_CORETYPE=NAME (rnnalg itself never
sets it: a library does not override its user's BLAS), the two processes taking turns a round
at a time, so both lines of the table come from the same minutes of a loaded machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench/ is a folder of scripts, not a package

import floor  # noqa: E402 (after the path)

T, X_WIDTH, BLOCK_ROWS = 100, 88, 1024
# cell -> (example spec stem, its step products' shapes (K, N))
CELLS = {"LSTM": ("lstm", ((200, 800),)), "GRU": ("gru", ((200, 400), (200, 200))), "RNN": ("rnn", ((200, 200),))}


def _rand(rng, shape, dt):
    return (rng.random(shape, dtype=np.float32) - 0.5).astype(dt)


def _steps(fn, pairs):
    """A call running fn(a, b, out) for each (a, b, out) of pairs."""
    def call():
        for a, b, out in pairs:
            fn(a, b, out=out)
    return call


# ---- the variants: name -> make(rng, dt, B, K, N) -> no-argument call (None: not at this B) ------------

def _forward(layout):
    """T products h·W in `layout`: 'today' (h, W C-ordered), 'Wt' (W stored transposed: h·(Wᵀ)ᵀ),
    'trans' (the transposed problem Wᵀ·hᵀ -> (N×B), states stored (K×B)), 'trans_view' (the same
    with W C-ordered, read as W.T), 'gemv' (B=1: 1-D h), 'gemv_n' (B=1: Wᵀ·h), 'split'
    (N/K products of K columns instead of one fused), 'ceiling' (one (T·B×K)·(K×N))."""
    def make(rng, dt, B, K, N):
        W = _rand(rng, (K, N), dt)
        Wt = np.ascontiguousarray(W.T)
        hs, hts = _rand(rng, (T, B, K), dt), _rand(rng, (T, K, B), dt)
        if layout == "today":
            return _steps(np.dot, [(hs[t], W, np.empty((B, N), dt)) for t in range(T)])
        if layout == "Wt":
            return _steps(np.dot, [(hs[t], Wt.T, np.empty((B, N), dt)) for t in range(T)])
        if layout in ("trans", "trans_view"):
            A = Wt if layout == "trans" else W.T
            return _steps(np.dot, [(A, hts[t], np.empty((N, B), dt)) for t in range(T)])
        if layout in ("gemv", "gemv_n"):
            if B != 1:
                return None
            if layout == "gemv":
                return _steps(np.dot, [(hs[t, 0], W, np.empty(N, dt)) for t in range(T)])
            return _steps(np.dot, [(Wt, hs[t, 0], np.empty(N, dt)) for t in range(T)])
        if layout == "split":
            if N <= K:
                return None
            Ws = [np.ascontiguousarray(W[:, j:j + K]) for j in range(0, N, K)]
            return _steps(np.dot, [(hs[t], w, np.empty((B, K), dt)) for t in range(T) for w in Ws])
        if layout == "ceiling":
            return _steps(np.dot, [(hs.reshape(T * B, K), W, np.empty((T * B, N), dt))])
        raise ValueError(layout)
    return make


def _backward(layout):
    """T products G[t]·Wᵀ: 'today' (W C-ordered, read as W.T: BLAS 'T'), 'Wt' (a C-ordered copy of
    Wᵀ, made once per call and timed with it), 'trans' (W·G[t]ᵀ -> (K×B), G stored (N×B)),
    'trans_view' (W·G[t].T, G C-ordered), 'gemv' / 'gemv_n' (B=1: g·Wᵀ, W·g), 'ceiling'."""
    def make(rng, dt, B, K, N):
        W = _rand(rng, (K, N), dt)
        gs, gts = _rand(rng, (T, B, N), dt), _rand(rng, (T, N, B), dt)
        if layout == "today":
            return _steps(np.matmul, [(gs[t], W.T, np.empty((B, K), dt)) for t in range(T)])
        if layout == "Wt":
            outs = [np.empty((B, K), dt) for _ in range(T)]

            def call():
                Wt = np.ascontiguousarray(W.T)
                for t in range(T):
                    np.matmul(gs[t], Wt, out=outs[t])
            return call
        if layout == "trans":
            return _steps(np.matmul, [(W, gts[t], np.empty((K, B), dt)) for t in range(T)])
        if layout == "trans_view":
            return _steps(np.matmul, [(W, gs[t].T, np.empty((K, B), dt)) for t in range(T)])
        if layout in ("gemv", "gemv_n"):
            if B != 1:
                return None
            if layout == "gemv":
                return _steps(np.dot, [(gs[t, 0], W.T, np.empty(K, dt)) for t in range(T)])
            return _steps(np.dot, [(W, gs[t, 0], np.empty(K, dt)) for t in range(T)])
        if layout == "ceiling":
            return _steps(np.matmul, [(gs.reshape(T * B, N), W.T, np.empty((T * B, K), dt))])
        raise ValueError(layout)
    return make


def _weights(layout):
    """Per time block of R rows, Hᵀ·G (K×N) and Xᵀ·G (88×N): 'today' (H, G C-ordered (R×·), H read
    as H.T: BLAS 'T'), 'copy' (Hᵀ copied C-ordered first, timed), 'other' (the other order,
    Gᵀ·H -> (N×K), the gradient's transpose), 'trans' (states and G stored transposed, (K×R),
    (N×R): Hᵀ·(Gᵀ)ᵀ), 'one' (one product over all T·B rows, not per block)."""
    def make(rng, dt, B, K, N):
        steps = max(1, -(-BLOCK_ROWS // B))
        blocks = [min(steps, T - t0) * B for t0 in range(0, T, steps)]
        if layout == "one":
            blocks = [T * B]
        work = []
        for R in blocks:
            for k in (K, X_WIDTH):
                H, G = _rand(rng, (R, k), dt), _rand(rng, (R, N), dt)
                if layout in ("today", "one"):
                    work.append((np.matmul, H.T, G, np.empty((k, N), dt)))
                elif layout == "copy":
                    work.append((lambda a, b, out: np.matmul(np.ascontiguousarray(a), b, out=out), H.T, G,
                                 np.empty((k, N), dt)))
                elif layout == "other":
                    work.append((np.matmul, G.T, H, np.empty((N, k), dt)))
                elif layout == "trans":
                    work.append((np.matmul, np.ascontiguousarray(H.T), np.ascontiguousarray(G.T).T,
                                 np.empty((k, N), dt)))
                else:
                    raise ValueError(layout)

        def call():
            for fn, a, b, out in work:
                fn(a, b, out=out)
        return call
    return make


# family -> [(variant, label, make)]; the first is today's layout
VARIANTS = {
    "forward": [("today", "h·W, W C-ordered (today)", _forward("today")),
                ("Wt", "h·W, W stored transposed (F-ordered)", _forward("Wt")),
                ("trans", "Wᵀ·hᵀ, transposed problem, Wᵀ and hᵀ C-ordered", _forward("trans")),
                ("trans_view", "Wᵀ·hᵀ, transposed problem, W C-ordered read as W.T", _forward("trans_view")),
                ("gemv", "B=1: gemv, 1-D h·W", _forward("gemv")),
                ("gemv_n", "B=1: gemv, Wᵀ·h, Wᵀ C-ordered", _forward("gemv_n")),
                ("split", "one product per gate (N/K products of K columns)", _forward("split")),
                ("ceiling", "ceiling: all T steps as one product (not possible)", _forward("ceiling"))],
    "backward": [("today", "G·Wᵀ, W C-ordered read as W.T (today)", _backward("today")),
                 ("Wt", "G·Wᵀ, Wᵀ copied C-ordered once per call", _backward("Wt")),
                 ("trans", "W·Gᵀ, transposed problem, Gᵀ stored (N×B)", _backward("trans")),
                 ("trans_view", "W·Gᵀ, transposed problem, G C-ordered read as G.T", _backward("trans_view")),
                 ("gemv", "B=1: gemv, 1-D g·Wᵀ", _backward("gemv")),
                 ("gemv_n", "B=1: gemv, W·g", _backward("gemv_n")),
                 ("ceiling", "ceiling: all T steps as one product (not possible)", _backward("ceiling"))],
    "weights": [("today", "Hᵀ·G per block, H read as H.T (today)", _weights("today")),
                ("copy", "Hᵀ copied C-ordered, then Hᵀ·G", _weights("copy")),
                ("other", "the other order, Gᵀ·H -> dWᵀ", _weights("other")),
                ("trans", "states and G stored transposed: Hᵀ·(Gᵀ)ᵀ", _weights("trans")),
                ("one", "one product over all T·B rows", _weights("one"))],
}
NOT_CHOOSABLE = {"ceiling", "one"}  # references: they change the schedule, not a layout


def floor_of(cell: str, B: int):
    """The whole traced floor of one forward+backward of the cell's module (bench/floor.py)."""
    import rnnalg
    program = rnnalg.load_program(floor.ROOT / "examples" / f"{CELLS[cell][0]}.rnn", {})
    model, params, batch = floor.model_setup(program, T, B, np.float32)
    return floor.floor_call(floor.trace_products(model.source, params, batch), np.float32)


def cases(cells, batch_sizes):
    """[(key, call)]: every (cell, B, family, shape, variant) and each (cell, B)'s whole floor."""
    rng = np.random.default_rng(0)
    out = []
    for cell in cells:
        for B in batch_sizes:
            out.append(((cell, B, "floor", "", "today"), floor_of(cell, B)))
            for K, N in CELLS[cell][1]:
                for family, variants in VARIANTS.items():
                    for name, _, make in variants:
                        call = make(rng, np.float32, B, K, N)
                        if call is not None:
                            out.append(((cell, B, family, f"{K}×{N}", name), call))
    return out


def measure(cells, batch_sizes, rounds, repeats, clock, emit) -> dict:
    """key -> list of seconds per call; `emit(times)` after every round (the child's JSON line)."""
    from rnnalg.commands.bench import time_block

    work = cases(cells, batch_sizes)
    times = {key: [] for key, _ in work}
    for _ in range(rounds):
        for key, call in work:
            times[key].extend(time_block(call, repeats, warmup=1, clock=clock).tolist())
        emit(times)
    return times


def _child_command(args, coretype):
    return ([sys.executable, __file__, "--child", "--clock", args.clock, "--repeats", str(args.repeats),
             "--rounds", "1", "--cells", ",".join(args.cells), "-B", ",".join(map(str, args.B))],
            {**os.environ, "OPENBLAS_CORETYPE": coretype} if coretype else dict(os.environ))


def run_children(args, coretypes) -> dict:
    """coretype -> key -> seconds: one round per child process, the coretypes taking turns."""
    merged = {c: {} for c in coretypes}
    for _ in range(args.rounds):
        for coretype in coretypes:
            command, env = _child_command(args, coretype)
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            for key, seconds in json.loads(result.stdout.strip().splitlines()[-1]):
                merged[coretype].setdefault(tuple(key), []).extend(seconds)
    return merged


def table(runs: dict) -> list[str]:
    """Markdown lines: per (cell, B, family, shape), each variant's median ms and ratio to today,
    per BLAS core type; and the best choosable variant's saving as a share of the whole floor."""
    lines = ["| BLAS kernels | cell | B | family | shape | variant | ms | / today | best saving / floor |",
             "|---|---|---:|---|---|---|---:|---:|---:|"]
    labels = {(family, name): label for family, variants in VARIANTS.items() for name, label, _ in variants}
    for coretype, times in runs.items():
        med = {key: float(np.median(v)) for key, v in times.items()}
        for key in med:
            cell, B, family, shape, name = key
            if family == "floor" or name != "today":
                continue
            group = {k[4]: ms for k, ms in med.items() if k[:4] == key[:4]}
            best = min((ms for n, ms in group.items() if n not in NOT_CHOOSABLE), default=group["today"])
            share = (group["today"] - best) / med[(cell, B, "floor", "", "today")]
            for name2, ms in group.items():
                lines.append(f"| {coretype} | {cell} | {B} | {family} | {shape} | {labels[(family, name2)]} | "
                             f"{ms * 1e3:.3g} | {ms / group['today']:.3f} | "
                             f"{f'{share:.1%}' if name2 == 'today' else ''} |")
        for (cell, B, family, _, _), ms in med.items():
            if family == "floor":
                lines.append(f"| {coretype} | {cell} | {B} | whole floor | one forward+backward | traced products "
                             f"(bench/floor.py) | {ms * 1e3:.3g} | | |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=lambda s: s.split(","), default=list(CELLS))
    parser.add_argument("-B", type=lambda s: [int(b) for b in s.split(",")], default=[1, 16, 64])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--coretype", action="append", default=[],
                        help="also run with OPENBLAS_CORETYPE=NAME in a child process (repeatable)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [c for c in args.cells if c not in CELLS]
    if unknown or min(args.B) < 1 or args.rounds < 1 or args.repeats < 1:
        parser.error(f"cells from {', '.join(CELLS)}; -B, --rounds, --repeats at least 1")
    if args.child:
        times = measure(args.cells, args.B, 1, args.repeats, args.clock, lambda _: None)
        print(json.dumps([[list(k), v] for k, v in times.items()]))
        return 0
    env_core = os.environ.get("OPENBLAS_CORETYPE", "")
    if args.coretype:
        runs = run_children(args, [env_core] + args.coretype)
        runs = {(c or "default") + " (child)": t for c, t in runs.items()}
    else:
        runs = {env_core or "default": measure(args.cells, args.B, args.rounds, args.repeats, args.clock,
                                               lambda _: None)}
    print(f"{args.clock} time, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}, "
          f"medians of {args.rounds} rounds × {args.repeats} calls, float32, T={T}")
    print("\n".join(table(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
