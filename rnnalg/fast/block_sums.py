"""The weight gradients' running sums over loss_and_grad's time blocks (the prelude's
`_mmT_acc(total, a, g)`: total += aᵀ·g), added inside the product rather than made apart and then
added (issue 21: 1.8–2.5 ms a call of array adds for the LSTM at B=64, 7 blocks):

    a dense:  numpy's own `cblas_?gemm` (blas.py), β = 1:  total = aᵀ·g + total, no temporary
    a 0/1:    numba_binary's column sums, into total:      total[k] += g[r] for each x[r, k] = 1

Both are the module's sums to rounding: the BLAS adds its partial products over each K block of
rows to total one by one, where the module adds their whole sum once (float64 ~1e-16 relative).
Everything else (the first block, other dtypes or layouts, a static `a`, no BLAS found) goes to the
module's own `_mmT_acc` (`fallback`).  The BLAS is called through ctypes, which lets go of the GIL
(rnnalg/batch_threads.py runs parts of a batch on threads).
"""
from __future__ import annotations

import ctypes
import functools

import numpy as np

from . import blas
from .numba_binary import _binary, compiled, product_rows

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # the CBLAS enums


@functools.lru_cache(maxsize=None)
def gemms() -> dict | None:
    """{numpy float type: (cblas_?gemm through ctypes, its ctypes real)} of numpy's BLAS, or None."""
    found = blas.find()
    if found is None:
        return None
    lib = ctypes.CDLL(found["path"])
    i64, enum, ptr = ctypes.c_int64, ctypes.c_int, ctypes.c_void_p
    out = {}
    for kind, dtype, real in (("s", np.float32, ctypes.c_float), ("d", np.float64, ctypes.c_double)):
        gemm = getattr(lib, found[kind + "gemm"])
        gemm.argtypes = [enum, enum, enum, i64, i64, i64, real, ptr, i64, ptr, i64, real, ptr, i64]
        gemm.restype = None
        out[dtype] = (gemm, real)
    return out


def mmT_acc(fallback):
    """The module's `_mmT_acc(total, a, g)`: the product added into total by `add_product` where
    it applies, else `fallback` (the prelude's own)."""
    loops, found = compiled(), gemms()

    def _mmT_acc(total, a, g):
        if total is not None and add_product(total, a, g, loops, found):
            return total
        return fallback(total, a, g)

    _mmT_acc.fallback = fallback
    return _mmT_acc


def add_product(total, a, g, loops, found) -> bool:
    """total (K, N) += aᵀ·g summed over the leading axes of a (..., K) and g (..., N), in place
    (-> True) where it applies: one float dtype, C-ordered arrays, at least one row; else nothing
    done (-> False)."""
    rows = product_rows(a, g)
    if (rows is None or not isinstance(total, np.ndarray) or total.dtype != g.dtype
            or total.shape != (a.shape[-1], g.shape[-1]) or not total.flags.c_contiguous
            or not total.flags.writeable):
        return False
    a2, g2 = rows
    dt = total.dtype
    if loops is not None and _binary(loops, a2) and loops[1](g2.reshape(-1)):
        loops[3](a2, g2, total)
        return True
    if found is None:
        return False
    gemm, real = found[dt.type]
    (K, N), R = total.shape, a2.shape[0]
    gemm(ROW_MAJOR, TRANS, NO_TRANS, K, N, R, real(1), a2.ctypes.data, K, g2.ctypes.data, N, real(1),
         total.ctypes.data, N)
    return True
