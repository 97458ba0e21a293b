"""The gradient oracle: the IR evaluated step by step with HIPS autograd.

Deliberately naive and independent of the lowering: no phases, no stacked products,
every eqn of every step evaluated in order, gradients by `autograd.value_and_grad`.
Same semantics as the compiled model: masked steps keep their state, the loss is the
NLL summed over output units and averaged over unmasked positions, dropout masks
come from `noise` (None = evaluation).
"""
from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import value_and_grad
from autograd.tracer import getval

from .ir import Program
from .lower.prelude import LN_EPS, LP_EPS
from .lower.plan import NOISE_OPS
from .lower.rules import RuleTable


def _groups(a, k):
    return anp.reshape(a, a.shape[:-1] + (a.shape[-1] // k, k))


def _lp(a, p, k):
    """(ε^p + mean_k |a|^p)^(1/p) − ε, written as c (ε^p/c^p + mean_k |a/c|^p)^(1/p) − ε with
    c = max(ε, max |a|) a constant (no gradient flows through it: the value does not depend on c)."""
    ga = _groups(a, k)
    c = np.maximum(np.max(np.abs(getval(ga)), axis=-1, keepdims=True), LP_EPS)
    inner = (LP_EPS / c[..., 0]) ** p + anp.mean(anp.abs(ga / c) ** p, axis=-1)
    return c[..., 0] * inner ** (1.0 / p) - LP_EPS


# op -> f(arg, attrs, dropout mask or None) for one step (B, W)
reference_rules = RuleTable("reference_rules", {
    "tanh": lambda a, at, mask: anp.tanh(a),
    "sigmoid": lambda a, at, mask: 1.0 / (1.0 + anp.exp(-a)),
    "relu": lambda a, at, mask: anp.maximum(a, 0.0),
    "linear": lambda a, at, mask: a,
    "maxout": lambda a, at, mask: anp.max(_groups(a, at["k"]), axis=-1),
    "lp": lambda a, at, mask: _lp(a, at["p"], at["k"]),
    "dropout": lambda a, at, mask: a if mask is None else a * mask,
    "vdropout": lambda a, at, mask: a if mask is None else a * mask,
    "scale": lambda a, at, mask: at["c"] * a,
    "shift": lambda a, at, mask: a + at["c"],
})

def _layernorm(a, gain, bias):
    """gain ⊙ (a − μ) / √(σ² + ε) + bias, μ and σ² over the units of each position."""
    d = a - anp.mean(a, axis=-1, keepdims=True)
    return gain * d / anp.sqrt(anp.mean(d * d, axis=-1, keepdims=True) + LN_EPS) + bias


# op -> f(arg, [the arrays of its params]) for the non-affine ops that own parameters
reference_param_rules = RuleTable("reference_param_rules", {
    "layernorm": lambda a, p: _layernorm(a, *p),
})

# op -> f(a, b) for the ops of two equal-width values, one step (B, W) each
reference_binary_rules = RuleTable("reference_binary_rules", {
    "mul": lambda a, b: a * b,
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
})


def _binary_nll(a, y):
    return anp.sum(anp.logaddexp(0.0, a) - a * y, axis=-1)


def _logsumexp(a):
    """log Σ exp(a) over the last axis; the shift m cancels in value and gradient."""
    m = anp.max(a, axis=-1, keepdims=True)
    return (m + anp.log(anp.sum(anp.exp(a - m), axis=-1, keepdims=True)))[..., 0]


def _token_nll(a, y):
    return _logsumexp(a) - a[anp.arange(a.shape[0]), y]


def _real_nll(a, y):
    return 0.5 * anp.sum((a - y) ** 2, axis=-1)


# output kind -> per-position NLL (B,) from logits (B, W) and targets
reference_loss_rules = RuleTable("reference_loss_rules", {
    "binary": _binary_nll, "token": _token_nll, "real": _real_nll})


def reference_loss(program: Program, params, batch, state=None, noise=None):
    """Mean NLL per unmasked position (a scalar autograd can differentiate)."""
    return reference_forward(program, params, batch, state, noise)[0]


def reference_forward(program: Program, params, batch, state=None, noise=None):
    """-> (mean NLL per unmasked position, final states name -> (B, W))."""
    params = dict(params)
    for tied, source in program.ties:  # a tied softmax weight is the embedding's transpose
        params[tied] = anp.transpose(params[source])
    first = batch[next(v.name for v in program.inputs if v.name not in program.static_inputs)]
    T, B = first.shape[:2]
    mask = batch.get("mask")
    mask = np.ones((T, B)) if mask is None else np.asarray(mask, dtype=float)
    prev = {s.prev.name: (np.zeros((B, s.prev.width)) if state is None else state[s.prev.name])
            for s in program.states}
    total = 0.0
    for t in range(T):
        env = {v.name: batch[v.name] if v.name in program.static_inputs else batch[v.name][t]
               for v in program.inputs}  # a static input: one value per sequence, (B, D)
        env.update(prev)
        for e in program.eqns:
            env[e.out.name] = _apply(e, env, params, None if noise is None else noise, t)
        m = mask[t][:, None]
        for s in program.states:  # a padded step keeps its state
            env[s.next.name] = prev[s.prev.name] + m * (env[s.next.name] - prev[s.prev.name])
            prev[s.prev.name] = env[s.next.name]
        for h in program.heads:
            nll = reference_loss_rules[h.output.kind](env[h.logits.name], batch[h.output.name][t])
            total = total + anp.sum(nll * mask[t])
    return total / max(float(mask.sum()), 1.0), prev


def _apply(e, env, params, noise, t):
    if e.op == "affine":
        out = params[e.params[-1]]
        for a, w in zip(e.args, e.params):
            value = env[a.name]
            out = out + (params[w][value] if a.kind == "token" else anp.dot(value, params[w]))
        return out
    if e.params:
        return reference_param_rules[e.op](env[e.args[0].name], [params[n] for n in e.params])
    if e.op == "zoneout":  # new a, previous state b; mask 1 = take the new value
        a, b, rate = env[e.args[0].name], env[e.args[1].name], e.attr("rate")
        return b + (a - b) * ((1.0 - rate) if noise is None else noise[e.out.name][t])
    if len(e.args) == 2:
        return reference_binary_rules[e.op](env[e.args[0].name], env[e.args[1].name])
    mask = None if noise is None or e.op not in NOISE_OPS else noise[e.out.name][t]
    return reference_rules[e.op](env[e.args[0].name], dict(e.attrs), mask)


def reference_loss_and_grad(program: Program, params, batch, state=None, noise=None):
    """-> (loss, grads) by autograd, in the params' own dtype (use float64 for checks)."""
    names = [p.name for p in program.params]
    f = value_and_grad(lambda flat: reference_loss(program, dict(zip(names, flat)), batch, state, noise))
    loss, grads = f([params[n] for n in names])
    return float(loss), dict(zip(names, grads))
