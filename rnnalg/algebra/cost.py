"""`cost(program)`: parameters, multiply-adds, BPTT memory and sequential depth as formulas.

Every figure is a sympy expression in the spec's `let` sizes (widths from symbolic.py) and,
where they enter, the batch B and the sequence length T; `Cost.values` evaluates them at the
program's sizes.  With w(v) the width of value v and, for each ⊕ term `a @ W` (a dense operand;
a `token` operand is an embedding row lookup: no product), m = w(a)·w(out):

    parameters     Σ_params Π shape                   (per site: one ⊕ with its weights and bias,
                   or one layernorm with its gain and bias; a tied weight is the embedding's)
    forward MACs   B·Σ m per step, by phase: pre (terms on inputs, all steps at once), scan
                   (terms on a state, step by step), post (reads states, feeds none: all at once)
    backward MACs  B·Σ m per step for the weight gradients (all steps at once) plus B·Σ m for
                   each term whose operand needs a gradient: sequential when the term is in the
                   scan and its operand depends on the state, parallel otherwise
    static MACs    B·Σ m once per sequence for a term on a static value (Program.static_inputs and
                   what depends on them alone: the pre phase computes it once, (1, B, W)), and
                   the same for its weight gradient
    training MACs  T·(forward + backward) + static per batch of B sequences: what
                   `bench/floor.py` traces
    BPTT floats    B·Σ_{v kept} w(v) per step: the values the backward pass reads at every step
                   (the states and the outputs or arguments that each VJP needs; lower/plan.py)
    forward values B·Σ_v w(v) per step: every input, equation value and target at every step
                   (what the forward holds for the backward, lower/footprint.py's estimate);
                   a static value is held once per sequence, in the working set only
    depth          the longest chain of ops from a previous state h to a next state h' within
                   one step (Pascanu et al. §2), and the matrix products on it

Elementwise work (activations, gates, losses) is not counted in the multiply-adds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from ..ir import Program
from ..lower.plan import Plan
from ..phases import PRE, phases, static_values
from .symbolic import B, T, size_symbols, width_formulas

ZERO = sympy.Integer(0)


@dataclass(frozen=True)
class Figure:
    """One figure: `key` (stable, for JSON), what it counts, and its formula."""

    key: str
    label: str
    formula: sympy.Expr


@dataclass
class Cost:
    """The figures of one program; `values` evaluates each at the program's sizes and B, T."""

    program: Program
    figures: list
    sites: dict  # site (the ⊕'s value name) -> parameter formula
    depth: int
    depth_products: int
    batch: int = 16
    steps: int = 100
    symbols: dict = field(default_factory=dict)

    def at(self, formula) -> int:
        subs = {self.symbols[n]: v for n, v in self.program.sizes}
        subs.update({B: self.batch, T: self.steps})
        return int(sympy.sympify(formula).subs(subs))

    @property
    def parameters(self) -> int:
        return self.at(self.figure("parameters").formula)

    def figure(self, key: str) -> Figure:
        for f in self.figures:
            if f.key == key:
                return f
        raise KeyError(key)

    @property
    def values(self) -> dict:
        return {f.key: self.at(f.formula) for f in self.figures}


def _param_formulas(program: Program, width) -> dict:
    """param name -> formula of its size, by role: a weight (in, out) or an embedding (V, out) of
    the ⊕ operand it multiplies; a bias or a layernorm's gain (out,).  A tied weight (the
    transpose of an embedding, Program.ties) is not a parameter of its own: counted once, as
    the embedding."""
    tied = {name for name, _ in program.ties}
    sizes = {}
    for e in program.eqns:
        operands = dict(zip(e.params, e.args)) if e.op == "affine" else {}
        for name in e.params:
            if name in tied:
                continue
            role = program.param(name).role
            sizes[name] = (width[operands[name].name] * width[e.out.name] if role in ("weight", "embedding")
                           else width[e.out.name])
    return sizes


def _dense_terms(program: Program):
    """(eqn, arg) of every ⊕ term that is a matrix product (not an embedding lookup)."""
    return [(e, a) for e in program.eqns if e.op == "affine" for a in e.args if a.kind != "token"]


def _macs(program: Program, width) -> dict:
    """Multiply-adds per position: forward by phase, backward sequential and parallel; and per
    sequence ("static", "static_backward"): a term whose operand is a static value (a static
    input or what depends on static inputs alone, (1, B, W) in the lowering) runs once per
    sequence, and so does its weight gradient; its operand's gradient is once per sequence when
    the term's value is static too, else one product over all positions (T·B rows)."""
    phase, plan = phases(program), Plan(program)
    static = static_values(program.static_inputs, program.eqns)
    macs = {k: ZERO for k in ("pre", "scan", "post", "sequential", "parallel", "static", "static_backward")}
    for e, a in _dense_terms(program):
        m = width[a.name] * width[e.out.name]
        if a.name in static:
            macs["static"] += m
            macs["static_backward"] += m  # the weight gradient, summed over steps first
            if a.name in plan.needs_grad:
                macs["static_backward" if e.out.name in static else "parallel"] += m
            continue
        where = PRE if phase[e.out.name] == PRE or phase[a.name] == PRE else phase[e.out.name]
        macs[where] += m
        macs["parallel"] += m  # the weight gradient: one product over all steps
        if a.name in plan.needs_grad:
            sequential = phase[e.out.name] == "scan" and plan.is_stateful(a.name)
            macs["sequential" if sequential else "parallel"] += m
    return macs


def sequential_depth(program: Program) -> tuple[int, int]:
    """(ops, matrix products) on the longest chain from a previous state to a next state."""
    prev = {s.prev.name for s in program.states}
    best = {}  # value -> (ops, products) of the longest chain from some h to it; absent: none
    for e in program.eqns:
        chains = [best[a.name] if a.name in best else (0, 0) for a in e.args
                  if a.name in best or a.name in prev]
        if chains:
            ops, products = max(chains)
            best[e.out.name] = (ops + 1, products + (e.op == "affine"))
    ends = [best[s.next.name] for s in program.states if s.next.name in best]
    return max(ends) if ends else (0, 0)


def cost(program: Program, batch: int = 16, steps: int = 100) -> Cost:
    """The cost figures of `program` (see the module docstring); B = batch, T = steps."""
    width = width_formulas(program)
    params = _param_formulas(program, width)
    sites = {}
    for e in program.eqns:
        if e.params:
            sites[e.out.name] = sympy.expand(sum((params[p] for p in e.params if p in params), ZERO))
    macs = _macs(program, width)
    forward = macs["pre"] + macs["scan"] + macs["post"]
    backward = macs["sequential"] + macs["parallel"]
    static_macs = macs["static"] + macs["static_backward"]
    kept = sum((width[v] for v in Plan(program).stored), ZERO)
    static = static_values(program.static_inputs, program.eqns)  # (1, B, W): held once per sequence
    named = [v.name for v in program.inputs] + [e.out.name for e in program.eqns] + [h.output.name for h in program.heads]
    values = sum((width[v] for v in named if v not in static), ZERO)
    once = sum((width[v] for v in named if v in static), ZERO)
    total = sympy.expand(sum(params.values(), ZERO))
    rows = [
        ("parameters", "parameters", total),
        ("macs_pre_step", "forward multiply-adds per step, pre (all steps at once)", B * macs["pre"]),
        ("macs_scan_step", "forward multiply-adds per step, scan (step by step)", B * macs["scan"]),
        ("macs_post_step", "forward multiply-adds per step, post (all steps at once)", B * macs["post"]),
        ("macs_static_batch", "forward multiply-adds per batch, static (once per sequence)", B * macs["static"]),
        ("macs_forward_batch", "forward multiply-adds per batch (B sequences of T steps)",
         T * B * forward + B * macs["static"]),
        ("macs_backward_sequential_step", "backward multiply-adds per step, step by step (BPTT)",
         B * macs["sequential"]),
        ("macs_backward_parallel_step", "backward multiply-adds per step, all steps at once",
         B * macs["parallel"]),
        ("macs_backward_static_batch", "backward multiply-adds per batch, static (once per sequence)",
         B * macs["static_backward"]),
        ("macs_training_batch", "forward + backward multiply-adds per batch",
         T * B * (forward + backward) + B * static_macs),
        ("bptt_floats_step", "floats BPTT keeps per step (minimum: what the backward reads)", B * kept),
        ("values_floats_step", "floats of every value per step (what the forward holds)", B * values),
        ("working_set_floats", "working set (a lower bound): parameters, gradients, all values",
         2 * total + T * B * values + B * once),
    ]
    figures = [Figure(key, label, sympy.expand(formula)) for key, label, formula in rows]
    depth, products = sequential_depth(program)
    return Cost(program, figures, sites, depth, products, batch, steps, size_symbols(program))
