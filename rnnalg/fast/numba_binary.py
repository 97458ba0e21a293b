"""Products with a 0/1 input for the fast backend: a binary input's product and weight gradient as
sums of rows (issue 21: JSB's piano rolls, ~4 keys of 88 down per frame).

    x·W  + b   (R, K)·(K, N)  ->  out[r] = (+0 + Σ_{k: x[r,k]=1} W[k]) + b      the prelude's _affine_into
    xᵀ·G       (K, R)·(R, N)  ->  dW[k]  = +0 + Σ_{r: x[r,k]=1} G[r]            the prelude's _mmT

A dense product spends R·K·N multiply-adds where only the ones count; at JSB's ~4.3 % ones the
sums take ~0.3 of the product's time (bench/README.md, "The two LSTM rows' products against
PyTorch's, and a binary input's products as sums of rows").  Each is a numba loop of vectorised
row adds.  x·W + b gives the module's numbers bit for bit wherever the BLAS sums over k in order
from +0 (one K block: numpy's OpenBLAS for K ≤ a few hundred, JSB's 88; a zero of x adds ±0, a one
adds W[k] exactly as fma(1, W[k], acc) does), then adds b as `piece += bias` does.  xᵀ·G sums over
the R rows, which the BLAS cuts into K blocks summed apart: the same sums in another grouping,
equal to rounding (float64 ≤ 1e-15 relative here; float32 ~1e-6).

`affine_into(fallback)` / `mmT(fallback)` are the module's `_affine_into` / `_mmT` through the loops
where they apply — one dense term of x's dtype, C-ordered operands, x all 0 or 1 with at most
MAX_ONES_SHARE of it ones, the other operand finite (a NaN or inf spreads over a dense product's
zeros, not over these sums) — and the module's own function (`fallback`) everywhere else.
"""
from __future__ import annotations

import numpy as np

from . import optional_loop

FLOATS = (np.float32, np.float64)
# the sums' cost against the product's, one thread, float32, the loaded 2-core development machine
# (2026-12-06): at JSB's 4.3 % ones x·W (1,200 × 88 × 800) 0.50 against 1.76 ms, xᵀ·G 0.55 against
# 2.01 ms, so even with the count's pass the sums win to ~15 % ones; above 1/8 the BLAS's product runs
MAX_ONES_SHARE = 1 / 8


def _ones(x, limit):
    """The number of ones of the 2-D x, or −1 where a value is neither 0 nor 1 or more than
    `limit` are 1 (stopping there: a dense x is told at its first values)."""
    n = 0
    for r in range(x.shape[0]):
        for k in range(x.shape[1]):
            v = x[r, k]
            if v == 1:
                n += 1
                if n > limit:
                    return -1
            elif v != 0:
                return -1
    return n


def _finite(flat):
    """Whether every value of the 1-D contiguous `flat` is finite: Σ v·0 over 16 lanes is ±0 for
    finite values and NaN after any NaN or inf."""
    lanes = np.zeros(16, flat.dtype)
    n = flat.shape[0] - flat.shape[0] % 16
    for i in range(0, n, 16):
        for j in range(16):
            lanes[j] += flat[i + j] * 0
    rest = flat.dtype.type(0)
    for i in range(n, flat.shape[0]):
        rest += flat[i] * 0
    return lanes.sum() + rest == 0


def _row_sums(x, w, bias, out):
    """out (R, N) = x·w + bias for a 0/1 x (R, K): each row +0, then w[k] for each one in k order,
    then bias."""
    R, K = x.shape
    N = w.shape[1]
    for r in range(R):
        o = out[r]
        for j in range(N):
            o[j] = 0
        for k in range(K):
            if x[r, k] == 1:
                wk = w[k]
                for j in range(N):
                    o[j] += wk[j]
        for j in range(N):
            o[j] += bias[j]


def _column_adds(x, g, out):
    """out (K, N) += xᵀ·g for a 0/1 x (R, K), g (R, N): g[r] added to out[k] for each r with
    x[r, k] = 1, in r order (into zeros: the weight gradient, `mmT`; into a running sum over the
    time blocks: block_sums.py)."""
    R, K = x.shape
    N = g.shape[1]
    for r in range(R):
        gr = g[r]
        for k in range(K):
            if x[r, k] == 1:
                o = out[k]
                for j in range(N):
                    o[j] += gr[j]


def compiled():
    """(ones, finite, row_sums, column_adds) compiled by numba (cached on disk), or None without it."""
    loops = [optional_loop.compiled(f) for f in (_ones, _finite, _row_sums, _column_adds)]
    return None if None in loops else tuple(loops)


def _flat2d(a):
    """a (..., n) C-ordered as (rows, n) without a copy, or None."""
    if a.ndim < 2 or not a.flags.c_contiguous:
        return None
    return a.reshape(-1, a.shape[-1])


def _binary(loops, x2):
    """Whether the 2-D x2 is all 0/1 with at most MAX_ONES_SHARE of it ones."""
    return loops[0](x2, int(x2.size * MAX_ONES_SHARE)) >= 0


def affine_into(fallback):
    """The module's `_affine_into(out, bias, *terms)`: one dense 0/1 term (x, W) by `_row_sums`,
    anything else by `fallback` (the prelude's own)."""
    loops = compiled()

    def _affine_into(out, bias, *terms):
        if loops is not None and len(terms) == 1 and _take_affine(loops, out, bias, *terms[0]):
            return None
        return fallback(out, bias, *terms)

    _affine_into.fallback = fallback
    return _affine_into


def _take_affine(loops, out, bias, x, w) -> bool:
    """out = x·w + bias by the row sums where they apply (-> True), else nothing done (-> False)."""
    if not (isinstance(x, np.ndarray) and isinstance(w, np.ndarray) and isinstance(bias, np.ndarray)):
        return False
    dt = out.dtype
    if (dt.type not in FLOATS or x.dtype != dt or w.dtype != dt or bias.dtype != dt or out.size == 0
            or x.ndim != out.ndim or x.shape[:-1] != out.shape[:-1] or w.shape != (x.shape[-1], out.shape[-1])
            or bias.shape != (out.shape[-1],) or not out.flags.c_contiguous or not out.flags.writeable
            or not w.flags.c_contiguous):
        return False
    x2, out2 = _flat2d(x), _flat2d(out)
    if x2 is None or not _binary(loops, x2) or not loops[1](w.reshape(-1)):
        return False
    loops[2](x2, w, np.ascontiguousarray(bias), out2)
    return True


def mmT(fallback):
    """The module's `_mmT(a, g)`: a 0/1 `a` of g's leading shape by `_column_adds` into zeros,
    anything else by `fallback` (the prelude's own)."""
    loops = compiled()

    def _mmT(a, g):
        if loops is not None:
            got = _take_mmT(loops, a, g)
            if got is not None:
                return got
        return fallback(a, g)

    _mmT.fallback = fallback
    return _mmT


def product_rows(a, g):
    """(a2, g2): a (..., K) and g (..., N) of one float dtype and the same leading shape, at least one
    element each, as (rows, K) and (rows, N) without a copy; else None (an aᵀ·g the loops cannot take)."""
    if not (isinstance(a, np.ndarray) and isinstance(g, np.ndarray)):
        return None
    dt = g.dtype
    if dt.type not in FLOATS or a.dtype != dt or a.shape[:-1] != g.shape[:-1] or a.size == 0 or g.size == 0:
        return None
    a2, g2 = _flat2d(a), _flat2d(g)
    return None if a2 is None or g2 is None else (a2, g2)


def _take_mmT(loops, a, g):
    """aᵀ·g summed over the leading axes by the column sums where they apply, else None."""
    rows = product_rows(a, g)
    if rows is None or not _binary(loops, rows[0]) or not loops[1](rows[1].reshape(-1)):
        return None
    a2, g2 = rows
    out = np.zeros((a2.shape[1], g2.shape[1]), g2.dtype)
    loops[3](a2, g2, out)
    return out
