"""A compiled spec: the emitted numpy module, run in-process.

    model = rnnalg.compile(program)                     # or rnnalg.compile("examples/dots.rnn")
    params = model.init_params(np.random.default_rng(0))
    loss, grads, final_state = model.loss_and_grad(params, batch, state)

What runs is exactly the text `rnnalg compile -o` writes (`model.source`); with the fast
backend (numba installed, or backend="fast") its scan kernels, the same text, run compiled for
small batches (rnnalg/fast/).
"""
from __future__ import annotations

import builtins
import linecache
import os

import numpy as np

from .errors import UsageError
from .ir import Program
from .lower.emit import emit_module
from .lower.footprint import require
from .lower.memory import keep_freed_memory

# numpy's overflow / invalid-value warnings are off while the emitted module runs: they would
# print lines of generated code, and a non-finite result shows in what is returned (the
# trainer stops on it with a message).
_QUIET = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}


class Model:
    """Forward, loss and BPTT gradients of one program (time-major arrays (T, B, D))."""

    def __init__(self, program: Program, dtype=np.float32, backend="auto"):
        keep_freed_memory()
        self.program = program
        self.dtype = np.dtype(dtype)
        self.source = emit_module(program)
        filename = f"<rnnalg model of {program.file}#{id(self)}>"
        linecache.cache[filename] = (len(self.source), None, self.source.splitlines(True), filename)
        namespace = {"__name__": "rnnalg_compiled_model"}
        exec(builtins.compile(self.source, filename, "exec"), namespace)
        self._module = namespace
        self.backend = _install_backend(backend, self.source, namespace)
        self.param_shapes = {p.name: p.shape for p in program.params}
        self.param_roles = {p.name: p.role for p in program.params}
        self.has_dropout = bool(namespace["DROPOUT"])

    # ---- setup -----------------------------------------------------------------------------
    def init_params(self, rng, scheme="gaussian", scale=None):
        """name -> array; scheme 'gaussian' | 'orthogonal' | 'sparse' (see prelude.init).

        ResourceError before allocating if the parameters cannot fit in memory.
        """
        require(self.program, "initialise", itemsize=self.dtype.itemsize,
                resize="with rnnalg.load_program(path, sizes={NAME: VALUE})")
        return self._module["init"](rng, scheme, scale, self.dtype)

    def initial_state(self, batch_size):
        return self._module["initial_state"](batch_size, self.dtype)

    def draw_noise(self, rng, T, B):
        """Dropout masks for one (T, B) batch, or None if the spec has no dropout."""
        return self._module["draw_noise"](rng, T, B, self.dtype)

    # ---- running (numpy's floating-point warnings off, see _QUIET) ------------------------
    def loss_and_grad(self, params, batch, state=None, noise=None):
        """-> (loss, grads, final_state); loss = mean NLL per unmasked position."""
        batch = self._batch(batch, targets=True)
        with np.errstate(**_QUIET):
            loss, grads, final = self._module["loss_and_grad"](params, batch, state, noise)
        return float(loss), grads, final

    def evaluate(self, params, batch, state=None):
        """-> (nll_sum, count, final_state) without dropout."""
        batch = self._batch(batch, targets=True)
        with np.errstate(**_QUIET):
            nll_sum, count, final, _ = self._module["forward"](params, batch, state, None)
        return nll_sum, count, final

    def forward(self, params, batch, state=None, noise=None):
        """-> (nll_sum, count, final_state, logits); targets optional."""
        batch = self._batch(batch, targets=False)
        with np.errstate(**_QUIET):
            return self._module["forward"](params, batch, state, noise)

    def step(self, params, inputs_t, state=None):
        """One step: inputs (B, W) or (B,) tokens -> (output probabilities (B, W), next state)."""
        batch = {name: np.asarray(value)[None] for name, value in inputs_t.items()}
        _, _, final, logits = self.forward(params, batch, state)
        with np.errstate(**_QUIET):
            probs = self._module["probabilities"]({k: v[0] for k, v in logits.items()})
        return probs, final

    def _batch(self, batch, targets):
        """Check names and shapes; dense arrays to the model's dtype, tokens to integers."""
        out = {}
        values = list(self.program.inputs) + [h.output for h in self.program.heads]
        T = B = None
        static = set(self.program.static_inputs)  # one value per sequence: (B,) or (B, D)
        values.sort(key=lambda v: v.name in static)  # (T, B) from a time-varying array first
        for v in values:
            if v.name not in batch:
                if v in self.program.inputs or targets:
                    raise ValueError(f"batch has no array for {v.name!r} (needs: {', '.join(x.name for x in values)})")
                continue
            arr = np.asarray(batch[v.name])
            lead = ("B",) if v.name in static else ("T", "B")
            want = len(lead) + (v.kind != "token")
            if arr.ndim != want or (v.kind != "token" and arr.shape[-1] != v.width):
                shape = "(" + ", ".join(lead + (() if v.kind == "token" else (str(v.width),))) + ")"
                raise ValueError(f"batch[{v.name!r}] has shape {arr.shape}, expected {shape}")
            if v.name in static:
                if arr.shape[0] != B:
                    raise ValueError(f"batch[{v.name!r}] has B = {arr.shape[0]}, others have {B}")
            elif T is None:
                T, B = arr.shape[:2]
            elif arr.shape[:2] != (T, B):
                raise ValueError(f"batch[{v.name!r}] has (T, B) = {arr.shape[:2]}, others have {(T, B)}")
            out[v.name] = _token_ids(v, arr) if v.kind == "token" else arr.astype(self.dtype, copy=False)
        if batch.get("mask") is not None:
            out["mask"] = np.asarray(batch["mask"], dtype=self.dtype)
        return out


def _token_ids(v, arr: np.ndarray) -> np.ndarray:
    """Token ids (T, B) as intp, each in 0..V-1; anything else is a ValueError.

    Unchecked, numpy would truncate a float id and read a negative one from the end of
    the embedding (-1: the last row).  The check is one min and one max per array.
    """
    if arr.size == 0:
        return arr.astype(np.intp)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"batch[{v.name!r}] holds {arr.dtype} values; token ids of "
                         f"{v.name} : token[{v.width}] must be integers in 0..{v.width - 1}")
    low, high = arr.min(), arr.max()
    if low < 0 or high >= v.width:
        bad = low if low < 0 else high
        where = ", ".join(str(int(i)) for i in np.argwhere(arr == bad)[0])
        raise ValueError(f"batch[{v.name!r}][{where}] = {bad} is not a token id of "
                         f"{v.name} : token[{v.width}] (ids are 0..{v.width - 1})")
    return arr.astype(np.intp)


BACKENDS = ("auto", "numpy", "fast")
BACKEND_ENV = "RNNALG_BACKEND"  # what 'auto' means when set: numpy or fast


def _install_backend(backend: str, source: str, namespace: dict) -> str:
    """Swap the module's scan kernels for numba-compiled ones ('fast'), or keep the numpy ones;
    'auto' is $RNNALG_BACKEND if set, else 'fast' when numba is installed.  -> the backend in use."""
    from . import fast
    if backend == "auto" and os.environ.get(BACKEND_ENV):
        backend = os.environ[BACKEND_ENV]
        if backend not in BACKENDS:
            raise UsageError(f"{BACKEND_ENV}={backend!r} is not a backend (choose from {', '.join(BACKENDS)})")
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    if backend == "numpy" or (backend == "auto" and fast.unavailable_reason()):
        return "numpy"
    blas = fast.kernel_blas()
    for name, compiled in fast.load_kernels(source).items():
        namespace[name] = fast.by_batch(compiled, namespace[name], blas=blas, name=name)
    return "fast"


def compile(program: Program, dtype=np.float32, backend="auto") -> Model:  # noqa: A001 - the verb users expect
    """Lower a checked program to a runnable model; backend 'auto' | 'numpy' | 'fast' (numba)."""
    return Model(program, dtype, backend)
