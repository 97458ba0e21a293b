"""The columns of compare.py: for one model at one batch size, a no-argument call per implementation.

Each entry of PEERS is `column -> maker(case)`, returning the call (its first call already made:
that is where JAX, numba and torch.compile compile, so it is never timed) or None when the
implementation is not available here (its column stays empty). A maker checks its loss against
rnnalg's numpy loss (`check_loss`) before returning: nothing is timed that computes something else.

The PyTorch, torch.compile and JAX columns run the code `rnnalg export` generates from the spec
(`GeneratedPeers`): an nn.Module with a Python loop over t, and `jit(value_and_grad(loss))` over
one `lax.scan`. The hand-written bench/torch_models.py and bench/jax_models.py are kept as
independent oracles (tests/test_bench.py) and as the fused-kernel baselines of lstm.py and
gpu_check.py.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np

import floor
import rnnalg

LOSS_RTOL = 1e-4  # float32 losses of the implementations must agree this closely


@dataclasses.dataclass
class Case:
    """One model at one batch size, as every column gets it: rnnalg's parameters and batch."""
    label: str            # table label, e.g. "DOT(S)"
    stem: str             # examples/<stem>.rnn
    program: object
    model: object         # rnnalg's numpy model
    params: dict
    batch: dict           # dense arrays float32, token ids intp
    expected: float       # rnnalg's numpy loss
    torch_pair: tuple | None = None  # (torch, GeneratedPeers) or None
    jax_pair: tuple | None = None    # (jax, GeneratedPeers) or None
    log: object = print
    first_calls: dict = dataclasses.field(default_factory=dict)  # column -> seconds of its first (compiling) call
    floor_products: list = dataclasses.field(default_factory=list)  # floor.Product of each traced matmul

    def first_call(self, column: str, call):
        """call(), its wall time kept in first_calls[column] (compile latency, for the report)."""
        start = time.perf_counter()
        result = call()
        self.first_calls[column] = time.perf_counter() - start
        return result

    @property
    def B(self) -> int:
        return next(iter(self.batch.values())).shape[1]

    def warn(self, message: str) -> None:
        self.log(f"{self.label} B={self.B}: {message}")


def check_loss(name: str, what: str, loss: float, expected: float) -> None:
    if not abs(loss - expected) <= LOSS_RTOL * abs(expected):
        raise SystemExit(f"compare.py: {name}: {what} loss {loss!r} differs from rnnalg's {expected!r} "
                         f"by more than {LOSS_RTOL:g} relative; the comparison would not be honest")


def rnnalg_numpy(case: Case):
    return lambda: case.model.loss_and_grad(case.params, case.batch)


_FAST_MISSING = []  # the TypeError of rnnalg.compile(..., backend=...), once seen


def rnnalg_fast(case: Case):
    """`rnnalg.compile(..., backend="fast")`; None where that backend does not exist (yet) or
    cannot run here (TypeError: no `backend` argument; RnnalgError: e.g. numba missing)."""
    try:
        model = rnnalg.compile(case.program, np.float32, backend="fast")
    except TypeError as e:  # no backend= at all: say so once
        if not _FAST_MISSING:
            case.log(f"rnnalg fast backend unavailable ({e}); its column stays empty")
        _FAST_MISSING.append(e)
        return None
    except rnnalg.RnnalgError as e:
        case.warn(f"rnnalg fast backend unavailable ({e}); column left empty")
        return None
    call = lambda: model.loss_and_grad(case.params, case.batch)  # noqa: E731
    check_loss(case.label, "rnnalg fast", case.first_call("fast", call)[0], case.expected)  # it compiles
    return call


class GeneratedPeers:
    """The torch and JAX models of a spec as `rnnalg export` writes them, one module per spec."""

    _modules = {}  # (target, spec text, sizes) -> the imported module
    _folder = None

    @classmethod
    def module(cls, program, target: str):
        key = (target, program.text, program.sizes)
        if key not in cls._modules:
            if cls._folder is None:
                cls._folder = tempfile.TemporaryDirectory(prefix="rnnalg-peers-")
            name = f"exported_{target}_{len(cls._modules)}"
            path = Path(cls._folder.name) / f"{name}.py"
            rnnalg.export(program, target, path)
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            cls._modules[key] = module
        return cls._modules[key]

    @classmethod
    def torch_call(cls, program, params, batch, compiled=False):
        """A no-argument call: forward + loss.backward() of the exported nn.Module -> the loss.
        Gradients are reset first (no accumulation); `compiled`: the loss through
        torch.compile(dynamic=False), which compiles on the first call."""
        import torch

        net = cls.module(program, "torch").Model(params)  # float32 copies of rnnalg's arrays
        tbatch = {k: torch.from_numpy(v) for k, v in batch.items()}
        loss_fn = torch.compile(net.loss, dynamic=False) if compiled else net.loss

        def call():
            for p in net.parameters():
                p.grad = None
            loss = loss_fn(tbatch)
            loss.backward()
            return loss
        return call

    @classmethod
    def jax_call(cls, program, params, batch):
        """A no-argument call: jit(value_and_grad(loss)) of the exported functions, waited for."""
        import jax

        fn = jax.jit(jax.value_and_grad(cls.module(program, "jax").loss))
        jparams, jbatch = jax.device_put(params), jax.device_put(batch)
        return lambda: jax.block_until_ready(fn(jparams, jbatch))


def _torch_call(case: Case, compiled: bool):
    _, models = case.torch_pair
    return models.torch_call(case.program, case.params, case.batch, compiled=compiled)


def torch_eager(case: Case):
    if case.torch_pair is None:
        return None
    call = _torch_call(case, compiled=False)
    if call is not None:
        check_loss(case.label, "PyTorch", call().item(), case.expected)
    return call


def torch_compiled(case: Case):
    """torch.compile of the eager model; a failure to compile is reported and leaves the column empty."""
    if case.torch_pair is None:
        return None
    call = _torch_call(case, compiled=True)
    if call is None:
        return None
    try:
        loss = case.first_call("compiled", call).item()  # compiles
    except Exception as e:  # noqa: BLE001 - dynamo, inductor and the C compiler raise many kinds
        first = (str(e).strip().splitlines() or [""])[0]
        case.warn(f"torch.compile failed, column left empty: {type(e).__name__}: {first}")
        return None
    check_loss(case.label, "torch.compile", loss, case.expected)
    return call


def jax_scan(case: Case):
    if case.jax_pair is None:
        return None
    call = case.jax_pair[1].jax_call(case.program, case.params, case.batch)
    check_loss(case.label, "JAX", float(case.first_call("jax", call)[0]), case.expected)  # it compiles
    return call


def autograd_reference(case: Case):
    from rnnalg.reference import reference_loss_and_grad

    call = lambda: reference_loss_and_grad(case.program, case.params, case.batch)  # noqa: E731
    check_loss(case.label, "autograd reference", float(call()[0]), case.expected)
    return call


def matmul_floor(case: Case):
    """The matrix products rnnalg's numpy schedule runs, alone (bench/floor.py)."""
    case.floor_products = floor.trace_products(case.model.source, case.params, case.batch)
    return floor.floor_call(case.floor_products)


def matmul_floor_torch(case: Case):
    """The same products, on the same arrays, by torch.matmul (PyTorch's BLAS): the BLAS gap."""
    if case.torch_pair is None:
        return None
    if not case.floor_products:
        case.floor_products = floor.trace_products(case.model.source, case.params, case.batch)
    return floor.torch_floor_call(case.floor_products, case.torch_pair[0])


# column -> maker, in the order they take turns (and appear in the table)
PEERS = {"rnnalg": rnnalg_numpy, "fast": rnnalg_fast, "jax": jax_scan, "compiled": torch_compiled,
         "torch": torch_eager, "autograd": autograd_reference, "floor": matmul_floor,
         "floor_torch": matmul_floor_torch}
