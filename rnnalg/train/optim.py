"""Optimisers as plain functions over a parameter dict (name -> ndarray).

An optimiser is a pair in `OPTIMIZERS`::

    state = init(params)                                   # flat dict key -> ndarray
    params, state = update(params, grads, state, lr, **hyper)

The state is a flat dict of arrays (keys like ``"v/h'.W_x"``), so a checkpoint
stores it as is in an `.npz`.  Updates return new dicts and never mutate their
arguments.

SGD with momentum μ (Sutskever et al. 2013)::

    v ← μ v − η g;   θ ← θ + v                      (classic)
    θ ← θ + μ v − η g  (with the new v)             (Nesterov, Bengio et al. 2013 form)

Adam (Kingma & Ba 2015), with bias correction::

    m ← β₁ m + (1−β₁) g;  v ← β₂ v + (1−β₂) g²;  t ← t+1
    θ ← θ − η · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
"""
from __future__ import annotations

import numpy as np


def global_norm(grads: dict) -> float:
    """‖g‖ over all arrays together, accumulated in float64 (inf/nan propagate)."""
    total = 0.0
    for g in grads.values():
        g64 = np.asarray(g, dtype=np.float64)
        total += float(np.vdot(g64, g64))
    if np.isinf(total):  # Σ g² past 1.8e308 with every g finite (‖g‖ > 1.3e154): ‖g‖ = m ‖g / m‖
        m = max(float(np.max(np.abs(np.asarray(g, dtype=np.float64)), initial=0.0)) for g in grads.values())
        if np.isfinite(m):
            return m * global_norm({k: np.asarray(g, dtype=np.float64) / m for k, g in grads.items()})
    return float(np.sqrt(total))


def clip_by_global_norm(grads: dict, max_norm: float | None):
    """Scale all gradients by min(1, max_norm / ‖g‖); returns (grads, ‖g‖ before clipping).

    `max_norm` None or <= 0 disables clipping.
    """
    norm = global_norm(grads)
    if not max_norm or max_norm <= 0 or not np.isfinite(norm) or norm <= max_norm:
        return grads, norm
    scale = max_norm / norm
    return {k: (g * scale).astype(g.dtype, copy=False) for k, g in grads.items()}, norm


# ----------------------------------------------------------------------------- SGD


def sgd_init(params: dict) -> dict:
    return {f"v/{k}": np.zeros_like(p) for k, p in params.items()}


def sgd_update(params, grads, state, lr, momentum=0.9, nesterov=False, **_ignored):
    """One SGD step with momentum `momentum` (0 gives plain SGD)."""
    new_params, new_state = {}, {}
    for k, p in params.items():
        g = grads[k]
        v = momentum * state[f"v/{k}"] - lr * g
        step = momentum * v - lr * g if nesterov else v
        new_params[k] = (p + step).astype(p.dtype, copy=False)
        new_state[f"v/{k}"] = v.astype(p.dtype, copy=False)
    return new_params, new_state


# ---------------------------------------------------------------------------- Adam


def adam_init(params: dict) -> dict:
    state = {"t": np.zeros((), dtype=np.int64)}
    for k, p in params.items():
        state[f"m/{k}"] = np.zeros_like(p)
        state[f"v/{k}"] = np.zeros_like(p)
    return state


def adam_update(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8, **_ignored):
    """One Adam step; `state['t']` counts the steps taken."""
    t = int(state["t"]) + 1
    correct1, correct2 = 1.0 - beta1**t, 1.0 - beta2**t
    new_params, new_state = {}, {"t": np.asarray(t, dtype=np.int64)}
    for k, p in params.items():
        g = grads[k]
        m = beta1 * state[f"m/{k}"] + (1.0 - beta1) * g
        v = beta2 * state[f"v/{k}"] + (1.0 - beta2) * (g * g)
        step = lr * (m / correct1) / (np.sqrt(v / correct2) + eps)
        new_params[k] = (p - step).astype(p.dtype, copy=False)
        new_state[f"m/{k}"] = m.astype(p.dtype, copy=False)
        new_state[f"v/{k}"] = v.astype(p.dtype, copy=False)
    return new_params, new_state


# name -> (init, update, default learning rate)
OPTIMIZERS = {
    "sgd": (sgd_init, sgd_update, 0.01),
    "adam": (adam_init, adam_update, 1e-3),
}
