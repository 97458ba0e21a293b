"""What a run's figures depend on beyond its settings and seed: the machine's arithmetic.

The same seed repeats a run bit for bit only with the same

    backend       numpy or fast (numba): they round float32 differently
    BLAS threads  a matrix product split over n threads sums in another order (1 vs 2 threads
                  differ from the first epoch on the README's main job); with the fast backend,
                  n ≥ 2 and B ≥ 16 they also cut each batch into parts on threads, whose
                  gradients add in another order (rnnalg/batch_threads.py: fixed by n and B)
    numpy, BLAS   versions, and the BLAS's kernel for this CPU (OpenBLAS picks one per CPU)

A run records them (`TrainConfig.threads`; `environment()` in its checkpoints and result), a
resumed run trains on its recorded thread count and backend, and `differences()` says what
else differs.  Thread counts are read and set through threadpoolctl; without it nothing is
set and the BLAS is recorded as None.
"""
from __future__ import annotations

import contextlib
import functools
import os

import numpy as np

from .. import batch_threads

# the names under which checkpoints, result.json and results lines record the machine's arithmetic
RECORDED = ("backend", "threads", "numpy", "blas")


def _numpy_blas():
    """threadpoolctl's record of the BLAS numpy calls (batch_threads.numpy_blas: the one in numpy's
    own folder, else the first one loaded), or None without threadpoolctl or a BLAS."""
    lib = batch_threads.numpy_blas()
    return None if lib is None else lib.info()


def blas_threads() -> int | None:
    """The thread count of numpy's BLAS now (None: unknown)."""
    lib = _numpy_blas()
    return None if lib is None else int(lib["num_threads"])


@functools.lru_cache(maxsize=None)  # fixed once numpy is loaded; asked at every checkpoint
def blas_name() -> str | None:
    """'openblas 0.3.31 Haswell': the BLAS numpy calls, its version and CPU kernel (None: unknown)."""
    lib = _numpy_blas()
    if lib is None:
        return None
    parts = (lib.get("internal_api"), lib.get("version"), lib.get("architecture"))
    return " ".join(str(p) for p in parts if p)


def environment(backend: str | None) -> dict:
    """{backend, numpy, blas}: what a checkpoint and a result record besides the thread count."""
    return {"backend": backend, "numpy": np.__version__, "blas": blas_name()}


@contextlib.contextmanager
def blas_threads_set(threads: int | None):
    """Every loaded BLAS on `threads` threads inside the block (None: left as it is); the
    counts from before are restored after it."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threads is None or threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def differences(recorded: dict, now: dict) -> list:
    """'numpy 2.1.0 (now 2.3.1)' for each of numpy and the BLAS that the run recorded and that
    differs now (a field not recorded, e.g. by an older rnnalg, is not compared)."""
    return [f"{name} {recorded[name]} (now {now.get(name)})" for name in ("numpy", "blas")
            if recorded.get(name) is not None and recorded[name] != now.get(name)]


def resumed_backend(recorded: str | None) -> tuple:
    """(backend to compile a resumed run with, a note to print or None): the recorded one when
    this machine has it; 'auto' for a checkpoint that recorded none (older rnnalg)."""
    from ..fast import unavailable_reason
    from ..model import BACKEND_ENV

    if recorded is None:
        return "auto", None
    if recorded == "fast" and unavailable_reason():
        return "numpy", (f"warning: this run was trained on the fast backend, which is not available here "
                         f"({unavailable_reason()}); it continues on numpy, so its figures will differ "
                         f"from an uninterrupted run's")
    asked = os.environ.get(BACKEND_ENV)
    if asked and asked not in ("auto", recorded):
        return recorded, (f"note: the run continues on the {recorded} backend it was trained on "
                          f"({BACKEND_ENV}={asked} is for new runs)")
    return recorded, None
