"""Readable views of a checked program: the text `rnnalg compile` prints, and Graphviz.

    format_program(program) -> str   declarations, eqns with widths and phases, heads,
                                     the parameter table and total, a phase summary
    to_dot(program) -> str           a digraph: vars and ops as nodes, clustered by phase
    format_warnings(diagnostics)     `file:line:col: warning: …` lines with carets
"""
from __future__ import annotations

from .errors import format_diagnostics
from .ir import Eqn, Program, Var
from .lower.linear import describe as describe_linear
from .lower.plan import Plan
from .phases import POST, PRE, SCAN, input_projections, phases

# output kind -> (link, loss)
LINKS = {
    "binary": ("sigmoid", "Bernoulli NLL summed over units"),
    "token": ("softmax", "categorical NLL"),
    "real": ("identity", "squared error ½‖y − ŷ‖²"),
}
PHASE_NOTES = {
    PRE: "depends on inputs only: all time steps at once",
    SCAN: "depends on the previous state and feeds the next: step by step",
    POST: "reads states, feeds no next state: all time steps at once",
}
PHASE_COLOURS = {PRE: "#e3f2fd", SCAN: "#fff3e0", POST: "#e8f5e9"}


def type_str(var: Var) -> str:
    return f"{var.kind}[{var.width}]"


def shape_str(shape: tuple) -> str:
    return "×".join(str(d) for d in shape)


def op_str(eqn: Eqn) -> str:
    """`affine`, `tanh`, `maxout[2]`, `lp[2, 3]`, `dropout[0.5]`."""
    if not eqn.attrs:
        return eqn.op
    return f"{eqn.op}[{', '.join(_number(v) for _, v in eqn.attrs)}]"


def _number(v) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def format_program(program: Program) -> str:
    """The graph summary printed by `rnnalg compile`."""
    phase = phases(program)
    lines = [f"spec {program.file}"]
    if program.sizes:
        lines.append("sizes    " + ", ".join(f"{n} = {v}" for n, v in program.sizes))
    for v in program.inputs:
        static = "    (static: one value per sequence, computed on once)" if v.name in program.static_inputs else ""
        lines.append(f"input    {v.name} : {type_str(v)}{static}")
    for s in program.states:
        lines.append(f"state    {s.prev.name} : {type_str(s.prev)}    ({s.next.name} is its next value)")
    for h in program.heads:
        link, loss = LINKS[h.output.kind]
        lines.append(f"output   {h.output.name} : {type_str(h.output)}    ({link} + {loss})")
    lines += ["", "equations  (phase  out : width = op(args)  [params])"]
    name_col = max((len(e.out.name) for e in program.eqns), default=0)
    outs = [f"{e.out.name:<{name_col}} : {e.out.width}" for e in program.eqns]
    col = max((len(o) for o in outs), default=0)
    rhs = [f"{op_str(e)}({', '.join(a.name for a in e.args)})" for e in program.eqns]
    col2 = max((len(r) for r in rhs), default=0)
    for e, out, r in zip(program.eqns, outs, rhs):
        params = ", ".join(f"{p} {shape_str(program.param(p).shape)}" for p in e.params)
        tail = f"   [{params}]" if params else ""
        lines.append(f"  {phase[e.out.name]:<5} {out:<{col}} = {r:<{col2}}{tail}".rstrip())
    lines += ["", "heads"]
    for h in program.heads:
        link, loss = LINKS[h.output.kind]
        lines.append(f"  {phase.get(h.logits.name, POST):<5} {h.output.name} : {type_str(h.output)}"
                     f" <- {h.logits.name}   {link} + {loss}")
    lines += ["", *format_param_table(program)]
    lines += [f"tied: {t} = {s}ᵀ (one array, counted once)" for t, s in program.ties]
    lines += ["", "phases"]
    for name in (PRE, SCAN, POST):
        n = sum(1 for e in program.eqns if phase[e.out.name] == name)
        lines.append(f"  {name:<5} {n:>3} eqn{'s' if n != 1 else ' '}   {PHASE_NOTES[name]}")
    projections = input_projections(program)
    if projections:
        terms = ", ".join(f"{a.name}·{w}" for _, a, w in projections)
        lines.append(f"  and the input terms of scan/post affines run in pre: {terms}")
    lines += [f"  {line}" for line in describe_linear(program)]
    for name, pairs in Plan(program).fan_out().items():
        weights = " | ".join(w for _, w in pairs)
        lines.append(f"  fused: {name} is read by {len(pairs)} scan affines: one product per step, "
                     f"{name} @ [{weights}]")
    return "\n".join(lines) + "\n"


def format_param_table(program: Program) -> list:
    """Lines: name, shape, count per parameter, then the total."""
    rows = [(p.name, shape_str(p.shape), f"{p.size:,}") for p in program.params]
    w0 = max([len("parameter")] + [len(r[0]) for r in rows])
    w1 = max([len("shape")] + [len(r[1]) for r in rows])
    total = f"{program.param_count:,}"
    w2 = max([len("count"), len(total)] + [len(r[2]) for r in rows])
    lines = [f"  {'parameter':<{w0}}  {'shape':<{w1}}  {'count':>{w2}}"]
    lines += [f"  {n:<{w0}}  {s:<{w1}}  {c:>{w2}}" for n, s, c in rows]
    lines.append(f"  {'total':<{w0}}  {'':<{w1}}  {total:>{w2}}")
    lines.append(f"total parameters: {program.param_count}")
    return lines


def format_warnings(diagnostics) -> str:
    """Warnings as `file:line:col: warning: …` with a caret line (empty string if none);
    after the first `errors.MAX_SHOWN`, a count."""
    return format_diagnostics(list(diagnostics))


# --- Graphviz ----------------------------------------------------------------------------

def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(lines: list) -> str:
    """A quoted multi-line Graphviz label (each line escaped, joined by \\n)."""
    return '"' + "\\n".join(_q(line)[1:-1] for line in lines) + '"'


def to_dot(program: Program) -> str:
    """A Graphviz digraph: ellipses for vars, boxes for ops, one cluster per phase."""
    phase = phases(program)
    clusters = {PRE: [], SCAN: [], POST: []}
    edges = []
    for v in program.inputs:
        clusters[PRE].append(f"{_q(v.name)} [label={_q(f'{v.name} : {type_str(v)}')}, shape=ellipse, "
                             "style=bold];")
    for s in program.states:
        clusters[SCAN].append(f"{_q(s.prev.name)} [label={_q(f'{s.prev.name} : {s.prev.width}')}, "
                              "shape=ellipse, style=bold];")
        edges.append(f"{_q(s.next.name)} -> {_q(s.prev.name)} [style=dashed, constraint=false, "
                     "label=\"next step\"];")
    for i, e in enumerate(program.eqns):
        p = phase[e.out.name]
        op_node = f"op{i}"
        label = _label([op_str(e)] + [f"{n} {shape_str(program.param(n).shape)}" for n in e.params])
        clusters[p].append(f"{op_node} [label={label}, shape=box];")
        clusters[p].append(f"{_q(e.out.name)} [label={_q(f'{e.out.name} : {e.out.width}')}, shape=ellipse];")
        edges += [f"{_q(a.name)} -> {op_node};" for a in e.args]
        edges.append(f"{op_node} -> {_q(e.out.name)};")
    for h in program.heads:
        link, loss = LINKS[h.output.kind]
        node = _q(f"head {h.output.name}")
        clusters[POST].append(f"{node} [label={_q(f'{h.output.name} : {type_str(h.output)}  {link} + {loss}')},"
                              " shape=doubleoctagon];")
        edges.append(f"{_q(h.logits.name)} -> {node};")
    lines = ["digraph rnnalg {", "  rankdir=TB;", '  node [fontname="Helvetica"];']
    for name, nodes in clusters.items():
        lines.append(f"  subgraph cluster_{name} {{")
        lines.append(f"    label={_q(f'{name}: {PHASE_NOTES[name]}')}; style=filled; "
                     f"color={_q(PHASE_COLOURS[name])};")
        lines += [f"    {n}" for n in nodes]
        lines.append("  }")
    lines += [f"  {e}" for e in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"
