"""Where one loss_and_grad of an emitted numpy module spends its time, statement by statement.

    OPENBLAS_NUM_THREADS=1 python bench/lines.py examples/dots.rnn -B 64          # CPU time of this thread
    python bench/lines.py examples/rnn.rnn -B 64 --clock wall --top 30           # wall time (quiet machine)

Each simple statement of `loss_and_grad` and of the scan loops (`_scan_forward`, `_scan_backward`)
in `model.source` is wrapped in two clock reads (an AST rewrite of a copy of the source; the
prelude's helpers run untouched, their time counted to the statement that called them). The
clock's own cost, measured on an empty statement, is subtracted. Statements are put in two
categories: "product" (the line runs a matrix product: `@`, `np.dot`, `_mm`, `_mmT`,
`_affine_into`, whose elementwise bias adds ride along) and "other"; within "other" the
statement's kind (allocation, f'(a), tanh/sigmoid, loss, reduction, scan loop, elementwise) is a
guess from its text; "scan loop" is a scan call's own time (the interpreter's, less its statements).
Per statement: median over `--calls` calls of its time summed over one call. The clock `cpu`
is this thread's CPU time: right for one BLAS thread only.
"""
from __future__ import annotations

import argparse
import ast
import collections
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import floor  # noqa: E402

FUNCTIONS = ("loss_and_grad", "_scan_forward", "_scan_backward")
CLOCKS = {"cpu": time.thread_time_ns, "wall": time.perf_counter_ns}
PRODUCT = re.compile(r"(@|np\.dot\(|_mm\(|_mmT\(|_affine_into\()")
KINDS = [  # (kind, pattern), the first that matches names an "other" statement
    ("allocation", re.compile(r"np\.(empty|zeros|ones|concatenate)\(")),
    ("f'(a)", re.compile(r"_tanh_deriv\(|_sigmoid_deriv\(|_tanh_grad\(|1 - (\w+)(\[[^]]*\])? \* \1")),
    ("tanh/sigmoid", re.compile(r"np\.tanh\(|_sigmoid\(")),
    ("loss", re.compile(r"np\.log\(|np\.maximum\(|_binary_nll(_grad)?\(|dlogits")),
    ("reduction", re.compile(r"\.sum\(|_bias_grad\(|_row_sums\(")),
    ("call", re.compile(r"^\s*(carry_|_scan_)")),
    ("elementwise", re.compile(r".")),
]


class _Timed(ast.NodeTransformer):
    """Wraps every simple statement of the chosen functions: `_c = _clk(); stmt; _L[n] += _clk() - _c`."""

    def __init__(self):
        self.inside = False

    def visit_FunctionDef(self, node):
        if node.name not in FUNCTIONS:
            return node
        node.body = self._block(node.body)
        return node

    def _block(self, body):
        out = []
        for stmt in body:
            if isinstance(stmt, (ast.For, ast.While, ast.If)):
                stmt.body = self._block(stmt.body)
                stmt.orelse = self._block(stmt.orelse) if stmt.orelse else stmt.orelse
                out.append(stmt)
            elif isinstance(stmt, ast.Return):
                out.extend(self._wrap([ast.Assign([ast.Name("_ret", ast.Store())], stmt.value or ast.Constant(None))],
                                      stmt.lineno))
                out.append(ast.Return(ast.Name("_ret", ast.Load())))
            else:
                out.extend(self._wrap([stmt], stmt.lineno))
        return out

    @staticmethod
    def _wrap(stmts, lineno):
        start = ast.parse("_c = _clk()").body
        stop = ast.parse(f"_L[{lineno}] += _clk() - _c; _N[{lineno}] += 1").body
        return start + stmts + stop


def instrumented(source: str):
    """(namespace of the instrumented module, per-line time dict, per-line count dict)."""
    tree = _Timed().visit(ast.parse(source))
    ast.fix_missing_locations(tree)
    namespace = {"__name__": "rnnalg_lines"}
    exec(compile(tree, "<rnnalg model, instrumented by bench/lines.py>", "exec"), namespace)
    return namespace


def _scan_lines(source: str) -> set:
    """Line numbers of the statements inside the scan-loop functions."""
    return {node.lineno for f in ast.parse(source).body if isinstance(f, ast.FunctionDef) and f.name in FUNCTIONS[1:]
            for node in ast.walk(f) if isinstance(node, ast.stmt) and node is not f}


def category(text: str) -> str:
    if PRODUCT.search(text):
        return "product"
    return next(kind for kind, pattern in KINDS if pattern.search(text))


def profile(source, params, batch, calls: int, clock: str):
    """({line: (median ns per call, executions per call)}, ns one clock-read pair costs)."""
    ns = instrumented(source)
    clk = CLOCKS[clock]
    per_line = collections.defaultdict(list)
    overhead = _overhead(clk)
    for i in range(calls + 1):
        ns["_L"], ns["_N"] = collections.defaultdict(int), collections.defaultdict(int)
        ns["_clk"] = clk
        ns["loss_and_grad"](params, batch)
        if i == 0:
            continue  # warm-up
        for line, t in ns["_L"].items():
            per_line[line].append((t - overhead * ns["_N"][line], ns["_N"][line]))
    return {line: (float(np.median([t for t, _ in v])), v[0][1]) for line, v in per_line.items()}, overhead


def _overhead(clk, n: int = 20000) -> float:
    """ns one wrapped empty statement costs: the clock reads and the dict updates."""
    L, N = collections.defaultdict(int), collections.defaultdict(int)
    samples = []
    for _ in range(5):
        t0 = clk()
        for _ in range(n):
            _c = clk()
            L[1] += clk() - _c
            N[1] += 1
        samples.append((clk() - t0) / n)
    return float(np.median(samples))


def main(argv=None) -> int:
    import rnnalg

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec")
    parser.add_argument("-B", type=int, default=64)
    parser.add_argument("-T", type=int, default=100)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--calls", type=int, default=7, help="timed calls (default 7, after one warm-up)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu")
    parser.add_argument("--top", type=int, default=25, help="statements listed, slowest first")
    args = parser.parse_args(argv)
    sizes = {k: int(v) for k, _, v in (s.partition("=") for s in args.set)}
    program = rnnalg.load_program(args.spec, sizes)
    model, params, batch = floor.model_setup(program, args.T, args.B, np.float32)
    lines = model.source.splitlines()
    stats, overhead = profile(model.source, params, batch, args.calls, args.clock)
    inner = _scan_lines(model.source)
    by_category = collections.Counter()
    for line, (t, _) in stats.items():
        by_category[category(lines[line - 1])] += t
    # a scan call's own time: the call, less the statements inside it and their clock reads
    by_category["scan loop"] = by_category.pop("call", 0) - sum(
        t + overhead * n for line, (t, n) in stats.items() if line in inner)
    total = sum(by_category.values())
    print(f"{Path(args.spec).name} B={args.B} T={args.T}: {total / 1e6:.2f} ms in the timed statements "
          f"({args.clock} clock, medians of {args.calls} calls, clock cost subtracted)")
    for kind, t in by_category.most_common():
        print(f"  {kind:<13} {t / 1e6:8.3f} ms  {100 * t / total:5.1f} %")
    print(f"slowest {args.top} statements (ms per call, executions per call, line):")
    for line, (t, n) in sorted(stats.items(), key=lambda item: -item[1][0])[:args.top]:
        print(f"  {t / 1e6:7.3f} ms {n:5d}×  {line:4d}  {lines[line - 1].strip()[:90]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
