"""`rnnalg bench spec.rnn [-B 16] [-T 100] [--backend auto|numpy|fast]`: median milliseconds of
one forward+backward pass.

    $ OPENBLAS_NUM_THREADS=1 rnnalg bench examples/dots.rnn -B 1 --backend fast
    dots.rnn  B=1 T=100 float32 fast, unsplit, BLAS on 1 thread  first call 2.1 s (compiles the scan kernels; cached on disk)
    dots.rnn  B=1 T=100 float32 fast, unsplit, BLAS on 1 thread  forward+backward: 1.43 ms median (1.40–1.61 over 20 runs), 70k frames/s

One call is `model.loss_and_grad(params, batch)` on a random unmasked batch (time-major
(T, B, D)), timed after a warm-up; the spread is min–max over the timed calls.  Each line says
how the call ran: unsplit with numpy's BLAS on its threads, or as n parts of the batch on n
threads, each with a one-thread BLAS (rnnalg/batch_threads.py: the fast backend's calls at
B ≥ 16 when the BLAS has ≥ 2 threads). The first
call is timed on its own: with the fast backend it includes compiling the kernels, or loading
them from the on-disk cache. The timing helpers below are shared with bench/compare.py.

`--memory` times nothing: it prints the bytes one forward+backward keeps per time step, traced
(rnnalg/algebra/kept.py: the growth of numpy's peak allocation between T = 200 and 600, numpy
backend), beside the minimum `rnnalg cost` gives (its `bptt_floats_step`, the values the backward
reads, times the dtype's size), and their ratio (the target of issue 21 is ≤ 2×):

    $ rnnalg bench examples/dots.rnn --memory
    dots.rnn  B=16 float32  BPTT keeps 25.7 KB per step (traced); minimum 25.6 KB (rnnalg cost); 1.00× the minimum
"""
from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import numpy as np

from ..lower.footprint import require
from ..model import BACKENDS
from .common import load_program

DTYPES = {"float32": np.float32, "float64": np.float64}
# --clock -> timer: wall time, or the CPU time of this process (all its threads). CPU time
# ignores other processes on a busy machine, but counts BLAS threads spinning idle: use it
# single-threaded (OPENBLAS_NUM_THREADS=1).
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("-B", "--batch-size", dest="B", type=int, default=16, help="sequences per batch (default 16)")
    a("-T", "--steps", dest="T", type=int, default=100, help="time steps per sequence (default 100)")
    a("--repeats", type=int, default=20, help="timed calls after the warm-up (default 20)")
    a("--warmup", type=int, default=2, help="untimed calls first (default 2)")
    a("--dtype", choices=tuple(DTYPES), default="float32", help="parameter and array dtype (default float32)")
    a("--seed", type=int, default=0, help="seed of the parameters and the random batch (default 0)")
    a("--clock", choices=tuple(CLOCKS), default="wall",
      help="wall time (default) or process CPU time (steadier on a busy machine when single-threaded)")
    a("--backend", choices=BACKENDS, default="auto",
      help="numpy, fast (the scan kernels compiled by numba: pip install 'rnnalg[fast]'), or auto "
           "(fast when numba is installed; the default)")
    a("--memory", action="store_true",
      help="instead of timing: the bytes BPTT keeps per step (traced, numpy backend, T=200 and 600) "
           "beside the minimum of `rnnalg cost`, and their ratio")


def run(args: argparse.Namespace) -> int:
    program = load_program(args)
    if args.memory:
        print(memory_line(program, Path(args.spec).name, args.B, DTYPES[args.dtype], args.seed))
        return 0
    require(program, "benchmark", args.T * args.B, np.dtype(DTYPES[args.dtype]).itemsize,
            hint=" or a smaller -B / -T")
    call, model = loss_and_grad_call(program, args.T, args.B, DTYPES[args.dtype], args.seed, args.backend)
    backend = model.backend
    what = f"{Path(args.spec).name}  B={args.B} T={args.T} {args.dtype} {backend}, {split_words(model, args.B)}"
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    note = " (compiles the scan kernels, or loads them from the disk cache)" if backend == "fast" else ""
    print(f"{what}  first call {format_ms(first)} ms{note}")
    times = time_block(call, args.repeats, args.warmup, clock=args.clock)
    line = format_result(what, times, args.B, args.T)
    print(line if args.clock == "wall" else f"{line} (CPU time)")
    return 0


def kept_bytes(program, B: int, dtype=np.float32, seed: int = 0) -> tuple[float, float]:
    """(traced, minimum) bytes per time step of one forward+backward at batch B: what the numpy
    lowering's peak grows by per step (algebra/kept.py), and B·Σ w(v) over the values the backward
    reads (cost.py's `bptt_floats_step`) times the dtype's size."""
    from ..algebra.cost import cost  # sympy: imported only when asked
    from ..algebra.kept import traced_bytes_per_step

    minimum = cost(program, B).values["bptt_floats_step"] * np.dtype(dtype).itemsize
    return traced_bytes_per_step(program, B, dtype=dtype, seed=seed), float(minimum)


def memory_line(program, name: str, B: int, dtype=np.float32, seed: int = 0) -> str:
    """One line: traced and minimum bytes per step and their ratio (see the module docstring)."""
    traced, minimum = kept_bytes(program, B, dtype, seed)
    ratio = f"{traced / minimum:.2f}× the minimum" if minimum > 0 else "no minimum (nothing is kept)"
    return (f"{name}  B={B} {np.dtype(dtype).name}  BPTT keeps {format_bytes(traced)} per step (traced); "
            f"minimum {format_bytes(minimum)} (rnnalg cost); {ratio}")


def format_bytes(n: float) -> str:
    """226000.0 -> '226 KB'; 25600.0 -> '25.6 KB'; 812.0 -> '812 B'; 2.5e6 -> '2.5 MB' (decimal units)."""
    for scale, suffix in ((1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {suffix}"
    return f"{n:.3g} B"


def split_words(model, B: int) -> str:
    """How `model.loss_and_grad` runs a batch of B now, with its thread count: 'unsplit, BLAS on 2
    threads' or 'batch in 2 parts on 2 threads, BLAS on 1 each' (rnnalg/batch_threads.py)."""
    from ..batch_threads import blas_threads

    parts = model.split_parts(B)
    if parts > 1:
        return f"batch in {parts} parts on {parts} threads, BLAS on 1 each"
    blas = blas_threads()
    return f"unsplit, BLAS on {blas} thread{'s' if blas > 1 else ''}"


def loss_and_grad_call(program, T: int, B: int, dtype=np.float32, seed: int = 0, backend: str = "auto"):
    """(call, the compiled model): a no-argument function running one forward+backward of the compiled
    `program`. Parameters and the batch (already in `dtype`, so no conversion is timed) are made once.
    """
    from ..model import compile as compile_model
    from ..testing import random_batch

    rng = np.random.default_rng(seed)
    model = compile_model(program, dtype, backend)
    params = model.init_params(rng)
    batch = {name: (a if a.dtype.kind in "iu" else a.astype(dtype))
             for name, a in random_batch(program, T, B, rng, mask=False).items()}
    return (lambda: model.loss_and_grad(params, batch)), model


def time_block(call, repeats: int, warmup: int = 2, budget: float | None = None,
               clock: str = "wall") -> np.ndarray:
    """Seconds of `repeats` consecutive calls of `call()`, after `warmup` untimed ones.

    With `budget` (seconds), stop early once the timed calls have used it, keeping at least 3,
    so that a slow implementation does not stretch a benchmark to hours. Calls run back to
    back and nothing else runs in between: BLAS worker threads keep spinning for a while after
    a call, which would slow whatever ran next. `clock` is a key of CLOCKS; the budget is wall time.
    """
    timer = CLOCKS[clock]
    for _ in range(warmup):
        call()
    gc.collect()
    times = []
    start = time.perf_counter()
    for _ in range(repeats):
        t0 = timer()
        call()
        times.append(timer() - t0)
        if budget is not None and len(times) >= 3 and time.perf_counter() - start > budget:
            break
    return np.asarray(times)


def format_result(what: str, times, B: int, T: int) -> str:
    """One line: median and min–max milliseconds, frames (T·B positions) per second."""
    median = float(np.median(times))
    return (f"{what}  forward+backward: {format_ms(median)} ms median "
            f"({format_ms(np.min(times))}–{format_ms(np.max(times))} over {len(times)} runs), "
            f"{format_rate(T * B / median)} frames/s")


def format_ms(seconds: float) -> str:
    """0.01234 -> '12.3'; 2.5 -> '2500' (milliseconds, 3 significant digits, no exponent)."""
    ms = seconds * 1e3
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.3g}"


def format_rate(per_second: float) -> str:
    """130456.0 -> '130k'; 2.5e6 -> '2.5M'; 812.0 -> '812'."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if per_second >= scale:
            return f"{per_second / scale:.3g}{suffix}"
    return f"{per_second:.3g}"
