"""One update's arrays in a few flat buffers: weight noise, clipping, Adam and SGD in place.

`optim.py`'s functions loop over a dict of small arrays and allocate every intermediate;
`FlatStep` holds the parameters, the optimiser moments, the gradient and the weight noise each
in one preallocated buffer (every array a 64-byte-aligned view), and runs an update as a few
whole-buffer ufuncs with `out=`.  It repeats `optim.py` and `add_weight_noise` (below) bit for
bit: the same operations in the same order and precision on every element, e.g. for a float32
model and Adam (g, m, v, θ float32; β₁, β₂, ε, η Python floats, so each product rounds to
float32 as in the dict code)

    m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)(g·g);  θ ← θ − η(m/c₁) / (√(v/c₂) + ε)

and the weight noise draws one float64 N(0, 1) per weight element, in parameter order, into one
buffer (`rng.standard_normal(out=)`: the same stream as a draw per array), rounds σ·ε to the
model's dtype and adds it (tests/test_train_bitident.py compares with a frozen copy of the old
update).  `FlatStep.of(params, opt_state, ...)` is None where it cannot promise that (mixed
dtypes, an optimiser not in optim.py); `DictStep` is then the same methods over the dict
functions, so the trainer runs one update path either way:

    noisy = step.add_weight_noise(σ, rng);  grads, norm = step.clip_gradients(grads, c)
    step.optimiser_step(grads, lr, momentum=μ, nesterov=…)     # step.params, step.opt_state: the new ones
"""
from __future__ import annotations

import numpy as np

from . import normals
from .adam_kernel import adam_step
from .optim import adam_update, clip_by_global_norm, global_norm, sgd_update

NOISY_ROLES = ("weight", "embedding")  # what weight noise perturbs (biases stay clean)
ALIGN = 64  # bytes: each view starts on a cache line
STEP = 16  # elements: views start at multiples of 16 elements in every dtype (one layout for all)
# the dict update each in-place update repeats -> its name and moment prefixes
IN_PLACE = {adam_update: ("adam", ("m", "v")), sgd_update: ("sgd", ("v",))}


def _python_numbers(*values) -> bool:
    """True when every value is a Python int or float: numpy then computes x·a in a's dtype
    (NEP 50), as the dict code does; a numpy float64 would widen it to float64."""
    return all(type(v) in (int, float) for v in values)


def _numpy_normals(rng, out):
    rng.standard_normal(out=out)


def add_weight_noise(params: dict, roles: dict, sigma: float, rng) -> dict:
    """θ + σ·N(0, 1) on 'weight' and 'embedding' parameters, biases unchanged (new arrays)."""
    noisy = {}
    for name, p in params.items():
        if roles[name] in NOISY_ROLES:
            noisy[name] = p + (sigma * rng.standard_normal(p.shape)).astype(p.dtype)
        else:
            noisy[name] = p
    return noisy


class DictStep:
    """FlatStep's methods over the dict functions (`add_weight_noise`, optim.py's clipping and
    `update`), for the arrays FlatStep refuses: each call makes new arrays, and `optimiser_step`
    replaces `params` and `opt_state` by the optimiser's new dicts."""

    def __init__(self, params: dict, opt_state: dict, roles: dict, update):
        self.params, self.opt_state, self._roles, self._update = params, opt_state, roles, update

    def add_weight_noise(self, sigma: float, rng) -> dict:
        return add_weight_noise(self.params, self._roles, sigma, rng)

    def clip_gradients(self, grads: dict, max_norm):
        return clip_by_global_norm(grads, max_norm)

    def optimiser_step(self, grads: dict, lr, momentum=0.9, nesterov=False) -> None:
        self.params, self.opt_state = self._update(self.params, grads, self.opt_state, lr,
                                                   momentum=momentum, nesterov=nesterov)


class Slab:
    """One zeroed flat buffer of `dtype` with an aligned view per name: `.views[name]` has
    `shapes[name]`; padding between views stays zero."""

    def __init__(self, shapes: dict, dtype):
        dtype, step = np.dtype(dtype), STEP
        self.offsets, end = {}, 0
        for name, shape in shapes.items():
            size = int(np.prod(shape, dtype=np.int64))
            self.offsets[name] = (end, size)
            end += -(-size // step) * step
        raw = np.zeros(end + ALIGN // dtype.itemsize, dtype)
        skip = (-raw.ctypes.data % ALIGN) // dtype.itemsize
        self.flat = raw[skip:skip + end]
        self.views = {name: self.flat[o:o + n].reshape(shapes[name]) for name, (o, n) in self.offsets.items()}

    def load(self, arrays: dict) -> None:
        for name, a in arrays.items():
            np.copyto(self.views[name], a)


class FlatStep:
    """The buffers of one run's update; `params` and `opt_state` are the dicts of views the
    trainer holds (`linked` says whether the trainer's dicts are still these)."""

    @classmethod
    def of(cls, params: dict, opt_state: dict, roles: dict, update, compiled=False):
        """A FlatStep holding copies of `params` and `opt_state`, or None where the update is not
        one of optim.py's (IN_PLACE) or the arrays do not share one floating dtype.  `compiled`:
        draw the weight noise with normals.fill and run Adam as adam_kernel's loop (numba; the
        same numbers), for a model on the fast backend, which has loaded numba already."""
        if update not in IN_PLACE or not params:
            return None
        kind, prefixes = IN_PLACE[update]
        dtypes = {a.dtype for a in params.values()}
        dtypes |= {opt_state.get(f"{s}/{k}", np.zeros(0)).dtype for k in params for s in prefixes}
        if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
            return None
        if set(opt_state) != {f"{s}/{k}" for k in params for s in prefixes} | ({"t"} if kind == "adam" else set()):
            return None
        return cls(params, opt_state, roles, update, compiled)

    def __init__(self, params, opt_state, roles, update, compiled):
        kind, prefixes = IN_PLACE[update]
        shapes = {k: p.shape for k, p in params.items()}
        self.dtype = next(iter(params.values())).dtype
        self.kind, self._compiled, self._update = kind, compiled, update
        self._normals = normals.fill if compiled else _numpy_normals
        self._param = Slab(shapes, self.dtype)
        self._param.load(params)
        self.params = self._param.views
        self._moments = {}
        self.opt_state = {"t": np.array(int(opt_state["t"]), np.int64)} if kind == "adam" else {}
        for s in prefixes:
            slab = Slab(shapes, self.dtype)
            slab.load({k: opt_state[f"{s}/{k}"] for k in params})
            self._moments[s] = slab.flat
            self.opt_state.update({f"{s}/{k}": v for k, v in slab.views.items()})
        self.opt_state = {k: self.opt_state[k] for k in opt_state}  # the caller's order (checkpoints)
        self._grad = Slab(shapes, self.dtype)
        self.grads = self._grad.views
        self._wide = None if self.dtype == np.float64 else Slab(shapes, np.float64)
        self._scratch = (np.empty_like(self._param.flat), np.empty_like(self._param.flat))
        noisy = [k for k in params if roles.get(k) in NOISY_ROLES]
        sizes = [self._param.offsets[k][1] for k in noisy]
        self._draw = np.empty(sum(sizes), np.float64)
        self._scaled = self._draw if self.dtype == np.float64 else np.empty(sum(sizes), self.dtype)
        self._noisy = Slab({k: shapes[k] for k in noisy}, self.dtype)
        bounds = np.cumsum([0] + sizes)
        self._noise_parts = [(self.params[k], self._scaled[a:b].reshape(shapes[k]), self._noisy.views[k])
                             for k, a, b in zip(noisy, bounds[:-1], bounds[1:])]
        self.noisy = {k: self._noisy.views.get(k, p) for k, p in self.params.items()}

    def linked(self, params: dict, opt_state: dict) -> bool:
        """Whether `params` and `opt_state` are this step's own views (not replaced since)."""
        return (params.keys() == self.params.keys() and opt_state.keys() == self.opt_state.keys()
                and all(params[k] is v for k, v in self.params.items())
                and all(opt_state[k] is v for k, v in self.opt_state.items()))

    # ------------------------------------------------------------------------- weight noise

    def add_weight_noise(self, sigma: float, rng) -> dict:
        """θ + σ·N(0, 1) on weights and embeddings (biases: the clean views), as
        add_weight_noise: the dict of views of the noisy buffer, overwritten next call."""
        self._normals(rng, self._draw)
        np.multiply(self._draw, sigma, out=self._scaled, casting="unsafe")  # σ·ε in float64, then rounded
        for clean, noise, noisy in self._noise_parts:
            np.add(clean, noise, out=noisy)
        return self.noisy

    # ---------------------------------------------------------------------------- clipping

    def clip_gradients(self, grads: dict, max_norm):
        """optim.clip_by_global_norm on a copy of `grads` in the gradient buffer: returns (the
        gradient views, ‖g‖ before clipping); ‖g‖ sums float64 Σg² per array in `grads`' order."""
        if grads.keys() != self.grads.keys():
            raise ValueError(f"the gradients name {sorted(grads)}, the parameters {sorted(self.grads)}")
        self._grad.load(grads)
        wide = self.grads
        if self._wide is not None:
            np.copyto(self._wide.flat, self._grad.flat)
            wide = self._wide.views
        total = 0.0
        for k in grads:
            total += float(np.vdot(wide[k], wide[k]))
        norm = global_norm({k: wide[k] for k in grads}) if np.isinf(total) else float(np.sqrt(total))
        if max_norm and max_norm > 0 and np.isfinite(norm) and norm > max_norm:
            np.multiply(self._grad.flat, max_norm / norm, out=self._grad.flat, casting="unsafe")
        return self.grads, norm

    # ---------------------------------------------------------------------------- optimisers

    def can_update(self, lr, momentum=0.9) -> bool:
        """Whether `optimiser_step` repeats the dict code for these hyper-parameters (Python numbers)."""
        return _python_numbers(lr, momentum)

    def optimiser_step(self, grads: dict, lr, momentum=0.9, nesterov=False) -> None:
        """One Adam or SGD step on the parameter buffer, in place (`grads`: the gradient views
        of `clip_gradients`, or any dict of the same arrays).  For hyper-parameters that are not
        Python numbers (`can_update`) the dict update runs and its arrays are copied in."""
        if not self.can_update(lr, momentum):  # a numpy η widens η·g to float64 (NEP 50): its numbers
            params, opt_state = self._update(self.params, grads, self.opt_state, lr,
                                             momentum=momentum, nesterov=nesterov)
            self._param.load(params)
            for k, v in opt_state.items():
                np.copyto(self.opt_state[k], v)
            return
        if grads is not self.grads:
            self._grad.load(grads)
        if self.kind == "adam":
            self._adam(lr)
        else:
            self._sgd(lr, momentum, nesterov)

    def _adam(self, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        t = int(self.opt_state["t"]) + 1
        correct1, correct2 = 1.0 - beta1**t, 1.0 - beta2**t
        g, p, m, v = self._grad.flat, self._param.flat, self._moments["m"], self._moments["v"]
        self.opt_state["t"][...] = t
        if self._compiled and adam_step(p, m, v, g, lr, t, beta1, beta2, eps):
            return
        a, b = self._scratch
        np.multiply(m, beta1, out=m)
        np.multiply(g, 1.0 - beta1, out=a)
        np.add(m, a, out=m)  # m = β₁m + (1−β₁)g
        np.multiply(g, g, out=a)
        np.multiply(a, 1.0 - beta2, out=a)
        np.multiply(v, beta2, out=v)
        np.add(v, a, out=v)  # v = β₂v + (1−β₂)(g·g)
        np.divide(m, correct1, out=a)
        np.multiply(a, lr, out=a)  # η(m/c₁)
        np.divide(v, correct2, out=b)
        np.sqrt(b, out=b)
        np.add(b, eps, out=b)  # √(v/c₂) + ε
        np.divide(a, b, out=a)
        np.subtract(p, a, out=p)

    def _sgd(self, lr, momentum, nesterov):
        g, p, v = self._grad.flat, self._param.flat, self._moments["v"]
        a, b = self._scratch
        np.multiply(g, lr, out=a)  # ηg
        np.multiply(v, momentum, out=v)
        np.subtract(v, a, out=v)  # v = μv − ηg
        step = v
        if nesterov:
            np.multiply(v, momentum, out=b)
            np.subtract(b, a, out=b)  # μv − ηg with the new v
            step = b
        np.add(p, step, out=p)
