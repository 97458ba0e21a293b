"""The fast backend: the scan kernels of an emitted module (`lower/kernels.py`), compiled by numba.

    module text ──ast──> kernel module = numba_prelude + the `_scan_*` functions (elementwise runs
                         fused: fusion.py; np.tanh -> _tanh),
                         each decorated `@_kernel` (numba.njit, cache=True)
                ──sha256──> <cache>/kernels_<hash>.py, written once; numba caches the machine code
                         beside it, so a second process loads it instead of compiling again

LLVM's -O3 pipeline takes time that grows faster than a kernel's length once all of its array
operations are inlined into one function (measured, CPU seconds to compile a chain of n sigmoid
gates, backward kernel: n=5, 57 statements 10.7 s; n=10, 97 statements 26.7 s; n=20, 177
statements 88 s; the time goes to LoopUnroll/LoopVectorize over the one huge function and to
register allocation and loop strength reduction in code generation).  A kernel longer than
`OPTIMISE_UP_TO` statements is therefore compiled `optnone` (numba's `_dbg_optnone`): its array
operations stay separate functions, each optimised alone, so compiling grows linearly (n=20:
6.1 s instead of 88 s) and the kernel runs 2–4× slower than optimised, about as fast as numpy
or faster (n=20, T=50, B=4, ms per call: backward 1.00, optimised 0.46, numpy 2.39; forward 1.26,
0.32, 1.24).  Where numba lacks that option, such a kernel runs as numpy, with a note saying so.
It calls the prelude's njit helpers through intrinsics (numba_direct.py): a dispatcher's address,
which optnone keeps in the code, would keep it out of numba's disk cache.

Before the numba rewrite, each run of a step's elementwise statements is fused into one loop
over its elements, guarded by checks of the arrays it touches (fusion.py; LSTM, B=1: the
kernels' time beside their step products about halves).  A kernel runs compiled up to
`max_batch` rows and as plain numpy above.  Compiled, its elementwise
work runs over contiguous rows in loops LLVM vectorises (numba_rows.py; numba's own loops over
strided views and its float32 tanh under error_model='python' were not, so numpy won above 4
rows); measured (bench/crossover.py, one thread, CPU time, loaded; bench/README.md), compiled
≤ numpy at every B from 1 to 64 for DOT(S), LSTM and GRU (0.66–0.86 at B=1, 2026-12-05;
0.87–0.98 at B=16–64, 12-06) and level with it for the RNN, whose step is one product and one
fused tanh (0.76 at B=1; 0.99–1.02 at B=16–64; 1.04–1.14 before fusion.py read a row the loop
also writes from a copy, when its forward loop ran element by element); above 64 rows the
products dominate and both run them alike.  Compiled, its products call
numpy's own BLAS (`np.dot`/`@` rewritten to numba_gemm's helpers; numba's np.dot would call
scipy's OpenBLAS, 1.6× slower per step at B=16 here).  Where numpy's BLAS is not found, they
go to scipy's, which runs single-threaded for the call, else the two libraries' spinning threads
fight over the cores (2× slower at B=16 on 2 cores).  A Python number beside a float array is
cast to the array's dtype, as numpy casts it (numba_rows' helpers; numba_weak's elsewhere and in a
long kernel: numba's own operations computed a float32 array and a number in float64).
"""
from __future__ import annotations

import ast
import contextlib
import copy
import hashlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path

import numpy as np

from ..atomic import write_atomic
from ..errors import UsageError
from . import fusion

KERNEL_PREFIX = "_scan_"
REWRITES = {"tanh": "_tanh"}  # np.<ufunc> inside a kernel -> the numba prelude's version
# np.dot(a, b, out) / np.dot(a, b) and a @ b -> numpy's own gemm (numba_gemm.py)
DOT_REWRITES = {3: "_dot_into", 2: "_matmul"}
# elementwise work over contiguous rows (numba_rows.py): np.<ufunc>(…, out) and a <op> b
INTO_REWRITES = {("multiply", 3): "_mul_into", ("add", 3): "_add_into", ("subtract", 3): "_sub_into",
                 ("tanh", 2): "_tanh_into"}
BINOP_REWRITES = {ast.Mult: "_mul", ast.Add: "_add", ast.Sub: "_sub"}
# x op= y -> x = _iop(x, y); X[i] op= y -> _iop_at(X, i, y) (numba_rows.py: in place over contiguous rows)
AUGASSIGN_REWRITES = {ast.Add: "_iadd", ast.Mult: "_imul", ast.Sub: "_isub"}
SETITEM_REWRITE = "_set_at"  # X[i] = y -> _set_at(X, i, y) (numba_rows.py: row by row)
# a Python number beside an array where no helper above takes it (numba_weak.py: cast as numpy casts it):
# a <op> c -> _<op>_number(a, c), c <op> a -> _number_<op>(c, a)
NUMBER_OPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv", ast.FloorDiv: "floordiv",
              ast.Mod: "mod", ast.Pow: "pow", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge",
              ast.Eq: "eq", ast.NotEq: "ne"}
WEAK_CAST = "_weak_like"  # x op= c -> x op= _weak_like(x, c); np.<ufunc>(a, c, …) -> (a, _weak_like(a, c), …)
# a step product `_dot_into(a, W, out)` / `_matmul(a, W)` in a kernel's loop, W a kernel argument:
# W packed once before the loops, each step through numba_packed's helper (its module docstring)
STEP_REWRITES = {"_dot_into": "_step_dot_into", "_matmul": "_step_matmul"}
PACK_STEP_WEIGHT, ROWS_ARG = "_pack_step_weight", "B"
MAX_BATCH = 64  # B up to this runs compiled; above it, the numpy kernel (see the module docstring)
OPTIMISE_UP_TO = 80  # statements in a kernel; longer ones compile optnone (module docstring).  Every
#                      example's kernels are shorter (the longest: ln_lstm.rnn's backward, 76, 14 of
#                      them plain aliases `a = b`, which compile to nothing: lstm.rnn float32 with 42
#                      more, first call 28.7 against 31.3-32.3 CPU s; not counting them would make a
#                      20-gate chain's forward (95, 73 without) optimised, which fusion cannot do yet:
#                      a fused run of 14 or more gates nests 365 deep, and ast.unparse recurses out)
CACHE_ENV = "RNNALG_CACHE"  # where kernel modules go (default: $XDG_CACHE_HOME/rnnalg, ~/.cache/rnnalg)
STRICT_ENV = "RNNALG_FAST_STRICT"  # set (non-empty): a kernel numba cannot compile is an error (by_batch)


def unavailable_reason() -> str | None:
    """None if numba (and scipy, which numba's np.dot needs) import; else why not."""
    for name in ("numba", "scipy"):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            return f"{name} is not installed ({exc}); pip install 'rnnalg[fast]'"
    return None


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "kernels"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnalg" / "kernels"


class _NumpyToNumba(ast.NodeTransformer):
    """np.tanh -> _tanh; with `helpers`, products and elementwise work to numba_gemm / numba_rows
    (not in a long, unoptimised kernel: there numba could not cache the helpers' code, and
    unoptimised they would not pay)."""

    def __init__(self, helpers=True):
        self.helpers = helpers

    def visit_Attribute(self, node):
        if isinstance(node.value, ast.Name) and node.value.id == "np" and node.attr in REWRITES:
            return ast.copy_location(ast.Name(REWRITES[node.attr], ast.Load()), node)
        return self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name) and func.id == "range":
            return node  # its bounds are integers: left alone
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "np"
                and not node.keywords):
            return self.generic_visit(node)
        node.args = [self.visit(arg) for arg in node.args]
        helper = self.helpers and (DOT_REWRITES.get(len(node.args)) if func.attr == "dot"
                                   else INTO_REWRITES.get((func.attr, len(node.args))))
        if helper:
            node.func = ast.copy_location(ast.Name(helper, ast.Load()), func)
        else:
            node.func = self.visit(func)
            if isinstance(getattr(np, func.attr, None), np.ufunc):
                node.args[:2] = _weak_operands(node.args[:2])
        return node

    def visit_If(self, node):
        if getattr(node, fusion.MARK, False):  # a fused run: its loop is scalar code, its else the statements
            node.orelse = [self.visit(stmt) for stmt in node.orelse]
            return node
        return self.generic_visit(node)

    def visit_Subscript(self, node):
        node.value = self.visit(node.value)
        return node  # an index (t + 1) is an integer: left alone

    def visit_Assign(self, node):
        self.generic_visit(node)
        target = node.targets[0]
        if (self.helpers and len(node.targets) == 1 and _item_of_name(target)):
            call = ast.Call(ast.Name(SETITEM_REWRITE, ast.Load()),
                            [ast.Name(target.value.id, ast.Load()), target.slice, node.value], [])
            return ast.copy_location(ast.Expr(call), node)
        return node

    def visit_AugAssign(self, node):
        helper = AUGASSIGN_REWRITES.get(type(node.op)) if self.helpers else None
        target = node.target
        value = self.visit(node.value)
        if helper and isinstance(target, ast.Name):
            call = ast.Call(ast.Name(helper, ast.Load()), [ast.Name(target.id, ast.Load()), value], [])
            return ast.copy_location(ast.Assign([target], call), node)
        if helper and _item_of_name(target):
            array = ast.Name(target.value.id, ast.Load())
            call = ast.Call(ast.Name(helper + "_at", ast.Load()), [array, target.slice, value], [])
            return ast.copy_location(ast.Expr(call), node)
        node.target = self.visit(target)
        ref = target.value if isinstance(target, ast.Subscript) else target  # X of X[i, j]: its dtype
        if _is_number_literal(value) and isinstance(ref, ast.Name):
            value = ast.Call(ast.Name(WEAK_CAST, ast.Load()), [ast.Name(ref.id, ast.Load()), value], [])
        node.value = value
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        helper = self.helpers and ("_matmul" if isinstance(node.op, ast.MatMult) else BINOP_REWRITES.get(type(node.op)))
        if helper:
            return ast.copy_location(ast.Call(ast.Name(helper, ast.Load()), [node.left, node.right], []), node)
        return _with_number(node, node.op, node.left, node.right)

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) != 1:
            return node
        return _with_number(node, node.ops[0], node.left, node.comparators[0])


def pack_step_weights(kernel: ast.FunctionDef) -> ast.FunctionDef:
    """`kernel` with each step product by an argument W (a `_dot_into` / `_matmul` inside a loop, W
    a name the kernel never assigns) made by `_step_dot_into(a, W, _packed_W, out)` /
    `_step_matmul(a, W, _packed_W)`, and `_packed_W = _pack_step_weight(W, B)` first."""
    params = [arg.arg for arg in kernel.args.args]
    if ROWS_ARG not in params:
        return kernel
    assigned = {n.id for n in ast.walk(kernel) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    weights = {}
    for loop in [n for n in ast.walk(kernel) if isinstance(n, (ast.For, ast.While))]:
        for call in ast.walk(loop):
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in STEP_REWRITES
                    and len(call.args) >= 2 and isinstance(call.args[1], ast.Name)
                    and call.args[1].id in params and call.args[1].id not in assigned):
                packed = weights.setdefault(call.args[1].id, f"_packed_{call.args[1].id}")
                call.func.id = STEP_REWRITES[call.func.id]
                call.args.insert(2, ast.Name(packed, ast.Load()))
    first = 1 if kernel.body and isinstance(kernel.body[0], ast.Expr) and isinstance(
        getattr(kernel.body[0], "value", None), ast.Constant) else 0
    kernel.body[first:first] = [
        ast.Assign([ast.Name(packed, ast.Store())],
                   ast.Call(ast.Name(PACK_STEP_WEIGHT, ast.Load()),
                            [ast.Name(weight, ast.Load()), ast.Name(ROWS_ARG, ast.Load())], []))
        for weight, packed in sorted(weights.items())]
    return kernel


def _is_number_literal(node) -> bool:
    """A number written in the kernel: 0.5, 1, -1.0."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def _with_number(node, op, left, right):
    """`left op right` with a number on one side (and none on the other) as numba_weak's helper, which
    casts the number as numpy does; anything else `node` as it is."""
    name = NUMBER_OPS.get(type(op))
    if name is None or _is_number_literal(left) == _is_number_literal(right):
        return node
    helper = f"_{name}_number" if _is_number_literal(right) else f"_number_{name}"
    return ast.copy_location(ast.Call(ast.Name(helper, ast.Load()), [left, right], []), node)


def _weak_operands(args: list) -> list:
    """A binary ufunc's operands, a number beside a name or a view cast like it (`_weak_like`)."""
    if len(args) == 2 and _is_number_literal(args[0]) != _is_number_literal(args[1]):
        number, ref = (0, 1) if _is_number_literal(args[0]) else (1, 0)
        if isinstance(args[ref], (ast.Name, ast.Subscript)):
            args = list(args)
            args[number] = ast.Call(ast.Name(WEAK_CAST, ast.Load()), [copy.deepcopy(args[ref]), args[number]], [])
    return args


def _item_of_name(target) -> bool:
    """Is `target` X[i], an array name indexed by one integer expression (no tuple, no slice)?"""
    return (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
            and not isinstance(target.slice, (ast.Tuple, ast.Slice)))


def kernel_names(source: str) -> list[str]:
    return [node.name for node in ast.parse(source).body
            if isinstance(node, ast.FunctionDef) and node.name.startswith(KERNEL_PREFIX)]


def kernel_length(node: ast.FunctionDef) -> int:
    """Statements in a kernel, its nested ones included (the measure of OPTIMISE_UP_TO)."""
    return sum(isinstance(n, ast.stmt) for n in ast.walk(node)) - 1


def optnone_supported() -> bool:
    """Does this numba take `_dbg_optnone` (compile a function without LLVM's optimisations)?"""
    from numba.core.cpu import CPUTargetOptions
    return hasattr(CPUTargetOptions, "_dbg_optnone")


def too_long(source: str) -> dict:
    """name -> statements, of the kernels of `source` longer than OPTIMISE_UP_TO."""
    return {node.name: kernel_length(node) for node in ast.parse(source).body
            if isinstance(node, ast.FunctionDef) and node.name.startswith(KERNEL_PREFIX)
            and kernel_length(node) > OPTIMISE_UP_TO}


def kernel_module_text(source: str, optnone: bool = True) -> str:
    """The numba module of an emitted numpy module's kernels: `_kernel` (njit) for each, or
    `_long_kernel` (njit, optnone) for one longer than OPTIMISE_UP_TO statements (left out
    without `optnone`)."""
    from . import (numba_direct, numba_fused, numba_gemm, numba_packed, numba_prelude, numba_retype, numba_rows,
                   numba_weak)
    kernels, any_long = [], False
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith(KERNEL_PREFIX):
            long = kernel_length(node) > OPTIMISE_UP_TO
            if long and not optnone:
                continue
            any_long = any_long or long
            decorator = "_long_kernel" if long else "_kernel"
            if not long:
                node = fusion.fuse_kernel(node)
            node = _NumpyToNumba(helpers=not long).visit(node)
            if not long:
                node = pack_step_weights(node)
            node.decorator_list = [ast.Name(decorator, ast.Load())]
            kernels.append(ast.unparse(ast.fix_missing_locations(node)))
    # the prelude's compiled helpers are cached once, in the package; its source is in the
    # kernel text's hash (as a comment), so a new prelude means new kernel files
    # (and so is numpy's BLAS that the products call: its symbols are in the compiled code)
    helpers = "".join(inspect.getsource(m) for m in (numba_prelude, numba_direct, numba_retype, numba_gemm,
                                                     numba_packed, numba_rows, numba_fused, numba_weak)) + str(
        numba_gemm.GEMM_SYMBOLS)
    version = hashlib.sha256(helpers.encode()).hexdigest()[:16]
    return (f'"""Scan kernels of an rnnalg model, compiled by numba (prelude {version})."""\n'
            "import numpy as np\nfrom numba import njit\n\n"
            "from rnnalg.fast.numba_gemm import _dot_into, _matmul  # noqa: F401\n"
            "from rnnalg.fast.numba_packed import _pack_step_weight, _step_dot_into, _step_matmul  # noqa: F401\n"
            "from rnnalg.fast.numba_rows import (_add, _add_into, _mul, _mul_into, _sub, _sub_into,  # noqa: F401\n"
            "                                    _tanh_into, _iadd, _iadd_at, _imul, _imul_at, _isub, _isub_at,\n"
            "                                    _set_at, _as_c, _relu_into)\n"
            "from rnnalg.fast.numba_fused import (_apart, _apart_or_same, _column, _full, _full_or_row,  # noqa: F401\n"
            "                                     _kept, _nrows, _row, _same, _unshared, _widest)\n"
            f"from rnnalg.fast.numba_weak import ({', '.join(sorted(numba_weak.HELPERS))},  # noqa: F401\n"
            f"                                    {WEAK_CAST})\n"
            "from rnnalg.fast.numba_prelude import LP_EPS, _tanh, _tanh_scalar  # noqa: F401\n"
            # its njit helpers through intrinsics: a dispatcher's address would keep an optnone kernel
            # out of numba's cache (numba_direct.py)
            "from rnnalg.fast.numba_direct import (_group_max, _layernorm, _layernorm_grad, _lp, _lp_grad,  # noqa: F401\n"
            "                                      _maxout_grad, _sigmoid, _sigmoid_deriv, _tanh_deriv)\n\n"
            # nogil: a kernel lets other threads run Python meanwhile (rnnalg/batch_threads.py runs parts of a
            # batch on threads); it only adds the GIL's release and take-back around the call
            "_kernel = njit(cache=True, error_model='numpy', nogil=True)  # every scan kernel (numba_rows.JIT_OPTIONS)\n"
            # only where it is used, so that the text (and the cache) of other models is as before
            + ("_long_kernel = njit(cache=True, error_model='numpy', nogil=True, _dbg_optnone=True)  "
               f"# over {OPTIMISE_UP_TO} statements: LLVM -O3 would take minutes\n" if any_long else "")
            + "\n\n" + "\n\n\n".join(kernels) + "\n")


def load_kernels(source: str) -> dict:
    """name -> numba dispatcher for each kernel of `source`, from the on-disk cache."""
    reason = unavailable_reason()
    if reason:
        raise UsageError(f"the fast backend is not available: {reason}")
    optnone = optnone_supported()
    left_out = {} if optnone else too_long(source)
    for name, length in left_out.items():
        print(f"note: the fast backend runs {name} with numpy: it has {length} statements, more than "
              f"the {OPTIMISE_UP_TO} LLVM optimises in reasonable time, and this numba cannot compile "
              "it unoptimised (_dbg_optnone)", file=sys.stderr)
    text = kernel_module_text(source, optnone)
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    folder = cache_dir()
    path = folder / f"kernels_{digest}.py"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not path.exists():  # another process writing it at once: its file stands (numba's cache
            # index holds the source file's time: a second rename would make its kernels stale)
            write_atomic(folder, path.name, lambda f: f.write(text.encode()), keep_existing=True)
        elif path.read_text(encoding="utf-8") != text:
            write_atomic(folder, path.name, lambda f: f.write(text.encode()))
    except OSError as exc:
        raise UsageError(f"cannot write the kernel cache {folder}: {exc.strerror or exc}; "
                         f"set {CACHE_ENV} to a writable folder") from None
    name = f"rnnalg_kernels_{digest}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return {k: getattr(module, k) for k in kernel_names(source) if k not in left_out}


# prelude helpers (outside the scan kernels) the fast backend replaces in a module's namespace: name ->
# the module of `scatter_into`-style makers, each given the module's own function (its fallback): an
# embedding's scatter (numba_scatter), a 0/1 input's product and weight gradient (numba_binary), a weight
# gradient's running sum over the time blocks (block_sums)
HELPER_MAKERS = {"_add_rows_at": ("numba_scatter", "scatter_into"),
                 "_affine_into": ("numba_binary", "affine_into"), "_mmT": ("numba_binary", "mmT"),
                 "_mmT_acc": ("block_sums", "mmT_acc")}


def install_helpers(namespace: dict) -> list[str]:
    """Swap the prelude helpers of HELPER_MAKERS that `namespace` (an emitted module's) holds for their
    compiled versions, each falling back to the module's own; -> the names swapped."""
    swapped = []
    for name, (module, maker) in HELPER_MAKERS.items():
        if name in namespace:
            make = getattr(importlib.import_module(f"{__package__}.{module}"), maker)
            namespace[name] = make(namespace[name])
            swapped.append(name)
    return swapped


def kernel_blas() -> list:
    """threadpoolctl controllers of the BLAS libraries other than numpy's (scipy's, which numba's
    np.dot calls); [] without threadpoolctl."""
    try:
        import scipy.linalg.cython_blas  # noqa: F401  (loads scipy's BLAS)
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return []
    return [lib for lib in ThreadpoolController().select(user_api="blas").lib_controllers
            if "numpy" not in Path(lib.filepath).parent.name]


@contextlib.contextmanager
def single_threaded(libs):
    """Each BLAS in `libs` on one thread inside the block, as it was after it."""
    before = [lib.num_threads for lib in libs]
    for lib in libs:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libs, before):
            lib.set_num_threads(n)


def by_batch(compiled, plain, max_batch=MAX_BATCH, blas=(), name="kernel"):
    """A kernel that runs `compiled` for B ≤ max_batch rows (with the BLAS libraries `blas` on one
    thread) and `plain` (numpy) above.  If numba cannot compile it (a typing error, raised before
    anything runs), a note says so once and `plain` serves every batch from then on (`.compiled`
    becomes None); with $RNNALG_FAST_STRICT set (the test suite sets it) that is an error instead,
    so that a kernel numba cannot type does not pass for a compiled one."""
    from numba.core.errors import NumbaError

    def kernel(T, B, *rest):
        nonlocal compiled
        if B > max_batch or compiled is None:
            return plain(T, B, *rest)
        try:
            with single_threaded(blas):
                return compiled(T, B, *rest)
        except NumbaError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if os.environ.get(STRICT_ENV):
                raise RuntimeError(f"the fast backend could not compile {name} ({first}; "
                                   f"{STRICT_ENV} is set, so this is an error, not a fallback)") from exc
            compiled = kernel.compiled = None
            print(f"note: the fast backend could not compile {name} ({first}); "
                  "running it with numpy", file=sys.stderr)
        return plain(T, B, *rest)

    kernel.compiled, kernel.plain = compiled, plain
    return kernel
