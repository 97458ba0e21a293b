"""rnnalg (numpy and fast backends) vs JAX vs torch.compile vs PyTorch eager vs the autograd
reference vs the matrix-product floor: forward+backward milliseconds.

    python bench/compare.py            # the full table (H=200, T=100, B in 1/16/64, and the word-level
                                       # row), also to bench/results.md
    python bench/compare.py --quick    # a smoke run at toy sizes (stdout only)
    python bench/compare.py --no-torch # skip both PyTorch columns (also when torch is not installed)
    python bench/compare.py --no-compile  # skip torch.compile only (it compiles for a while)
    python bench/compare.py --no-jax   # skip the JAX column (also when jax is not installed)
    OPENBLAS_NUM_THREADS=1 python bench/compare.py --torch-threads 1 --jax-threads 1 --clock cpu  # busy machine

Models: examples/{rnn,dts,dots,srnn2}.rnn (binary[88] in and out), float32, unmasked
random piano rolls; and examples/word_rnn.rnn (token[10000] in and out, B=64, T=100). The
PyTorch, torch.compile and JAX columns run the code `rnnalg export` generates from each spec
(bench/peers.py, GeneratedPeers). All implementations get the same parameters and batch, and their losses are checked to agree
before anything is timed (bench/peers.py makes the calls). Each implementation is timed in
blocks of consecutive calls after a warm-up (never alternating call by call: OpenBLAS threads
spin after a call and slow whatever runs next), with a pause before each block; the
implementations take turns block by block, so a slow drift of the machine hits all of them.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # bench/ is a folder of scripts, not a package
try:
    import rnnalg
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(ROOT))
    import rnnalg

import floor
import peers
import report
from peers import LOSS_RTOL, check_loss  # noqa: F401 (part of this script's interface, used by lstm.py)
from rnnalg.commands.bench import format_ms, time_block
from rnnalg.testing import random_batch

# table label -> example spec stem
MODELS = {"RNN": "rnn", "DT(S)": "dts", "DOT(S)": "dots", "sRNN-2": "srnn2", "word": "word_rnn"}
WORD = "word"  # the word-level model: its own batch sizes and T (Settings.word_*), its own table
NO_TORCH_ENV = "RNNALG_BENCH_NO_TORCH"  # set to 1 to skip torch, as --no-torch does
NO_JAX_ENV = "RNNALG_BENCH_NO_JAX"  # set to 1 to skip JAX, as --no-jax does
JAX_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"  # XLA_FLAGS


@dataclasses.dataclass(frozen=True)
class Settings:
    H: int = 200
    T: int = 100
    batch_sizes: tuple = (1, 16, 64)
    reference_batch_sizes: tuple = (1,)  # the autograd reference is slow: only here
    repeats: int = 21                  # timed calls per implementation (fewer if the budget runs out)
    reference_repeats: int = 3
    rounds: int = 3                    # blocks per implementation, taking turns
    warmup: int = 2                    # untimed calls at the start of every block
    budget: float = 6.0                # seconds of timed calls per implementation (≥ 3 calls a block)
    pause: float = 0.5                 # seconds between blocks, for BLAS threads to go idle
    clock: str = "wall"                # or "cpu": process CPU time (rnnalg.commands.bench.CLOCKS)
    word_T: int = 100                  # the word-level model's T and batch sizes
    word_batch_sizes: tuple = (64,)

    def for_model(self, label: str) -> "Settings":
        """The word-level model runs at its own sizes, without the autograd reference."""
        if label != WORD:
            return self
        return dataclasses.replace(self, T=self.word_T, batch_sizes=self.word_batch_sizes, reference_batch_sizes=())

    def describe(self) -> str:
        clock = "wall-clock time" if self.clock == "wall" else "CPU time of the process (all its threads)"
        word = (f"word-level model token[10000] in/out, T={self.word_T}, B in {list(self.word_batch_sizes)}; "
                if self.word_batch_sizes else "")
        return (f"Settings: {clock}; H={self.H}, T={self.T}, float32, binary[88] in/out, "
                f"B in {list(self.batch_sizes)}; {word}"
                f"up to {self.repeats} timed calls per implementation ({self.reference_repeats} for the "
                f"autograd reference, at B in {list(self.reference_batch_sizes)}) in {self.rounds} blocks "
                f"taking turns, each block after {self.warmup} warm-up calls and a {self.pause} s pause.")


FULL = Settings()
QUICK = Settings(H=16, T=8, batch_sizes=(1, 4), repeats=3, reference_repeats=1, rounds=1, warmup=1, budget=1.0,
                 pause=0.0, word_T=4, word_batch_sizes=(2,))


def import_torch(disabled: bool, threads: int = 2):
    """-> (torch, peers.GeneratedPeers), or None when disabled or torch is not importable."""
    if disabled or os.environ.get(NO_TORCH_ENV, "") not in ("", "0"):
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch, peers.GeneratedPeers


def import_jax(disabled: bool, threads: int = 2):
    """-> (jax, peers.GeneratedPeers), or None when disabled or jax is not importable. XLA reads
    its thread setting at import: `threads` 1 runs it single-threaded, anything else on every core."""
    if disabled or os.environ.get(NO_JAX_ENV, "") not in ("", "0"):
        return None
    if threads == 1:
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {JAX_ONE_THREAD}".strip()
    try:
        import jax
    except ImportError:
        return None
    return jax, peers.GeneratedPeers


def cases(spec_path, settings: Settings):
    """(program, numpy model, params, B, batch) for each batch size: one model, one rng, as every
    peer is checked and timed against; dense arrays float32 (no conversion is timed), tokens intp."""
    program = rnnalg.load_program(spec_path, {"H": settings.H})
    model = floor.numpy_model(program, np.float32)
    rng = np.random.default_rng(0)
    params = model.init_params(rng)
    for B in settings.batch_sizes:
        batch = {k: (v.astype(np.intp) if v.dtype.kind in "iu" else v.astype(np.float32))
                 for k, v in random_batch(program, settings.T, B, rng, mask=False).items()}
        yield program, model, params, B, batch


def rnnalg_passes(spec_path, settings: Settings):
    """(program, params, B, batch, rnnalg's forward+backward call, its loss) for each batch size."""
    for program, model, params, B, batch in cases(spec_path, settings):
        ours = lambda model=model, batch=batch: model.loss_and_grad(params, batch)  # noqa: E731
        yield program, params, B, batch, ours, ours()[0]


def bench_model(label: str, settings: Settings, torch_pair, log, jax_pair=None, skip=()) -> list[dict]:
    """Time one example at every batch size -> table rows (seconds arrays, None where not run).
    `skip`: columns of peers.PEERS not to run."""
    stem, settings = MODELS[label], settings.for_model(label)
    rows = []
    for program, model, params, B, batch in cases(ROOT / "examples" / f"{stem}.rnn", settings):
        case = peers.Case(label, stem, program, model, params, batch, model.loss_and_grad(params, batch)[0],
                          torch_pair, jax_pair, log)
        calls = {}  # column -> (call, timed calls in all)
        for column, maker in peers.PEERS.items():
            if column in skip or (column == "autograd" and B not in settings.reference_batch_sizes):
                continue
            call = maker(case)
            if call is not None:
                calls[column] = (call, settings.reference_repeats if column == "autograd" else settings.repeats)
        row = {"model": label, "B": B, **{column: None for column in peers.PEERS}, "first": case.first_calls,
               "products": len(case.floor_products), "flops": floor.total_flops(case.floor_products)}
        row.update(_rounds(calls, settings, log, f"{label} B={B}"))
        rows.append(row)
    return rows


def _rounds(calls: dict, settings: Settings, log, what: str) -> dict:
    """Time each implementation in `settings.rounds` blocks, taking turns block by block.

    Alternating whole blocks (not single calls) spreads slow drifts of the machine's speed over
    all implementations; the pause before each block lets the previous one's BLAS threads sleep.
    """
    times = {column: [] for column in calls}
    for r in range(settings.rounds):
        for column, (call, total) in calls.items():
            n = -(-total // settings.rounds)  # ceil: every round times at least one call
            time.sleep(settings.pause)
            block = time_block(call, n, settings.warmup, settings.budget / settings.rounds, settings.clock)
            times[column].extend(block)
    for column, ts in times.items():
        log(f"{what} {column}: {format_ms(np.median(ts))} ms median over {len(ts)} calls")
    return {column: np.asarray(ts) for column, ts in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run at toy sizes; writes no file unless --out")
    parser.add_argument("--no-torch", action="store_true", help=f"skip PyTorch (same as {NO_TORCH_ENV}=1)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (PyTorch eager still runs)")
    parser.add_argument("--no-jax", action="store_true", help=f"skip JAX (same as {NO_JAX_ENV}=1)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    parser.add_argument("--out", type=Path, help="markdown file (default bench/results.md; none with --quick)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time (default) or process CPU time: steadier on a busy machine, but only "
                             "meaningful single-threaded (OPENBLAS_NUM_THREADS=1 ... --torch-threads 1)")
    parser.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--jax-threads", type=int, default=2,
                        help="1: XLA single-threaded; otherwise its default, every core (default 2)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="first wait up to this long for the 1-minute load average to fall below cores/4")
    parser.add_argument("--batch-sizes", metavar="B,B,…",
                        help="comma-separated subset of the plain models' batch sizes (default 1,16,64)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    labels = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in labels if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if args.torch_threads < 1:
        parser.error("--torch-threads must be at least 1")
    settings = dataclasses.replace(QUICK if args.quick else FULL, clock=args.clock)
    if args.batch_sizes:
        try:
            batch_sizes = tuple(int(b) for b in args.batch_sizes.split(","))
        except ValueError:
            parser.error(f"--batch-sizes: expected whole numbers separated by commas, got {args.batch_sizes!r}")
        if min(batch_sizes) < 1:
            parser.error("--batch-sizes: every batch size must be at least 1")
        settings = dataclasses.replace(settings, batch_sizes=batch_sizes,
                                       reference_batch_sizes=tuple(b for b in settings.reference_batch_sizes
                                                                   if b in batch_sizes))
    if WORD not in labels:
        settings = dataclasses.replace(settings, word_batch_sizes=())
    out = args.out if args.out is not None or args.quick else HERE / "results.md"
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))

    torch_pair = import_torch(args.no_torch, args.torch_threads)
    jax_pair = import_jax(args.no_jax, args.jax_threads)
    if args.clock == "cpu" and (os.environ.get("OPENBLAS_NUM_THREADS") != "1" or args.torch_threads != 1
                                or args.jax_threads != 1):
        log("warning: --clock cpu also counts idle-spinning BLAS threads; "
            "use OPENBLAS_NUM_THREADS=1, --torch-threads 1 and --jax-threads 1")
    _wait_quiet(args.wait_quiet, log)
    load_before = report.load_average()
    log(f"load average {load_before} on {os.cpu_count()} cores" +
        ("  (busy machine: timings will be noisy)" if _busy() else ""))
    skip = ("compiled",) if args.no_compile else ()
    rows = [row for label in labels for row in bench_model(label, settings, torch_pair, log, jax_pair, skip)]
    info = report.machine_info(torch_pair and torch_pair[0], jax_pair and jax_pair[0], args.jax_threads,
                               compiled=torch_pair is not None and not args.no_compile,
                               fast=any(row["fast"] is not None for row in rows))
    text = report.report(rows, settings.describe(), info, load_before)
    try:
        print(text)
    except BrokenPipeError:  # `| head`
        pass
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
        log(f"wrote {out}")
    return 0


def _load1() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # no load average on this platform
        return 0.0


def _busy(fraction: float = 0.5) -> bool:
    return _load1() > fraction * (os.cpu_count() or 1)


def _wait_quiet(seconds: float, log) -> None:
    """Sleep (up to `seconds`) while other work keeps the load above a quarter of the cores."""
    deadline = time.monotonic() + seconds
    while _busy(0.25) and time.monotonic() < deadline:
        log(f"waiting for a quiet machine: load {_load1():.2f}")
        time.sleep(min(10.0, max(deadline - time.monotonic(), 0.0)))


if __name__ == "__main__":
    sys.exit(main())
