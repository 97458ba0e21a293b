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


def random_batch(program: Program, T: int, B: int, rng, mask: bool = True):
    """Inputs and targets of the right kinds; with `mask`, sequence b is padded after T − b steps."""
    batch = {}
    for v in list(program.inputs) + [h.output for h in program.heads]:
        if v.kind == "token":
            batch[v.name] = rng.integers(0, v.width, size=(T, B))
        elif v.kind == "binary":
            batch[v.name] = (rng.random((T, B, v.width)) < 0.3).astype(float)
        else:
            batch[v.name] = rng.normal(size=(T, B, v.width))
    if mask:
        lengths = np.maximum(T - np.arange(B), 1)
        batch["mask"] = (np.arange(T)[:, None] < lengths[None, :]).astype(float)
    return batch


def random_setup(program: Program, T=5, B=3, seed=0, mask=True, state=True, dropout=True):
    """(model, params, batch, state, noise) in float64, with non-zero biases and initial states."""
    rng = np.random.default_rng(seed)
    model = Model(program, np.float64)
    params = model.init_params(rng, "gaussian", 0.4)
    for name, role in model.param_roles.items():
        if role == "bias":
            params[name] = rng.normal(0.0, 0.3, size=params[name].shape)
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


def finite_difference_errors(program: Program, probes: int = 3, eps: float = 1e-6, **setup):
    """Central differences of the reference loss along random directions vs the compiled gradient."""
    model, params, batch, state, noise = random_setup(program, **setup)
    _, grads, _ = model.loss_and_grad(params, batch, state, noise)
    rng = np.random.default_rng(1)
    errors = []
    for _ in range(probes):
        direction = {k: rng.normal(size=v.shape) for k, v in params.items()}
        plus = {k: params[k] + eps * direction[k] for k in params}
        minus = {k: params[k] - eps * direction[k] for k in params}
        numeric = (reference_loss(program, plus, batch, state, noise)
                   - reference_loss(program, minus, batch, state, noise)) / (2 * eps)
        analytic = sum(float(np.sum(grads[k] * direction[k])) for k in params)
        errors.append(abs(numeric - analytic) / max(abs(numeric), abs(analytic), 1e-8))
    return errors


def main(path: str, sizes=None) -> int:
    """Print the worst relative errors of a spec's compiled gradients."""
    from . import load_program

    program = load_program(path, sizes)
    worst = max(compare_with_reference(program).values())
    fd = max(finite_difference_errors(program))
    print(f"{path}: autograd max rel err {worst:.2e}, finite differences {fd:.2e}")
    return 0 if worst < 1e-6 and fd < 1e-5 else 1
