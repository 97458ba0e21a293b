"""The suite runs the numpy backend unless RNNALG_BACKEND says otherwise (`RNNALG_BACKEND=fast
pytest` runs it all on the numba kernels); tests/test_fast_backend.py checks the fast backend
against the numpy one and the autograd reference.  RNNALG_FAST_STRICT=1: a kernel numba cannot
compile fails the test (tests/test_fast_compiles.py).

Hypothesis runs one of two settings profiles, chosen here before any test module is imported (a
test's own `@settings(...)` keeps its max_examples etc. and inherits the rest):
  default  (developers) random examples, the example database in .hypothesis/, full shrinking:
           each run tries new inputs and a failure is shrunk to a small one.
  ci       (loaded when the environment has CI set, as `.ci/run` does) derandomize=True: the
           examples are a function of the test alone, so a CI run is reproducible and cannot
           pass or fail by the luck of the draw; no database; no deadline (a loaded 2-core
           machine must not fail a test for being slow); no shrink or explain phase, so a
           failure reports in seconds with the first failing example (Hypothesis's own cap on
           shrinking is 5 minutes, whatever max_examples says); print_blob=True prints the
           `@reproduce_failure(...)` line that replays it.
HYPOTHESIS_PROFILE=ci (or =default) picks one explicitly.

BLAS on one thread (OPENBLAS_NUM_THREADS=1 unless the environment sets it; the processes the tests
start inherit it; a test that needs another count sets it, numerics.blas_threads_set): the
suite's products are small, and on a 2-core machine that also runs the tests' own subprocesses,
Ray workers or anything else, OpenBLAS's second thread spins while the first waits for a core.
Measured, loaded machine, CPU time of test_memory_blocks.py's traced BPTT (numpy backend):
deep_input H=128 B=32 took 18.1 and 11.0 s on the default 2 threads, 1.09 and 1.00 s on one
(its 7 cases: 31.8 and 21.8 s against 3.4 and 3.4 s; deep_input alone in its process 5.6 s);
with bench's compare --quick and cost's traced-memory tests, these 10 tests took 176 s of CPU
(user+sys) with OPENBLAS_NUM_THREADS=2, 11.9 s with 1 (deep_input: 133.6 s against 1.0 s).
"""
import os
from collections import Counter
from pathlib import Path

from hypothesis import Phase, settings

# The fast backend's kernels compile at LLVM -O1 in the suite (NUMBA_OPT=1; numba's default is 3):
# most of a cold suite's time is numba compiling, and -O1 compiles in 0.65-0.81× the CPU time
# (cold first call, H=6, loaded: lstm f64 36.2 -> 24.9 s, lstm f32 33.4 -> 21.7, gru f32 34.6 -> 26.6,
# dots f64 22.8 -> 18.0, rnn f32 18.4 -> 14.8) to bit-identical loss, gradients and final states in
# those five (no fastmath: LLVM may not reorder floating point at any level). -O0 would be cheaper still, but numba then
# cannot cache the kernels ("dynamic globals"), which test_fast_backend.py's cache test checks: -O0 keeps the
# address of every njit helper a kernel calls (numba_rows, numba_fused, numba_gemm, and those inside the
# prelude's helpers), not only the prelude's that numba_direct.py calls without one (ln_lstm f32, loaded:
# -O0 22.2 CPU s, -O1 27.9, one cold first call each).
# numba's cache does not tell -O1 code from -O3 code, so these kernels live in the suite's own
# caches, never where a user's rnnalg (RNNALG_CACHE, ~/.cache/rnnalg) or numba
# (__pycache__ beside the package) would load them: only when none of the three is set here.
# pytest-xdist's workers (and the processes they start) share these caches, so a kernel one worker
# compiled the other loads (CI-equivalent, 2 workers with a cache each: 93 of 250 signatures compiled
# on both): rnnalg/fast/cache_lock.py locks each function's numba index, which numba rewrites without.
TEST_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnnalg-tests" / "shared"
OWN_CACHES = "RNNALG_TESTS_OWN_CACHES"  # set with them: an xdist worker inherits its controller's
if os.environ.get(OWN_CACHES) or not any(os.environ.get(n) for n in ("NUMBA_OPT", "NUMBA_CACHE_DIR", "RNNALG_CACHE")):
    os.environ.update({"NUMBA_OPT": "1", "RNNALG_CACHE": str(TEST_CACHE), "NUMBA_CACHE_DIR": str(TEST_CACHE / "numba"),
                       OWN_CACHES: "1"})
os.environ.setdefault("RNNALG_BACKEND", "numpy")
# a scan kernel numba cannot compile is an error here, not by_batch's note and a silent numpy fallback
# (which the tests comparing fast with numpy cannot tell from a compiled kernel)
os.environ.setdefault("RNNALG_FAST_STRICT", "1")
if "OPENBLAS_NUM_THREADS" not in os.environ:
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read when numpy (scipy, torch) load their OpenBLAS
    from threadpoolctl import threadpool_limits
    threadpool_limits(1, user_api="blas")  # and any BLAS a plugin loaded before this file

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default"))


# `pytest -n 2 --dist loadfile` (CI) hands each worker whole files, by default the files with the most
# tests first, so files of one or two long tests went out last: the other worker sat idle while
# test_sweep_signals.py's one 55 s test ran (CI-equivalent log: the slowest test of the suite).
# On a worker (where xdist's controller takes its order from), these files come first, longest first,
# then the rest as xdist would order them; the controller keeps that order (its --loadscope-reorder off).
LONG_FEW_TEST_FILES = ("test_sweep_signals.py", "test_fast_long_kernels.py", "test_sweep_cluster.py",
                       "test_gemm_layouts.py")


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist's controller, whatever its mode
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a plain run keeps pytest's order
    per_file = Counter(item.path.name for item in items)
    long_first = {name: i for i, name in enumerate(LONG_FEW_TEST_FILES)}
    items.sort(key=lambda item: (long_first.get(item.path.name, len(long_first)), -per_file[item.path.name]))
