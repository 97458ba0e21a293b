"""A scan's step products by OpenBLAS and by a weight packed once (rnnalg/fast/numba_packed.py).

    OPENBLAS_NUM_THREADS=1 python bench/step_products.py --clock cpu            # H 200, 400; B 1, 16, 32, 64
    OPENBLAS_NUM_THREADS=1 python bench/step_products.py --clock cpu -H 400 -B 32 --rounds 5

Per hidden size H (examples/lstm.rnn: 200; char_lstm.rnn: 400) and batch B, the T = 100 step
products of an LSTM, float32, each family's variants called in turns within every round, all
from one numba loop as the scan kernels make them:

  forward   h (B×H) · W (H×4H)       blas: numpy's gemm (gemv at B = 1), as the kernels called it;
                                     blas Wᵀhᵀ: the transposed problem (N×B result);
                                     packed: W packed once (its packing timed with it), the micro-kernels, called as
                                     the scan kernels call them (`_step_dot_into`)
  backward  G (B×4H) · Wᵀ (4H×H)     the same, Wᵀ a C-ordered copy (the module's `_step_weight_T`)

The table: median ms of the T products, GFLOP/s, each variant / blas, the packing alone (once
per call), and the variant the rule (`numba_packed.use_packed`) picks.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

T = 100
VARIANTS = ("blas", "blas Wᵀhᵀ", "packed")


def _kernels():
    """The numba loops: name -> call(A (T, B, K), W (K, N), out (T, B, N), outT (T, N, B))."""
    from numba import njit

    from rnnalg.fast.numba_gemm import _dot_into
    from rnnalg.fast.numba_packed import _pack_panels, _packed_weight, _step_dot_into

    @njit(cache=True)
    def blas(A, W, out, outT):
        for t in range(A.shape[0]):
            _dot_into(A[t], W, out[t])

    @njit(cache=True)
    def blas_transposed(A, W, out, outT):
        WT = W.T
        for t in range(A.shape[0]):
            _dot_into(WT, A[t].T, outT[t])

    @njit(cache=True)
    def packed(A, W, out, outT):  # as the kernels call it (every operand typed layout 'A'), packed always
        P = _packed_weight(W)
        for t in range(A.shape[0]):
            _step_dot_into(A[t], W, P, out[t])

    @njit(cache=True)
    def pack_only(A, W, out, outT):
        return _pack_panels(W).shape[0]
    return {"blas": blas, "blas Wᵀhᵀ": blas_transposed, "packed": packed, "pack": pack_only}


def measure(Hs, Bs, rounds: int, clock) -> list[dict]:
    from rnnalg.fast.numba_packed import use_packed
    kernels = _kernels()
    rng = np.random.default_rng(0)
    rows = []
    for H in Hs:
        for B in Bs:
            for family, (K, N) in (("forward", (H, 4 * H)), ("backward", (4 * H, H))):
                A = rng.standard_normal((T, B, K)).astype(np.float32)
                W = rng.standard_normal((K, N)).astype(np.float32)
                out, outT = np.empty((T, B, N), np.float32), np.empty((T, N, B), np.float32)
                times = {name: [] for name in kernels}
                for name, kernel in kernels.items():
                    kernel(A, W, out, outT)  # compile
                for _ in range(rounds):
                    for name, kernel in kernels.items():
                        start = clock()
                        kernel(A, W, out, outT)
                        times[name].append(clock() - start)
                ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
                flops = 2.0 * T * B * K * N
                rows.append({"H": H, "B": B, "family": family, "ms": ms, "gflops": {
                    name: flops / ms[name] / 1e6 for name in VARIANTS},
                    "rule": "packed" if use_packed(B, K, N, 4) else "blas"})
    return rows


def table(rows: list[dict]) -> str:
    head = ("| H | B | product | blas ms (GFLOP/s) | blas Wᵀhᵀ ms (×) | packed ms (GFLOP/s, ×) | packing alone ms | "
            "the rule picks |\n|---:|---:|---|---|---|---|---:|---|\n")
    lines = []
    for r in rows:
        ms, gf = r["ms"], r["gflops"]
        lines.append(f"| {r['H']} | {r['B']} | {r['family']} | {ms['blas']:.3g} ({gf['blas']:.0f}) | "
                     f"{ms['blas Wᵀhᵀ']:.3g} ({ms['blas Wᵀhᵀ'] / ms['blas']:.2f}) | "
                     f"{ms['packed']:.3g} ({gf['packed']:.0f}, {ms['packed'] / ms['blas']:.2f}) | "
                     f"{ms['pack']:.3g} | {r['rule']} |")
    return head + "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", default="200,400", help="hidden sizes, comma-separated")
    parser.add_argument("-B", default="1,16,32,64", help="batch sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args(argv)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    rows = measure([int(h) for h in args.H.split(",")], [int(b) for b in args.B.split(",")], args.rounds, clock)
    print(f"T = {T} step products, float32, {args.clock} clock, medians of {args.rounds} rounds "
          "(× = over blas; packed includes its packing)\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
