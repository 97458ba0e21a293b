"""The helpers the scan kernels call, for numba (the fast backend's kernel modules start with this
text, as the numpy module starts with `lower/prelude.py`).  Each matches its numpy namesake:
float64 to a few ulp, float32 to rounding.

`np.tanh` inside a kernel is rewritten to `_tanh`: numba's own tanh calls libm once per element
(16 ns in float32, 40 times numpy's vectorised loop); `_tanh` uses, in float32, Eigen's rational
approximation on [−7.905, 7.905] (≤ 6 ulp of numpy's float32 tanh over a dense grid, ±0, subnormals,
±inf and nan included: tests/test_fast_backend_rows.py), and libm's tanh in float64.
"""
import math

import numpy as np
from numba import njit, vectorize
from numba.core import types
from numba.extending import overload

from . import cache_lock

cache_lock.install()  # before the cached functions below compile
LP_EPS = 1e-6  # as in the numpy module
_CLAMP = np.float32(7.90531110763549805)  # |x| beyond it: tanh(x) rounds to ±1 in float32
_P = tuple(np.float32(c) for c in (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
                                   5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
                                   4.89352455891786e-03))
_Q = tuple(np.float32(c) for c in (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
                                   4.89352518554385e-03))


@njit(inline="always", cache=True)
def _tanh_f32(x):
    """x·p(x²) / q(x²) on the clamped x, all in float32, x multiplied last (x·p first loses a tiny
    x's low bits to subnormal products: 73 ulp at 1e-38).  Branch-free, so LLVM vectorises a
    loop of it (with error_model='numpy', see numba_rows)."""
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = (((((_P[0] * x2 + _P[1]) * x2 + _P[2]) * x2 + _P[3]) * x2 + _P[4]) * x2 + _P[5]) * x2 + _P[6]
    return x * (p / (((_Q[0] * x2 + _Q[1]) * x2 + _Q[2]) * x2 + _Q[3]))


def _tanh_scalar(x):
    return math.tanh(x)


@overload(_tanh_scalar, inline="always")
def _tanh_scalar_typed(x):
    if x == types.float32:
        return lambda x: _tanh_f32(x)
    return lambda x: math.tanh(x)


@vectorize(["float32(float32)", "float64(float64)"], cache=True)
def _tanh(x):
    """tanh, elementwise: `_tanh(a)` or `_tanh(a, out)`."""
    return _tanh_scalar(x)


@njit(cache=True)
def _sigmoid(a):
    """σ(a) = ½ (1 + tanh(a/2))."""
    out = np.empty_like(a)
    half = a.dtype.type(0.5)
    for i in np.ndindex(a.shape):
        out[i] = half * (1 + _tanh_scalar(half * a[i]))
    return out


@njit(cache=True)
def _tanh_deriv(y):
    """1 − y² of the 2-D y = tanh(a), as the numpy prelude's (one new array; a fused run's
    fallback: fusion.DERIVS)."""
    d = np.empty(y.shape, y.dtype)
    one = y.dtype.type(1)
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            d[i, j] = one - y[i, j] * y[i, j]
    return d


@njit(cache=True)
def _sigmoid_deriv(y):
    """(1 − y) y of the 2-D y = σ(a), as the numpy prelude's."""
    d = np.empty(y.shape, y.dtype)
    one = y.dtype.type(1)
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            d[i, j] = (one - y[i, j]) * y[i, j]
    return d


@njit(cache=True)
def _group_max(a, k):
    """(B, W·k) -> (B, W): the max of each group of k."""
    rows, cols = a.shape
    out = np.empty((rows, cols // k), a.dtype)
    for i in range(rows):
        for j in range(cols // k):
            m = a[i, j * k]
            for q in range(1, k):
                m = max(m, a[i, j * k + q])
            out[i, j] = m
    return out


@njit(cache=True)
def _maxout_grad(a, g, k):
    """g (B, W) to the first maximal input of each group: (B, W·k)."""
    rows, cols = a.shape
    out = np.zeros((rows, cols), g.dtype)
    for i in range(rows):
        for j in range(cols // k):
            best = j * k
            for q in range(j * k + 1, j * k + k):
                if a[i, q] > a[i, best]:
                    best = q
            out[i, best] = g[i, j]
    return out


@njit(inline="always", cache=True)
def _lp_group(a, i, j, p, k):
    """(m, s) of group j of row i: m = max(ε, max |a|), s = (ε/m)^p + mean (|a|/m)^p."""
    m = LP_EPS
    for q in range(j * k, j * k + k):
        m = max(m, abs(a[i, q]))
    s = 0.0
    for q in range(j * k, j * k + k):
        s += (abs(a[i, q]) / m) ** p
    return m, (LP_EPS / m) ** p + s / k


@njit(cache=True)
def _lp(a, p, k):
    """L_p pooling over groups of k: (B, W·k) -> (B, W), = m s^(1/p) − ε."""
    rows, cols = a.shape
    out = np.empty((rows, cols // k), a.dtype)
    for i in range(rows):
        for j in range(cols // k):
            m, s = _lp_group(a, i, j, p, k)
            out[i, j] = m * s ** (1.0 / p) - LP_EPS
    return out


@njit(cache=True)
def _lp_grad(a, g, p, k):
    """dy/da_i = s^(1/p − 1) (|a_i|/m)^(p−1) sign(a_i) / k, times g."""
    rows, cols = a.shape
    out = np.empty((rows, cols), g.dtype)
    for i in range(rows):
        for j in range(cols // k):
            m, s = _lp_group(a, i, j, p, k)
            scale = g[i, j] * s ** (1.0 / p - 1.0) / k
            for q in range(j * k, j * k + k):
                out[i, q] = scale * (abs(a[i, q]) / m) ** (p - 1.0) * np.sign(a[i, q])
    return out


LN_EPS = 1e-5  # as in the numpy module


@njit(inline="always", cache=True)
def _ln_row(a, i):
    """(μ, r) of row i: r = 1 / √(σ² + ε)."""
    cols = a.shape[1]
    mu = 0.0
    for j in range(cols):
        mu += a[i, j]
    mu /= cols
    var = 0.0
    for j in range(cols):
        var += (a[i, j] - mu) ** 2
    return mu, 1.0 / math.sqrt(var / cols + LN_EPS)


@njit(cache=True)
def _layernorm(a, gain, bias):
    """(B, W): gain ⊙ (a − μ) r + bias per row."""
    rows, cols = a.shape
    out = np.empty((rows, cols), a.dtype)
    for i in range(rows):
        mu, r = _ln_row(a, i)
        for j in range(cols):
            out[i, j] = gain[j] * (a[i, j] - mu) * r + bias[j]
    return out


@njit(cache=True)
def _layernorm_grad(a, g, gain):
    """(B, W): r (ĝ − mean ĝ − n mean(ĝ n)), ĝ = g ⊙ gain, n = (a − μ) r."""
    rows, cols = a.shape
    out = np.empty((rows, cols), g.dtype)
    for i in range(rows):
        mu, r = _ln_row(a, i)
        mg = 0.0
        mgn = 0.0
        for j in range(cols):
            gn = g[i, j] * gain[j]
            mg += gn
            mgn += gn * (a[i, j] - mu) * r
        mg /= cols
        mgn /= cols
        for j in range(cols):
            out[i, j] = r * (g[i, j] * gain[j] - mg - (a[i, j] - mu) * r * mgn)
    return out
