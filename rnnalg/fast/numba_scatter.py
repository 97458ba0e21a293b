"""An embedding's gradient for the fast backend: the prelude's `_add_rows_at` as one numba loop.

    table[rows[i]] += values[i]   for i = 0 … n−1, in that order      table (V, W), values (n, W)

np.add.at adds the entries one by one in their order; the prelude's `_add_rows_at` repeats those
sums in passes of numpy calls (as many as the commonest row's count: ~175 for the space in a
time block of 1,024 PTB characters), sorting the rows first, once per call — and an LSTM's four
gates call it four times per block.  Here each entry's row is one vectorised add in place,
entries in their order, so every element of the table gets ((t + g₁) + g₂) + … as in np.add.at:
the same numbers, bit for bit (tests/test_fast_scatter.py against np.add.at).

`add_rows_at(table, rows, values)` runs the loop where it applies — a C-ordered float32 or
float64 table, values of its dtype with contiguous rows, rows in range (−V ≤ r < V, a negative
row counted from the end as np.add.at does) — and hands anything else to the prelude's
`_add_rows_at` of the module (`fallback`), which gives np.add.at's numbers or its IndexError.
The model installs it in the module's namespace with the scan kernels (model._install_backend).
"""
from __future__ import annotations

import numpy as np

from . import optional_loop

FLOATS = (np.float32, np.float64)


def _scatter_rows(table, rows, flat, row_stride, n, width):
    """table[rows[i]] += flat[i·row_stride : i·row_stride + width] for i in order; False (and
    nothing added) if a row is out of range.  table (V, W) C-ordered, flat 1-D contiguous."""
    V = table.shape[0]
    for i in range(n):
        if rows[i] < -V or rows[i] >= V:
            return False
    for i in range(n):
        r = rows[i]
        if r < 0:
            r += V
        dst = table[r]
        src = flat[i * row_stride:i * row_stride + width]
        for j in range(width):
            dst[j] += src[j]
    return True


def compiled():
    """The numba-compiled loop (its machine code cached on disk), or None without numba."""
    return optional_loop.compiled(_scatter_rows)


def _flat_rows(values):
    """(1-D contiguous view from values[0, 0] to values[n−1, W−1], row stride in elements) of a 2-D
    array with contiguous rows and a positive row stride (a view of one buffer: that span is
    all its memory), or None."""
    n, width = values.shape
    item = values.itemsize
    if width > 1 and values.strides[1] != item:
        return None
    stride = values.strides[0] if n > 1 else width * item
    if stride <= 0 or stride % item:
        return None
    span = (n - 1) * (stride // item) + width
    return np.lib.stride_tricks.as_strided(values, shape=(span,), strides=(item,)), stride // item


def scatter_into(fallback):
    """The module's `_add_rows_at`, through the loop where it applies and `fallback` (the prelude's
    own) elsewhere."""
    loop = compiled()

    def add_rows_at(table, rows, values):
        n = len(values)
        if (loop is None or n == 0 or table.ndim != 2 or values.ndim != 2 or rows.ndim != 1
                or table.dtype.type not in FLOATS or values.dtype != table.dtype
                or not table.flags.c_contiguous or not table.flags.writeable
                or values.shape[1] != table.shape[1] or len(rows) != n or rows.dtype.kind != "i"):
            return fallback(table, rows, values)
        flat = _flat_rows(values)
        if flat is None or not loop(table, rows, flat[0], flat[1], n, values.shape[1]):
            return fallback(table, rows, values)
        return None

    add_rows_at.fallback = fallback
    return add_rows_at
