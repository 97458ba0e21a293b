"""One `loss_and_grad` as parts of the batch on threads, each with a one-thread BLAS.

OpenBLAS's second thread shortens a recurrent step's small products ((B, H) · (H, 4H), B ≤ 64) by
only 14–30 %, while PyTorch's whole LSTM gets 43–46 % from its second thread (bench/README.md,
"LSTM").  So with n ≥ 2 BLAS threads the batch is cut into n parts of consecutive sequences, each
part's whole forward and backward runs on a thread of its own with every BLAS on one thread (the
compiled kernels release the GIL; numpy's products and large elementwise loops do too), and

    loss  = Σ_k loss_k · c_k / c,     grads = Σ_k grads_k · c_k / c,     c_k = max(n_k, 1),  c = max(Σ n_k, 1)
    final = the parts' final states, stacked back along B

where n_k is part k's count of unmasked positions (the mask's sum): the module's loss is
`nll_sum / max(count, 1)` and its gradient that sum's gradient over the same number, and nothing
in a model mixes sequences, so this is the unsplit call's function.  Inputs, targets, mask,
state and dropout masks (drawn by the caller, so the same draws as unsplit) are cut along B.
In float64 it agrees with the unsplit call to rounding (~1e-15); in float32 to float32's, as
another BLAS thread count does (sums in another order).

Which calls split (`parts`): with `Model.batch_threads` None (the default) those of the fast
backend with B ≥ 2 · MIN_ROWS while numpy's BLAS has n ≥ 2 threads (OPENBLAS_NUM_THREADS,
threadpoolctl, `rnnalg train --threads N`), into min(n, B // MIN_ROWS) parts; with it set to n,
min(n, B) parts whatever the BLAS and backend (1: never).  Not the numpy backend by default: its
step loop is Python, which holds the GIL, so its parts would mostly take turns.  A BLAS that cannot be put on one thread (another Python
thread holds threadpoolctl's control of OpenBLAS) runs the call unsplit.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import threading
from pathlib import Path

import numpy as np

MIN_ROWS = 8  # rows per part at least, when the split is automatic (measured: bench/README.md, "LSTM")
QUIET = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}  # model._QUIET, per thread


@functools.lru_cache(maxsize=None)
def _blas_controllers() -> tuple:
    """(numpy's BLAS, every loaded BLAS) as threadpoolctl controllers; (None, ()) without it."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None, ()
    libs = tuple(ThreadpoolController().select(user_api="blas").lib_controllers)
    own = [lib for lib in libs if "numpy" in Path(lib.filepath).parent.name]
    return (own or list(libs) or [None])[0], libs


def numpy_blas():
    """threadpoolctl's controller of the BLAS numpy calls (the one in numpy's own folder, else the
    first one loaded), or None without threadpoolctl or a BLAS (train/numerics.py records it)."""
    return _blas_controllers()[0]


def blas_threads() -> int:
    """numpy's BLAS thread count now (1 where unknown)."""
    lib = numpy_blas()
    return 1 if lib is None else int(lib.num_threads or 1)


def parts(B: int, batch_threads: int | None = None, compiled: bool = True) -> int:
    """How many parts a call with B sequences runs as (1: unsplit); the module docstring's rule."""
    if batch_threads is not None:
        return max(1, min(int(batch_threads), B))
    if not compiled or B < 2 * MIN_ROWS:
        return 1
    return max(1, min(blas_threads(), B // MIN_ROWS))


@contextlib.contextmanager
def one_blas_thread():
    """Every loaded BLAS on one thread inside the block (-> True), as before after it; -> False
    (nothing changed) where one cannot be set, e.g. another thread controls OpenBLAS."""
    _, libs = _blas_controllers()
    before = [lib.num_threads for lib in libs]
    try:
        for lib in libs:
            lib.set_num_threads(1)
        yield all(lib.num_threads == 1 for lib in libs)
    finally:
        for lib, n in zip(libs, before):
            lib.set_num_threads(n)


def bounds(B: int, n: int) -> list[tuple]:
    """[(lo, hi), …]: n parts of consecutive rows, sizes differing by at most one."""
    cuts = [B * k // n for k in range(n + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def cut(batch: dict, static, state, noise, lo: int, hi: int) -> tuple:
    """(batch, state, noise) of sequences lo..hi-1, each array C-contiguous (the compiled kernels'
    layout): a static input and a state (B, …) along axis 0, the rest (T, B, …) along axis 1."""
    rows = slice(lo, hi)
    part = {name: np.ascontiguousarray(a[rows] if name in static else a[:, rows]) for name, a in batch.items()}
    state = None if state is None else {name: np.ascontiguousarray(a[rows]) for name, a in state.items()}
    noise = None if noise is None else {name: np.ascontiguousarray(a[:, rows]) for name, a in noise.items()}
    return part, state, noise


def count(batch: dict, dtype, lo: int, hi: int, T: int) -> float:
    """Unmasked positions of sequences lo..hi-1, summed as the module sums its `count`."""
    mask = batch.get("mask")
    return float(mask[:, lo:hi].astype(dtype).sum()) if mask is not None else float(T * (hi - lo))


def combine(results, counts) -> tuple:
    """(loss, grads, final) of the whole batch from each part's (loss, grads, final) and count."""
    weights = [max(n, 1.0) / max(sum(counts), 1.0) for n in counts]
    loss = sum(float(r[0]) * w for r, w in zip(results, weights))
    grads = {}
    for (_, part_grads, _), w in zip(results, weights):
        for name, g in part_grads.items():
            grads[name] = g * w if name not in grads else grads[name] + g * w  # (g * w: float32 stays float32)
    finals = [r[2] for r in results]
    final = {name: np.concatenate([f[name] for f in finals], axis=0) for name in finals[0]}
    return loss, grads, final


_POOL_LOCK = threading.Lock()
_POOL: list = []  # [ThreadPoolExecutor], made at the first split


def _pool(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    with _POOL_LOCK:
        if not _POOL or _POOL[0]._max_workers < workers:
            if _POOL:
                _POOL.pop().shutdown(wait=False)
            _POOL.append(concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="rnnalg-batch"))
        return _POOL[0]


def loss_and_grad(run, n: int, params, batch: dict, static, state=None, noise=None, dtype=np.float32):
    """`run` (an emitted module's loss_and_grad) over n parts of `batch` on n threads (this one and
    n − 1 workers), combined (module docstring); unsplit where the BLAS cannot be put on one thread."""
    T, B = _time_and_batch(batch, static)
    spans = bounds(B, n)

    def one(span):
        with np.errstate(**QUIET):  # numpy's error state is per thread
            return run(params, *cut(batch, static, state, noise, *span))

    with one_blas_thread() as pinned:
        if not pinned:
            return run(params, batch, state, noise)
        futures = [_pool(n - 1).submit(one, span) for span in spans[1:]]
        try:
            first = one(spans[0])
        finally:
            concurrent.futures.wait(futures)
        results = [first] + [f.result() for f in futures]
    return combine(results, [count(batch, dtype, lo, hi, T) for lo, hi in spans])


def _time_and_batch(batch: dict, static) -> tuple:
    for name, a in batch.items():
        if name not in static:
            return a.shape[:2]
    raise ValueError("a batch needs one time-varying array to split")
