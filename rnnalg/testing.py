"""Checks of a compiled model against the autograd reference and finite differences.

    errors = compare_with_reference(program)          # {'loss': …, 'z.W_x': …} relative errors
    assert max(errors.values()) < 1e-6

Shipped in the package (as autograd ships `check_grads`) so users can check their
own specs: `python -c "import rnnalg.testing as t; t.main('my.rnn')"`.
"""
from __future__ import annotations

import numpy as np

from .ir import Program
from .model import Model
from .reference import reference_forward, reference_loss, reference_loss_and_grad

TOL = 1e-6  # compiled vs autograd: max relative error of the loss, final states and every gradient
FD_TOL = 1e-6  # finite differences: error of a directional derivative relative to ‖g‖


def random_batch(program: Program, T: int, B: int, rng, mask: bool = True):
    """Inputs and targets of the right kinds; with `mask`, sequence b is padded after T − b steps."""
    batch = {}
    for v in list(program.inputs) + [h.output for h in program.heads]:
        lead = (B,) if v.name in program.static_inputs else (T, B)  # a static input: one value per sequence
        if v.kind == "token":
            batch[v.name] = rng.integers(0, v.width, size=lead)
        elif v.kind == "binary":
            batch[v.name] = (rng.random(lead + (v.width,)) < 0.3).astype(float)
        else:
            batch[v.name] = rng.normal(size=lead + (v.width,))
    if mask:
        lengths = np.maximum(T - np.arange(B), 1)
        batch["mask"] = (np.arange(T)[:, None] < lengths[None, :]).astype(float)
    return batch


def random_setup(program: Program, T=5, B=3, seed=0, mask=True, state=True, dropout=True, backend="auto"):
    """(model, params, batch, state, noise) in float64: weights as training initialises them
    (gaussian, total fan-in), biases N(0, 0.3²), layernorm gains N(1, 0.3²) and initial states
    N(0, 0.5²) (not zero)."""
    rng = np.random.default_rng(seed)
    model = Model(program, np.float64, backend)
    params = model.init_params(rng, "gaussian", None)
    for name, role in model.param_roles.items():
        if role == "bias":
            params[name] = rng.normal(0.0, 0.3, size=params[name].shape)
        elif role == "gain":  # not all ones: a gain's gradient must show
            params[name] = rng.normal(1.0, 0.3, size=params[name].shape)
    batch = random_batch(program, T, B, rng, mask)
    init = {s.prev.name: rng.normal(0.0, 0.5, size=(B, s.prev.width)) for s in program.states} if state else None
    noise = model.draw_noise(rng, T, B) if dropout else None
    return model, params, batch, init, noise


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-12))


def compare_with_reference(program: Program, **setup):
    """Relative error of the loss, the final (carried) states and every gradient vs autograd."""
    model, params, batch, state, noise = random_setup(program, **setup)
    loss, grads, final = model.loss_and_grad(params, batch, state, noise)
    ref_loss, ref_grads = reference_loss_and_grad(program, params, batch, state, noise)
    errors = {"loss": _rel(loss, ref_loss)}
    errors.update({name: _rel(grads[name], ref_grads[name]) for name in ref_grads})
    _, ref_final = reference_forward(program, params, batch, state, noise)
    for s in program.states:
        errors[f"final {s.prev.name}"] = _rel(final[s.prev.name], ref_final[s.prev.name])
    return errors


def _unit(direction):
    norm = np.sqrt(sum(float(np.sum(v * v)) for v in direction.values()))
    return {k: v / norm for k, v in direction.items()}


def finite_difference_errors(program: Program, probes: int = 3, eps: float = 1e-6, **setup):
    """Finite differences of the reference loss vs the compiled gradient g, along unit directions
    d over all parameters: g's own direction, then `probes` random ones.  Each error is

        |D − g·d| / ‖g‖,   D = (4 D(ε/2) − D(ε)) / 3,   D(ε) = (L(θ + εd) − L(θ − εd)) / 2ε,

    the directional derivative's error relative to the largest one.  Unit directions keep the
    step ε in parameter space whatever the number of parameters (one N(0, 1) entry per
    parameter is a step of ε·√n, whose truncation error grows with n); Richardson's
    combination cancels the ε² term (saturated units make it large along g); dividing by ‖g‖
    keeps the rounding (~1e-16·|L|/ε) small.  Along g a wrong scale of any part of g shows;
    along a random d an error e in g shows as ~‖e‖/√n."""
    model, params, batch, state, noise = random_setup(program, **setup)
    _, grads, _ = model.loss_and_grad(params, batch, state, noise)
    norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    rng = np.random.default_rng(1)
    directions = [_unit(grads)] + [_unit({k: rng.normal(size=v.shape) for k, v in params.items()})
                                   for _ in range(probes)]

    def central(direction, step):
        plus = {k: params[k] + step * direction[k] for k in params}
        minus = {k: params[k] - step * direction[k] for k in params}
        return (reference_loss(program, plus, batch, state, noise)
                - reference_loss(program, minus, batch, state, noise)) / (2 * step)

    errors = []
    for direction in directions:
        numeric = (4 * central(direction, eps / 2) - central(direction, eps)) / 3
        analytic = sum(float(np.sum(grads[k] * direction[k])) for k in params)
        errors.append(abs(numeric - analytic) / max(norm, 1e-12))
    return errors


def main(path: str, sizes=None) -> int:
    """Print the worst relative errors of a spec's compiled gradients."""
    from . import load_program

    program = load_program(path, sizes)
    worst = max(compare_with_reference(program).values())
    fd = max(finite_difference_errors(program))
    print(f"{path}: autograd max rel err {worst:.2e}, finite differences {fd:.2e} (of the gradient norm)")
    return 0 if worst < TOL and fd < FD_TOL else 1
