"""Helpers every emitted module starts with (this file's source is pasted in verbatim).

Arrays are time-major: (T, B, D). A dense weight has shape (in, out) and is applied
as `a @ W`; an embedding table has shape (V, out) and is read by row lookup.
"""
import numpy as np

LP_EPS = 1e-6  # L_p pooling: y = (mean_k |x|^p + eps)^(1/p), eps keeps dy/dx finite at x = 0


def _mm(a, w):
    """(..., in) @ (in, out) -> (..., out), as one matrix product over all leading axes."""
    return (a.reshape(-1, a.shape[-1]) @ w).reshape(a.shape[:-1] + (w.shape[1],))


def _mmT(a, g):
    """Σ over all leading axes of a^T g: (..., in), (..., out) -> (in, out)."""
    return a.reshape(-1, a.shape[-1]).T @ g.reshape(-1, g.shape[-1])


def _embed_grad(table_shape, tokens, g):
    """Scatter-add g (..., out) into a zero (V, out) table at rows `tokens` (...)."""
    grad = np.zeros(table_shape, dtype=g.dtype)
    np.add.at(grad, tokens.reshape(-1), g.reshape(-1, g.shape[-1]))
    return grad


def _sigmoid(a):
    """σ(a) = ½ (1 + tanh(a/2)): no overflow for large |a|."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _groups(a, k):
    """(..., W·k) -> (..., W, k): unit j of the result pools inputs j·k .. j·k + k − 1."""
    return a.reshape(a.shape[:-1] + (a.shape[-1] // k, k))


def _maxout_grad(a, g, k):
    """d max_k / d a: the gradient goes to the maximal input of each group (the first, on a tie)."""
    ga = _groups(a, k)
    hit = np.arange(k) == ga.argmax(axis=-1)[..., None]
    return (hit * g[..., None]).reshape(a.shape)


def _lp(a, p, k):
    """L_p pooling over groups of k: (mean_k |a|^p + eps)^(1/p)."""
    return (np.mean(np.abs(_groups(a, k)) ** p, axis=-1) + LP_EPS) ** (1.0 / p)


def _lp_grad(a, g, p, k):
    """dy/da_i = y^(1-p) |a_i|^(p-1) sign(a_i) / k (y recomputed from a: a stored `out` of a
    next state is blended with h_{t-1} at padded steps)."""
    ga = _groups(a, k)
    scale = (g * _lp(a, p, k) ** (1.0 - p))[..., None] / k
    return (scale * np.abs(ga) ** (p - 1.0) * np.sign(ga)).reshape(a.shape)


def _log_softmax(a):
    shifted = a - a.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def init(rng, scheme="gaussian", scale=None, dtype=np.float32):
    """Fresh parameters for PARAMS.

    gaussian   — N(0, s²) with s = scale, or 1/√in when scale is None;
    orthogonal — a (semi-)orthogonal matrix times gain (scale, default 1);
    sparse     — GroundHog: each unit has min(20, in) non-zero N(0, 1) inputs, then the
                 matrix is rescaled to a largest singular value of scale (default 1).
    Embeddings use the same scheme as weights; biases start at zero.
    """
    if scheme not in _INIT_RULES:
        raise ValueError(f"unknown init scheme {scheme!r} (choose from {', '.join(_INIT_RULES)})")
    params = {}
    for name, shape, role in PARAMS:  # noqa: F821 (defined by the emitted module)
        if role == "bias":
            params[name] = np.zeros(shape, dtype=dtype)
        else:
            params[name] = _INIT_RULES[scheme](rng, shape, scale).astype(dtype)
    return params


def _init_gaussian(rng, shape, scale):
    std = scale if scale is not None else 1.0 / np.sqrt(shape[0])
    return rng.normal(0.0, std, size=shape)


def _init_orthogonal(rng, shape, scale):
    rows, cols = shape
    q, r = np.linalg.qr(rng.normal(size=(max(rows, cols), min(rows, cols))))
    q = q * np.sign(np.diag(r))  # a uniformly distributed orthogonal matrix
    w = q if rows >= cols else q.T
    return (1.0 if scale is None else scale) * w


def _init_sparse(rng, shape, scale):
    rows, cols = shape
    w = np.zeros(shape)
    nonzero = min(20, rows)
    for j in range(cols):
        w[rng.choice(rows, size=nonzero, replace=False), j] = rng.normal(size=nonzero)
    return (1.0 if scale is None else scale) * w / np.linalg.norm(w, 2)


_INIT_RULES = {"gaussian": _init_gaussian, "orthogonal": _init_orthogonal, "sparse": _init_sparse}


def initial_state(batch_size, dtype=np.float32):
    """Zero states: name -> (B, width)."""
    return {name: np.zeros((batch_size, width), dtype=dtype) for name, width in STATES}  # noqa: F821


def draw_noise(rng, T, B, dtype=np.float32):
    """Inverted-dropout masks name -> (T, B, width) of 0 or 1/(1 − rate); None without dropout."""
    if not DROPOUT:  # noqa: F821
        return None
    return {name: ((rng.random((T, B, width)) >= rate) / (1.0 - rate)).astype(dtype)
            for name, width, rate in DROPOUT}  # noqa: F821
