"""A plain Python loop compiled by numba where numba is installed: the helpers outside the scan
kernels (an embedding's scatter, Adam) that have a numpy path of their own to fall back on.

    loop = compiled(_adam_loop)   # numba.njit(cache=True, nogil=True, error_model="numpy"), or None
"""
from __future__ import annotations

import functools


@functools.cache
def compiled(loop):
    """`loop` compiled by numba (its machine code cached on disk), once per process; None without numba."""
    try:
        from numba import njit
    except ImportError:
        return None
    from . import cache_lock
    cache_lock.install()
    return njit(cache=True, nogil=True, error_model="numpy")(loop)
