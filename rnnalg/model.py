"""A compiled spec: the emitted numpy module, run in-process.

    model = rnnalg.compile(program)                     # or rnnalg.compile("examples/dots.rnn")
    params = model.init_params(np.random.default_rng(0))
    loss, grads, final_state = model.loss_and_grad(params, batch, state)

What runs is exactly the text `rnnalg compile -o` writes (`model.source`); with the fast
backend (numba installed, or backend="fast") its scan kernels, the same text, run compiled for
small batches (rnnalg/fast/); with a BLAS on n ≥ 2 threads, its `loss_and_grad` of a batch of
B ≥ 16 runs as n parts of the batch on n threads, each with a one-thread BLAS, added up
(rnnalg/batch_threads.py; `model.batch_threads = n` sets n for either backend, 1 never splits).
What a caller passes (params, batch, state) is checked first (rnnalg/model_args.py): a
ValueError or TypeError naming the array and the shape expected.
"""
from __future__ import annotations

import builtins
import linecache
import os

import numpy as np

from . import batch_threads
from .errors import UsageError
from .ir import Program
from .lower.emit import emit_module
from .lower.footprint import require
from .lower.memory import keep_freed_memory
from .model_args import batch_size, check_batch, check_params, check_state

# numpy's overflow / invalid-value warnings are off while the emitted module runs: they would
# print lines of generated code, and a non-finite result shows in what is returned (the
# trainer stops on it with a message).
_QUIET = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}


class Model:
    """Forward, loss and BPTT gradients of one program (time-major arrays (T, B, D))."""

    def __init__(self, program: Program, dtype=np.float32, backend="auto"):
        _check_program(program)
        self.dtype = _float_dtype(dtype)
        keep_freed_memory()
        self.program = program
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
        self.batch_threads = None  # loss_and_grad's parts of a batch on threads: None, as the BLAS's allow; n

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
        """-> (loss, grads, final_state); loss = mean NLL per unmasked position.  Where
        `split_parts(B)` > 1, parts of the batch on threads (rnnalg/batch_threads.py): the same
        numbers up to rounding."""
        batch = self._checked(params, batch, state, targets=True)
        run, n = self._module["loss_and_grad"], self.split_parts(batch_size(batch))
        with np.errstate(**_QUIET):
            if n > 1:
                return batch_threads.loss_and_grad(run, n, params, batch, self.program.static_inputs,
                                                   state, noise, self.dtype)  # the dtype its count is summed in
            loss, grads, final = run(params, batch, state, noise)
        return float(loss), grads, final

    def split_parts(self, B: int) -> int:
        """How many parts of the batch on threads `loss_and_grad` runs a batch of B as now (1: unsplit)."""
        return batch_threads.parts(B, self.batch_threads, compiled=self.backend == "fast")

    def evaluate(self, params, batch, state=None):
        """-> (nll_sum, count, final_state) without dropout."""
        batch = self._checked(params, batch, state, targets=True)
        with np.errstate(**_QUIET):
            nll_sum, count, final, _ = self._module["forward"](params, batch, state, None)
        return nll_sum, count, final

    def forward(self, params, batch, state=None, noise=None):
        """-> (nll_sum, count, final_state, logits); targets optional."""
        batch = self._checked(params, batch, state, targets=False)
        with np.errstate(**_QUIET):
            return self._module["forward"](params, batch, state, noise)

    def step(self, params, inputs_t, state=None):
        """One step: inputs (B, W) or (B,) tokens (a static input: its (B, D) as in a batch)
        -> (output probabilities (B, W), next state)."""
        static = self.program.static_inputs
        batch = {name: np.asarray(value) if name in static else np.asarray(value)[None]
                 for name, value in inputs_t.items()}
        _, _, final, logits = self.forward(params, batch, state)
        with np.errstate(**_QUIET):
            probs = self._module["probabilities"]({k: v[0] for k, v in logits.items()})
        return probs, final

    def _checked(self, params, batch, state, targets):
        """The batch as the module takes it, after checking params, batch and state
        (rnnalg/model_args.py): a ValueError or TypeError before anything runs."""
        check_params(self.program, params)
        checked = check_batch(self.program, batch, self.dtype, targets)
        check_state(self.program, state, batch_size(checked))
        return checked


def _check_program(program) -> None:
    if isinstance(program, Program):
        return
    from .front.syntax import Spec
    if isinstance(program, Spec):
        raise TypeError("rnnalg.compile takes a checked program, not a parsed Spec: check it first, "
                        "rnnalg.compile(rnnalg.check(spec, sizes)), or load a file with "
                        "rnnalg.load_program(path, sizes)")
    raise TypeError(f"rnnalg.compile takes a checked program (rnnalg.load_program(path) or "
                    f"rnnalg.check(spec)) or a .rnn path, got {type(program).__name__}")


def _float_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype {dtype!r} is not a numpy dtype; use np.float32 or np.float64") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype {dt} cannot hold a model's values; use np.float32 or np.float64")
    return dt


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
    fast.install_helpers(namespace)  # and prelude helpers with a compiled version (an embedding's scatter)
    return "fast"


def compile(program: Program, dtype=np.float32, backend="auto") -> Model:  # noqa: A001 - the verb users expect
    """Lower a checked program (or the .rnn file at a path) to a runnable model;
    backend 'auto' | 'numpy' | 'fast' (numba)."""
    if isinstance(program, (str, os.PathLike)):
        from .checking import check
        from .front.parser import load
        program = check(load(program))
    return Model(program, dtype, backend)
