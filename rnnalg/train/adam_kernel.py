"""Adam as one numba loop over the flat buffers: `FlatStep._adam`'s eleven ufunc passes in one,
bit for bit (issue 21).

numpy computes `β₁·m` for a float32 m and a Python float β₁ as float32(β₁)·m, rounded to float32
(NEP 50), and so every step of

    m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)(g·g);  θ ← θ − η(m/c₁) / (√(v/c₂) + ε)

is one float32 operation on float32 operands.  The loop below does the same operations in the
same order on the same operands (the constants rounded to the buffer's dtype first), with no
fast-math: no reassociation, no fused multiply-add, so every element rounds as numpy's passes
do (tests/test_train_bitident.py compares with the dict update).
"""
from __future__ import annotations

import numpy as np

from ..fast import optional_loop


def _adam_loop(p, m, v, g, lr, beta1, one_minus_beta1, beta2, one_minus_beta2, correct1, correct2, eps):
    """In place over flat, equally long p, m, v, g; the scalars already in their dtype."""
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * beta1 + gi * one_minus_beta1
        vi = v[i] * beta2 + (gi * gi) * one_minus_beta2
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - (mi / correct1) * lr / (np.sqrt(vi / correct2) + eps)


def compiled():
    """The numba-compiled loop, or None without numba."""
    return optional_loop.compiled(_adam_loop)


def adam_step(p, m, v, g, lr, t, beta1=0.9, beta2=0.999, eps=1e-8) -> bool:
    """One Adam step at step count t (1 for the first) in place; False (nothing done) without numba."""
    loop = compiled()
    if loop is None:
        return False
    cast = p.dtype.type
    loop(p, m, v, g, cast(lr), cast(beta1), cast(1.0 - beta1), cast(beta2), cast(1.0 - beta2),
         cast(1.0 - beta1**t), cast(1.0 - beta2**t), cast(eps))
    return True
