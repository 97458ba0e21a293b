"""The matrix-product floor of a compiled model: the GEMMs its schedule runs, and nothing else.

    python bench/floor.py examples/rnn.rnn -B 64 -T 100         # the products, GFLOP per call
    python bench/floor.py examples/dots.rnn -B 1 --time          # + floor and model ms, model / floor,
                                                                 # and the same products by torch.matmul

`trace_products` runs the emitted numpy module (`model.source`, exactly what `rnnalg compile -o`
writes) once on arrays of an ndarray subclass that every numpy call keeps (its ufuncs, its array
functions, and the module's own `np.empty`/`np.zeros`/…), and records each `np.matmul` (the `@`
operator, `np.matmul(..., out=)`, `_mm` and `_mmT` all are that ufunc) and each `np.dot` (the
scan kernels' `np.dot(a, b, out)`, which numba also types), but not a product with a vector (a
sum over rows or columns by a vector of ones, `_row_sums`, `_bias_grad`). A record holds both operands'
shapes and layouts (transposed = F-ordered, BLAS's 'T'; a row-strided view keeps its leading
dimension), so

    floor_call(products, dtype)

runs the same products (shapes, dtype, layouts, counts, order, np.matmul or np.dot) with
`out=` on preallocated random arrays, a no-argument call that can be timed like any implementation.
Arrays of the same shape and layout are shared between products, so the floor's operands are
as warm in cache as they can be: it is a lower bound for that schedule's products on this BLAS.
(`bench/gemm_layouts.py` times the step products in every other operand layout against the
schedule's own: bench/README.md, "Gated cells".)
One product costs 2·M·K·N flops (a multiply and an add per term).

    torch_floor_call(products, torch, dtype)

runs the same products, in the same order on the same arrays, with `torch.matmul(..., out=)`:
the floor with PyTorch's BLAS (MKL/oneDNN) in place of numpy's (OpenBLAS), for the BLAS gap
between the two. torch is imported only for it (`--time`, unless `--no-torch` or not installed).
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
try:
    import rnnalg
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(ROOT))
    import rnnalg


@dataclasses.dataclass(frozen=True)
class Operand:
    """One matmul operand: shape, BLAS layout ('N' row-major, 'T' column-major, 'copy' for
    any other strides, which numpy copies first) and leading dimension (elements)."""
    shape: tuple
    layout: str = "N"
    ld: int = 0

    def text(self) -> str:
        dims = "×".join(map(str, self.shape))
        mark = {"N": "", "T": "ᵀ", "copy": "(copied)"}[self.layout]
        return f"({dims}){mark}"


@dataclasses.dataclass(frozen=True)
class Product:
    """c = a @ b, of `dtype`; `out` the result's shape; `fn` the numpy function that ran it
    ("matmul": `@`, `np.matmul`; "dot": `np.dot`, `ndarray.dot`, as the numba-typed kernels write)."""
    a: Operand
    b: Operand
    out: tuple
    dtype: str
    fn: str = "matmul"

    @property
    def flops(self) -> int:
        return 2 * math.prod(self.out) * self.a.shape[-1]

    def text(self) -> str:
        return f"{self.a.text()}·{self.b.text()}"


def operand(x: np.ndarray) -> Operand:
    """The Operand record of array x."""
    size = x.itemsize
    if x.ndim == 2 and x.shape[0] > 1 and x.shape[1] > 1:
        if x.strides[1] == size and x.strides[0] >= x.shape[1] * size:
            return Operand(x.shape, "N", x.strides[0] // size)
        if x.strides[0] == size and x.strides[1] >= x.shape[0] * size:
            return Operand(x.shape, "T", x.strides[1] // size)
        return Operand(x.shape, "copy", 0)
    if x.flags.c_contiguous:  # a vector or a (1, K) row: every layout is the same
        return Operand(x.shape, "N", x.shape[-1] if x.ndim else 0)
    return Operand(x.shape, "copy", 0)


# ---- tracing --------------------------------------------------------------------------------

class _Traced(np.ndarray):
    """An ndarray whose every numpy result is one too; each matrix product (np.matmul, np.dot)
    is appended to `_Traced.log`."""
    log: list = []

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")  # numpy passes a positional out here too, as a tuple
        if out is not None:
            kwargs["out"] = _plain(out)
        args = _plain(inputs)
        result = getattr(ufunc, method)(*args, **kwargs)
        if ufunc is np.matmul and method == "__call__":
            _record("matmul", *args[:2], result)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        args, kwargs = _plain(args), _plain(kwargs)
        result = func(*args, **kwargs)
        if func is np.dot:
            _record("dot", *args[:2], result)
        return _wrap(result)

    def dot(self, b, out=None):  # the method does not dispatch to __array_function__
        return np.dot(self, b, out=out)


def _record(fn, a, b, result):
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 1 or b.ndim == 1:  # a sum written as a product with a vector of ones (the prelude's
        return  # _row_sums, _bias_grad): a reduction the model does beside its GEMMs, not in the floor
    _Traced.log.append(Product(operand(a), operand(b), np.shape(result), np.result_type(a, b).name, fn))


def _plain(x):
    """x with every _Traced (also inside tuples, lists, dicts) viewed as a plain ndarray."""
    if isinstance(x, _Traced):
        return x.view(np.ndarray)
    if isinstance(x, (tuple, list)):
        return type(x)(_plain(v) for v in x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _wrap(x):
    if type(x) is np.ndarray:
        return x.view(_Traced)
    if isinstance(x, (tuple, list)):
        return type(x)(_wrap(v) for v in x)
    return x


class _TracingNumpy:
    """`np` for the traced module: numpy, except that new arrays are _Traced."""

    def __getattr__(self, name):
        return getattr(np, name)


for _name in ("empty", "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like", "array", "asarray",
              "ascontiguousarray", "concatenate", "stack"):
    setattr(_TracingNumpy, _name, staticmethod(lambda *a, _f=getattr(np, _name), **k: _wrap(_f(*a, **k))))


def trace(source: str, params: dict, batch: dict):
    """(products, result): every matrix product, in order, of one `loss_and_grad(params, batch)`
    of the emitted module `source` (the batch as the model takes it: dense arrays in the model's
    dtype), and what that call returned."""
    namespace = {"__name__": "rnnalg_floor_trace"}
    exec(compile(source, "<rnnalg model traced by bench/floor.py>", "exec"), namespace)
    namespace["np"] = _TracingNumpy()
    _Traced.log = log = []
    try:
        with np.errstate(all="ignore"):
            result = namespace["loss_and_grad"]({k: _wrap(v) for k, v in params.items()},
                                                {k: _wrap(np.asarray(v)) for k, v in batch.items()}, None, None)
    finally:
        _Traced.log = []
    return log, _plain(result)


def trace_products(source: str, params: dict, batch: dict) -> list[Product]:
    """The products of `trace`."""
    return trace(source, params, batch)[0]


def numpy_model(program, dtype):
    """The model compiled with the numpy backend (the only one before `backend=` existed)."""
    try:
        return rnnalg.compile(program, dtype, backend="numpy")
    except TypeError:
        return rnnalg.compile(program, dtype)


def model_setup(program, T: int, B: int, dtype=np.float32, seed: int = 0):
    """(numpy model, params, batch) as `rnnalg bench` makes them: unmasked random batch in `dtype`."""
    from rnnalg.testing import random_batch

    rng = np.random.default_rng(seed)
    model = numpy_model(program, dtype)
    params = model.init_params(rng)
    batch = {name: (a.astype(np.intp) if a.dtype.kind in "iu" else a.astype(dtype))
             for name, a in random_batch(program, T, B, rng, mask=False).items()}
    return model, params, batch


# ---- the floor ------------------------------------------------------------------------------

def _realise(op: Operand, dtype, rng) -> np.ndarray:
    """A random array with op's shape and layout."""
    def rand(shape):
        return (rng.random(shape, dtype=np.float64 if np.dtype(dtype) == np.float64 else np.float32) - 0.5).astype(
            dtype, copy=False)
    if op.layout == "N" and len(op.shape) == 2:
        return rand((op.shape[0], op.ld))[:, :op.shape[1]]
    if op.layout == "T":
        return rand((op.shape[1], op.ld))[:, :op.shape[0]].T
    if op.layout == "copy":
        return rand(op.shape[:-1] + (2 * op.shape[-1],))[..., ::2]
    return rand(op.shape)


def _operands(products, dtype, rng):
    """[(numpy function name, a, b, out)] per product, in order, on preallocated random arrays
    (shared by products of the same shape and layout; inputs and outputs from separate pools, so
    no output overlaps an input). `dtype` overrides the traced one."""
    rng = np.random.default_rng(0) if rng is None else rng
    inputs, outputs, quads = {}, {}, []
    for p in products:
        dt = np.dtype(dtype or p.dtype)
        for op in (p.a, p.b):
            if (op, dt) not in inputs:
                inputs[(op, dt)] = _realise(op, dt, rng)
        if (p.out, dt) not in outputs:
            outputs[(p.out, dt)] = np.empty(p.out, dtype=dt)
        quads.append((p.fn, inputs[(p.a, dt)], inputs[(p.b, dt)], outputs[(p.out, dt)]))
    return quads


def floor_call(products, dtype=None, rng=None):
    """A no-argument function running `np.matmul(a, b, out=c)` (or `np.dot`, as traced) for each
    product, in order, on `_operands`' arrays."""
    triples = [(getattr(np, fn), a, b, c) for fn, a, b, c in _operands(products, dtype, rng)]

    def call():
        for fn, a, b, c in triples:
            fn(a, b, out=c)
    return call


def torch_floor_call(products, torch, dtype=None, rng=None):
    """floor_call's products, in the same order on the same random arrays, run by
    `torch.matmul(a, b, out=c)` (PyTorch's BLAS: MKL or oneDNN, where numpy has OpenBLAS).
    The tensors share the arrays' memory and strides (torch.from_numpy), so an operand stored
    transposed stays transposed; `torch` is the imported module (an optional import, bench/ only)."""
    # one array per distinct operand, so shared operands stay shared tensors
    tensors = {}

    def tensor(x):
        return tensors.setdefault(id(x), torch.from_numpy(x))

    triples = [(tensor(a), tensor(b), tensor(c)) for _, a, b, c in _operands(products, dtype, rng)]
    matmul = torch.matmul

    def call():
        with torch.no_grad():
            for a, b, c in triples:
                matmul(a, b, out=c)
    return call


def import_torch(threads: int):
    """torch with `threads` intra-op threads, or None where it does not import."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def total_flops(products) -> int:
    return sum(p.flops for p in products)


def summary(products) -> list[str]:
    """Lines: count × product and its GFLOP, biggest first, then the total."""
    counts = collections.Counter(products)
    lines = [f"{n:5d} × {p.text():<28} {n * p.flops / 1e9:10.4g} GFLOP"
             for p, n in sorted(counts.items(), key=lambda item: -item[1] * item[0].flops)]
    lines.append(f"{len(products):5d} products in all            {total_flops(products) / 1e9:10.4g} GFLOP")
    return lines


def main(argv=None) -> int:
    from rnnalg.commands.bench import DTYPES, format_ms, time_block

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec")
    parser.add_argument("-B", type=int, default=16, help="sequences per batch (default 16)")
    parser.add_argument("-T", type=int, default=100, help="time steps (default 100)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a size, e.g. H=200")
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="float32")
    parser.add_argument("--time", action="store_true", help="also time the floor and the model, taking turns")
    parser.add_argument("--rounds", type=int, default=3, help="with --time: blocks each (default 3)")
    parser.add_argument("--repeats", type=int, default=5, help="with --time: timed calls per block (default 5)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--torch-threads", type=int, default=2,
                        help="with --time: torch.set_num_threads for the torch.matmul floor (default 2)")
    parser.add_argument("--no-torch", action="store_true", help="with --time: no torch.matmul floor")
    args = parser.parse_args(argv)
    for flag, value in (("-B", args.B), ("-T", args.T), ("--rounds", args.rounds), ("--repeats", args.repeats)):
        if value < 1:
            parser.error(f"{flag} must be at least 1, not {value}")
    sizes = {}
    for item in args.set:
        name, _, value = item.partition("=")
        if not value.isdigit():
            parser.error(f"--set {item}: expected NAME=INTEGER")
        sizes[name] = int(value)
    try:
        program = rnnalg.load_program(args.spec, sizes)
    except (rnnalg.RnnalgError, OSError) as e:
        print(f"floor.py: {e}", file=sys.stderr)
        return 1
    dtype = DTYPES[args.dtype]
    model, params, batch = model_setup(program, args.T, args.B, dtype)
    products = trace_products(model.source, params, batch)
    print(f"{Path(args.spec).name}  B={args.B} T={args.T} {args.dtype}: the matrix products of one loss_and_grad")
    print("\n".join(summary(products)))
    if args.time:
        calls = {"model": lambda: model.loss_and_grad(params, batch), "floor": floor_call(products, dtype)}
        torch = None if args.no_torch else import_torch(args.torch_threads)
        if torch is not None:
            calls["torch"] = torch_floor_call(products, torch, dtype)
        times = {name: [] for name in calls}
        for _ in range(args.rounds):
            for name, call in calls.items():
                times[name].extend(time_block(call, args.repeats, warmup=1, clock=args.clock))
        ours, floor = (float(np.median(times[name])) for name in ("model", "floor"))
        print(f"{args.clock} time, medians of {len(times['model'])} calls: forward+backward {format_ms(ours)} ms, "
              f"floor {format_ms(floor)} ms ({total_flops(products) / floor / 1e9:.0f} GFLOP/s), "
              f"model / floor {ours / floor:.2f}")
        if torch is not None:
            floor_torch = float(np.median(times["torch"]))
            print(f"the same products by torch.matmul ({torch.__version__}, {torch.get_num_threads()} threads): "
                  f"{format_ms(floor_torch)} ms ({total_flops(products) / floor_torch / 1e9:.0f} GFLOP/s), "
                  f"numpy floor / torch floor {floor / floor_torch:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
