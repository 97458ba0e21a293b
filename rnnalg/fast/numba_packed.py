"""A scan's step product with its weight packed once per kernel call, for numba.

A scan makes T products `h @ W` (forward) and `G[t] @ Wᵀ` (backward) with one weight; OpenBLAS
packs that operand again in every call (2.5 MB for the PTB char LSTM's 400 × 1600, every step).
Here the kernel packs it once, into column panels of NR = NV · lanes columns,

    P[p, k, j] = W[k, p·NR + j]          (0 past column N),     P (⌈N/NR⌉, K, NR) C-ordered

and each step's out (M, N) = a (M, K) · W runs a register-blocked micro-kernel: MR rows × NR
columns of accumulators (MR·NV vectors of `lanes` floats, LLVM's own `<lanes x float>` and
llvm.fma, so nothing hangs on the auto-vectoriser), over the panel's K rows in order — each
out[r, c] = fma(a[r, K−1], W[K−1, c], … fma(a[r, 0], W[0, c], 0)), the sum in k order.

    packed = _pack_step_weight(W, B)            # once per kernel call: (P, scratch), empty where BLAS is faster
    _step_dot_into(a, W, packed, out)           # each step: the micro-kernels, or _dot_into
    g = _step_matmul(a, W, packed)              # the same, into a new array

Which shapes take it (`use_packed`, measured: bench/README.md, "Step products with the weight
packed once" and "The packing per time block"): from MIN_ROWS = 16 rows and a weight of MIN_BYTES =
512 KB on (below either, OpenBLAS was as fast or faster: its packing is short, or the few rows leave
the micro-kernel idle).  The packing runs near memory speed (H = 200's 640 KB Wᵀ in ~0.03 ms), so
the backward kernel's packing once per time block of 1024 / B steps (7 at B = 64, T = 100) costs
little beside the steps it speeds up.  The backend's
rewrite (backend.py, `pack_step_weights`) puts the packing before the kernel's loops.  Those
thresholds hold for the CPU they were measured on (AVX-512 with FMA); `PACKED_BY_FEATURES` says,
by the CPU features numba compiles for, which CPUs take the packed path at all (without FMA each
llvm.fma would be a library call; with AVX2 each 16-lane vector is split in two).
"""
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils, config
from numba.core.codegen import get_host_cpu_features
from numba.extending import intrinsic, models, overload, register_model

from . import cache_lock
from .numba_gemm import _dot_into, _matmul
from .numba_retype import retyped

cache_lock.install()  # before the cached functions below compile

VECTOR_BYTES = 64  # one AVX-512 register (with AVX2 LLVM splits each in two)
NV = 2  # vectors across a panel: NR = 32 float32 or 16 float64 columns
MR = 8  # rows of the widest micro-kernel (8 × 2 accumulators; others: 4, 2, 1 rows)


class Thresholds(NamedTuple):
    """From which shapes a step product runs packed (`use_packed`)."""
    min_rows: int  # fewer rows: OpenBLAS
    min_bytes: int  # a smaller weight: OpenBLAS


NEVER = Thresholds(min_rows=1 << 62, min_bytes=0)  # every product to OpenBLAS
# The CPU features the kernels are compiled for -> the thresholds; the first row whose features are all
# there applies.  Measured on Zen 4 only (bench/README.md, "Step products with the weight packed once").
PACKED_BY_FEATURES = (
    # AVX-512 with FMA (Zen 4): 16 rows and 512 KB on (B = 2-8 by 200×200, 200×400: packed 1.06-1.66×;
    # B = 1 is gemv's; 200×200 float32 at B = 16: packed 1.34×; LSTM H = 200 at B = 64: 0.95 whole call)
    (frozenset({"avx512f", "fma"}), Thresholds(min_rows=16, min_bytes=1 << 19)),
    # AVX2 with FMA: LLVM splits each 16-lane vector in two, and 8 × 32 float32 accumulators take 32
    # registers of its 16 (spills every step); not measured: OpenBLAS's Haswell kernels
    (frozenset({"fma"}), NEVER),
    # no FMA: each llvm.fma becomes a call to the maths library's fma, per lane: far slower than BLAS
    (frozenset(), NEVER),
)


def compiled_features() -> frozenset:
    """The CPU features numba compiles for: $NUMBA_CPU_FEATURES where set, else the host's (LLVM's)."""
    text = config.CPU_FEATURES if config.CPU_FEATURES is not None else get_host_cpu_features()
    return frozenset(f[1:] for f in text.split(",") if f.startswith("+"))


def thresholds_for(features) -> Thresholds:
    """The row of PACKED_BY_FEATURES for a set of CPU feature names (LLVM's: "avx512f", "fma", …)."""
    return next(rule for needs, rule in PACKED_BY_FEATURES if needs <= set(features))


# read by the compiled rule as constants (numba's cache is per CPU name and features, so is this)
MIN_ROWS, MIN_BYTES = thresholds_for(compiled_features())


class Vector(types.Type):
    """`lanes` values of `dtype` in one LLVM vector."""

    def __init__(self, dtype, lanes):
        self.dtype, self.lanes = dtype, lanes
        super().__init__(name=f"Vector({dtype} x {lanes})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.lanes))


def _vector_of(dtype) -> Vector:
    return Vector(dtype, VECTOR_BYTES // (dtype.bitwidth // 8))


def _address(context, builder, array_type, array, index, vector):
    """Element `index` (flat, from the data pointer) of `array`, as a pointer to `vector`."""
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [index]), context.get_value_type(vector).as_pointer())


@intrinsic
def _vzero(typingctx, like):
    """A vector of zeros of `like`'s dtype (an array)."""
    vec = _vector_of(like.dtype)

    def codegen(context, builder, signature, args):
        return ir.Constant(context.get_value_type(vec), None)
    return vec(like), codegen


@intrinsic
def _vload(typingctx, array, index):
    """lanes elements of `array` from flat element `index` on (contiguous; the caller checks bounds)."""
    vec = _vector_of(array.dtype)

    def codegen(context, builder, signature, args):
        return builder.load(_address(context, builder, signature.args[0], args[0], args[1], vec),
                            align=array.dtype.bitwidth // 8)
    return vec(array, index), codegen


@intrinsic
def _vstore(typingctx, array, index, value):
    """array's flat elements index … index + lanes − 1 = value (the caller checks bounds)."""
    def codegen(context, builder, signature, args):
        builder.store(args[2], _address(context, builder, signature.args[0], args[0], args[1], value),
                      align=array.dtype.bitwidth // 8)
        return context.get_dummy_value()
    return types.none(array, index, value), codegen


@intrinsic
def _vfma(typingctx, x, w, acc):
    """acc + x · w fused (llvm.fma), the number x broadcast over the lanes."""
    def codegen(context, builder, signature, args):
        vtype = context.get_value_type(acc)
        scalar = context.cast(builder, args[0], x, acc.dtype)
        lane0 = builder.insert_element(ir.Constant(vtype, ir.Undefined), scalar, ir.Constant(ir.IntType(32), 0))
        splat = builder.shuffle_vector(lane0, ir.Constant(vtype, ir.Undefined),
                                       ir.Constant(ir.VectorType(ir.IntType(32), vtype.count), None))
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vtype, [vtype] * 3),
                                             f"llvm.fma.v{vtype.count}f{acc.dtype.bitwidth}")
        return builder.call(fma, [splat, args[1], args[2]])
    return acc(x, w, acc), codegen


def _micro_source(rows: int) -> str:
    """`_micro{rows}(a, r0, packed, base, out, c0, cols, scratch)`: out[r0 + i, c0 : c0 + cols] =
    a[r0 + i, :] · the (K, NR) panel of P at flat element `base`, for i < rows (P read through its
    data pointer: a panel view's ravel() would copy it where numba types P layout 'A')."""
    accs = [(i, v) for i in range(rows) for v in range(NV)]
    lines = [f"def _micro{rows}(a, r0, packed, base, out, c0, cols, scratch):",
             f"    lanes = scratch.shape[0] // {MR * NV}",
             f"    nr = lanes * {NV}"]
    lines += [f"    acc{i}_{v} = _vzero(packed)" for i, v in accs]
    lines += ["    for k in range(a.shape[1]):"]
    lines += [f"        w{v} = _vload(packed, base + k * nr + {v} * lanes)" for v in range(NV)]
    for i in range(rows):
        lines += [f"        x{i} = a[r0 + {i}, k]"]
        lines += [f"        acc{i}_{v} = _vfma(x{i}, w{v}, acc{i}_{v})" for v in range(NV)]
    lines += ["    if cols == nr:"]
    lines += [f"        _vstore(out[r0 + {i}], c0 + {v} * lanes, acc{i}_{v})" for i, v in accs]
    lines += ["    else:  # the last, partial panel: through scratch"]
    lines += [f"        _vstore(scratch, {i * NV + v} * lanes, acc{i}_{v})" for i, v in accs]
    lines += [f"        for i in range({rows}):",
              "            for j in range(cols):",
              "                out[r0 + i, c0 + j] = scratch[i * nr + j]"]
    return "\n".join(lines) + "\n"


MICRO_ROWS = (MR, 4, 2, 1)  # a block of rows runs as the widest that fits, then the rest
for _rows in MICRO_ROWS:
    _namespace = {"_vzero": _vzero, "_vload": _vload, "_vstore": _vstore, "_vfma": _vfma}
    exec(_micro_source(_rows), _namespace)  # noqa: S102  (generated above from constants)
    globals()[f"_micro{_rows}"] = njit(inline="always")(_namespace[f"_micro{_rows}"])


@njit(cache=True)
def use_packed(rows, inner, cols, itemsize):
    """Does (rows, inner) · (inner, cols) run faster packed than by OpenBLAS (module docstring)?"""
    return rows >= MIN_ROWS and inner * cols * itemsize >= MIN_BYTES


@njit(cache=True)
def _pack_panels(w):
    """w (K, N), any strides -> P (⌈N/NR⌉, K, NR) C-ordered, zero past column N (module docstring).
    Written once each, full panels by NR-wide row copies (LLVM vectorises them)."""
    K, N = w.shape
    nr = NV * (VECTOR_BYTES // w.itemsize)
    full, tail = N // nr, N % nr
    packed = np.empty((full + (tail > 0), K, nr), w.dtype)
    if w.strides[1] <= w.strides[0]:  # read w along its contiguous axis (Wᵀ is a view of W)
        for k in range(K):
            for p in range(full):
                c0 = p * nr
                for j in range(nr):
                    packed[p, k, j] = w[k, c0 + j]
    else:
        for p in range(full):
            c0 = p * nr
            for j in range(nr):
                for k in range(K):
                    packed[p, k, j] = w[k, c0 + j]
    if tail:
        for k in range(K):
            for j in range(tail):
                packed[full, k, j] = w[k, full * nr + j]
            for j in range(tail, nr):
                packed[full, k, j] = 0
    return packed


@njit(cache=True)
def _packed_weight(w):
    """(P, scratch): P = `_pack_panels(w)` and the micro-kernels' MR × NR block for a partial last
    panel, made once per kernel call with P."""
    packed = _pack_panels(w)
    return packed, np.empty(MR * packed.shape[2], w.dtype)


@njit(cache=True)
def _pack_step_weight(w, rows):
    """`_packed_weight(w)` where a step product of `rows` rows by w runs packed, else an empty
    (0, K, 0) P and scratch (the steps then call the BLAS)."""
    K, N = w.shape
    if use_packed(rows, K, N, w.itemsize):
        return _packed_weight(w)
    return np.zeros((0, K, 0), w.dtype), np.zeros(0, w.dtype)


@njit(cache=True)
def _packed_dot_into(a, packed, scratch, out):
    """out (M, N) = a (M, K) · W, P = `_pack_panels(W)` (C-ordered), scratch MR · NR elements; out's
    rows contiguous (the caller checks)."""
    M = a.shape[0]
    N = out.shape[1]
    nr = packed.shape[2]
    K = packed.shape[1]
    for p in range(packed.shape[0]):
        base = p * K * nr
        c0 = p * nr
        cols = min(nr, N - c0)
        r0 = 0
        while r0 + MR <= M:
            _micro8(a, r0, packed, base, out, c0, cols, scratch)
            r0 += MR
        if r0 + 4 <= M:
            _micro4(a, r0, packed, base, out, c0, cols, scratch)
            r0 += 4
        if r0 + 2 <= M:
            _micro2(a, r0, packed, base, out, c0, cols, scratch)
            r0 += 2
        if r0 < M:
            _micro1(a, r0, packed, base, out, c0, cols, scratch)


@njit(cache=True)
def _packs(a, w, packed, out):
    """Can this step run packed: P made (not empty; C-ordered by its type), the shapes agree, out's rows
    contiguous?"""
    M, K = a.shape
    N = w.shape[1]
    return (packed.shape[0] > 0 and packed.shape[1] == K == w.shape[0] and packed.shape[0] * packed.shape[2] >= N
            and out.shape[0] == M and out.shape[1] == N and (N == 1 or out.strides[1] == out.itemsize)
            and (M == 1 or out.strides[0] >= N * out.itemsize))


def _step_dot_into_any(a, w, packed, out):  # the stubs; kernels call them through `retyped`
    _dot_into(a, w, out)


def _step_matmul_any(a, w, packed):
    return _matmul(a, w)


def _packable(a, w, packed, out=None) -> bool:
    """Numba types the micro-kernels take: 2-D a, w (and out) of one float dtype, `packed` the pair of
    `_pack_step_weight` (P 3-D and C-ordered, scratch 1-D, of that dtype)."""
    if not (isinstance(packed, types.BaseTuple) and len(packed) == 2):
        return False
    panels, scratch = packed
    arrays = (a, w, panels, scratch) + (() if out is None else (out,))
    return (all(isinstance(x, types.Array) for x in arrays) and a.ndim == w.ndim == 2 and panels.ndim == 3
            and panels.layout == "C" and scratch.ndim == 1 and (out is None or out.ndim == 2)
            and a.dtype in (types.float32, types.float64) and all(x.dtype == a.dtype for x in arrays))


@overload(_step_dot_into_any, inline="never")
def _step_dot_into_typed(a, w, packed, out):
    """out = a · w: packed where `_pack_step_weight` packed w, else numpy's BLAS (`_dot_into`)."""
    if not _packable(a, w, packed, out):
        return lambda a, w, packed, out: _dot_into(a, w, out)

    def impl(a, w, packed, out):
        if _packs(a, w, packed[0], out):
            _packed_dot_into(a, packed[0], packed[1], out)
        else:
            _dot_into(a, w, out)
    return impl


@overload(_step_matmul_any, inline="never")
def _step_matmul_typed(a, w, packed):
    """a · w into a new array, as `_step_dot_into`."""
    if not _packable(a, w, packed):
        return lambda a, w, packed: _matmul(a, w)

    def impl(a, w, packed):
        out = np.empty((a.shape[0], w.shape[1]), a.dtype)
        _step_dot_into_any(a, w, packed, out)
        return out
    return impl


_step_dot_into, _step_matmul = retyped(_step_dot_into_any), retyped(_step_matmul_any)
