"""The canonical form of a checked program: one step as a labelled multigraph, names forgotten.

    node  an input     'input binary[88]', 'input real[12] static' (one value per sequence)
          a previous state  'state[200]'
          an equation  'tanh:200', 'affine:200', 'shift[c=1.0]:200', 'zoneout[rate=0.5]:200',
                       'layernorm:200' (op, attributes, width; a ⊕ with a tied weight: 'affine tied:V')
          a head       'head binary[88]'
    edge  value -> what it reads, labelled by how: 'weight' / 'embedding' (a ⊕ operand, which owns
          one parameter; 'tied' for a weight that is an embedding's transpose, Program.ties),
          'arg' (the operands of a commutative op: mul, add, and unary ops), 'arg0' / 'arg1' (sub;
          zoneout's new value and the state it keeps); a previous state -> its update: 'next';
          a head -> its logits; a ⊕ with a tied weight -> the ⊕ that owns the embedding: 'tie'.

Forgotten by construction: value and parameter names, the order of equations, the order of ⊕
operands and of `*`/`+` operands (edges carry no position), `MLP[...]` versus its layers written
out and intermediate names (the checker already flattens both to the same equations), and
`linear(e)`, the identity, which is dropped.  Two programs are the same model exactly when their
graphs are isomorphic with equal labels (equiv.py); `canonical_text` prints one such graph with
names v1, v2, … chosen by a Weisfeiler–Lehman hash, so equal texts mean equal models.
"""
from __future__ import annotations

import hashlib

import networkx as nx

from ..ir import Program

COMMUTATIVE = {"mul", "add"}
ORDERED = {"sub", "zoneout"}
DROPPED = {"linear"}  # the identity function


def _attrs(e) -> str:
    return "[" + ", ".join(f"{k}={v}" for k, v in e.attrs) + "]" if e.attrs else ""


def graph(program: Program) -> nx.MultiDiGraph:
    """The canonical multigraph of `program` (see the module docstring); node keys are var names
    (heads: 'head:y'); node data: label, kind ('input' | 'state' | 'eqn' | 'head'), eqn or var."""
    alias = {}

    def real(name):
        while name in alias:
            name = alias[name]
        return name

    g = nx.MultiDiGraph()
    static = set(program.static_inputs)
    tied = dict(program.ties)  # tied weight -> the embedding it is the transpose of
    owner = {p: e.out.name for e in program.eqns for p in e.params}  # param -> its site
    for v in program.inputs:
        g.add_node(v.name, label=f"input {v.kind}[{v.width}]" + (" static" if v.name in static else ""),
                   kind="input", var=v)
    for s in program.states:
        g.add_node(s.prev.name, label=f"state[{s.prev.width}]", kind="state", var=s.prev, state=s)
    for e in program.eqns:
        if e.op in DROPPED:
            alias[e.out.name] = e.args[0].name
            continue
        ties = [p for p in e.params if p in tied]
        g.add_node(e.out.name, label=f"{e.op}{' tied' if ties else ''}{_attrs(e)}:{e.out.width}", kind="eqn",
                   eqn=e, var=e.out, tied=bool(ties))
        if e.op == "affine":
            for a, p in zip(e.args, e.params):
                how = "tied" if p in tied else "embedding" if a.kind == "token" else "weight"
                g.add_edge(e.out.name, real(a.name), label=how, param=p)
            for p in ties:
                g.add_edge(e.out.name, owner[tied[p]], label="tie")
        else:
            for i, a in enumerate(e.args):
                g.add_edge(e.out.name, real(a.name), label=f"arg{i}" if e.op in ORDERED else "arg")
    for s in program.states:
        g.add_edge(s.prev.name, real(s.next.name), label="next")
    for h in program.heads:
        node = f"head:{h.output.name}"
        g.add_node(node, label=f"head {h.output.kind}[{h.output.width}]", kind="head", head=h, var=h.output)
        g.add_edge(node, real(h.logits.name), label="logits")
    return g


def _digest(*parts) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()


def wl_history(g: nx.MultiDiGraph, readers: bool = False) -> list:
    """[{node: hash}, ...]: Weisfeiler–Lehman hashes after 0, 1, 2, … rounds, each round taking in
    what a node reads (through states too; with `readers`, also what reads it), until the
    partition stops refining.  Nodes that correspond under an isomorphism have equal hashes in
    every round; the round at which two nodes part says how far their expressions agree."""
    h = {n: _digest(d["label"]) for n, d in g.nodes(data=True)}
    history = [h]
    for _ in range(g.number_of_nodes()):
        new = {n: _digest(h[n], sorted((d["label"], h[m]) for _, m, d in g.out_edges(n, data=True)),
                          sorted((d["label"], h[m]) for m, _, d in g.in_edges(n, data=True)) if readers else ())
               for n in g.nodes}
        history.append(new)
        if len(set(new.values())) == len(set(h.values())):
            break
        h = new
    return history


def wl_hashes(g: nx.MultiDiGraph, readers: bool = False) -> dict:
    """node -> its final WL hash (wl_history): equal for nodes that correspond under any
    isomorphism; unequal ones certainly differ."""
    return wl_history(g, readers)[-1]


def canonical_order(g: nx.MultiDiGraph) -> list:
    """The nodes in a topological order of the step (readers after what they read; the 'next'
    edges are left out) with ties broken by WL hash: a deterministic order for equal graphs."""
    h = wl_hashes(g, readers=True)
    step = nx.DiGraph()
    step.add_nodes_from(g.nodes)
    step.add_edges_from((m, n) for n, m, d in g.edges(data=True) if d["label"] != "next")
    return list(nx.lexicographical_topological_sort(step, key=lambda n: (g.nodes[n]["kind"] != "input", h[n])))


def canonical_text(program: Program) -> str:
    """The canonical form printed: one line per value, names v1, v2, … in canonical order."""
    g = graph(program)
    order = canonical_order(g)
    names, lines = {}, []
    kinds = {"input": "i", "state": "s", "eqn": "v", "head": "y"}
    counts = dict.fromkeys(kinds.values(), 0)
    for n in order:
        prefix = kinds[g.nodes[n]["kind"]]
        counts[prefix] += 1
        names[n] = f"{prefix}{counts[prefix]}"
    for n in order:
        data = g.nodes[n]
        # sorted by (edge label, name): operands of ⊕, * and + in canonical order, arg0 before arg1
        reads = sorted((d["label"], names[m]) for _, m, d in g.out_edges(n, data=True) if d["label"] != "next")
        args = ", ".join(name if label.startswith(("arg", "logits")) else f"{label} {name}" for label, name in reads)
        nxt = [names[m] for _, m, d in g.out_edges(n, data=True) if d["label"] == "next"]
        line = f"{names[n]} = {data['label']}" + (f"({args})" if args else "")
        if nxt:
            line += f"    next {nxt[0]}"
        lines.append(line)
    return "\n".join(lines)


# ---- gate complements: σ(a) and 1 − σ(a) = σ(−a) are the same family -----------------------------

def _attr_is(g, n, op: str, value: float) -> bool:
    e = g.nodes[n].get("eqn")
    return e is not None and e.op == op and dict(e.attrs).get("c") == value


def _complement(g, n):
    """The node 1 − s if `n` is the scale[−1] of `1 − s` (read only by its shift[1]), else None."""
    if not _attr_is(g, n, "scale", -1.0):
        return None
    readers = [r for r, _ in g.in_edges(n)]
    return readers[0] if len(readers) == 1 and _attr_is(g, readers[0], "shift", 1.0) else None


def flippable(g: nx.MultiDiGraph) -> list:
    """Gates s = σ(a) whose ⊕ a is read by s alone: σ(a) may be traded for σ(−a) = 1 − σ(a)."""
    gates = []
    for s, data in g.nodes(data=True):
        e = data.get("eqn")
        children = [m for _, m in g.out_edges(s)]
        if e is None or e.op != "sigmoid" or len(children) != 1:
            continue
        a = children[0]
        if g.nodes[a].get("eqn") is not None and g.nodes[a]["eqn"].op == "affine" and g.in_degree(a) == 1:
            gates.append(s)
    return sorted(gates)


def flip(g: nx.MultiDiGraph, s) -> nx.MultiDiGraph:
    """g with gate s = σ(a) read as s' = σ(−a): each `1 − s` becomes s' itself, each other reader
    reads a new `1 − s'`; the ⊕ a is marked `negated` (its weights and bias change sign)."""
    h = g.copy()
    (a,) = [m for _, m in h.out_edges(s)]
    h.nodes[a]["negated"] = not h.nodes[a].get("negated", False)
    width = h.nodes[s]["var"].width
    direct = []
    for r, _, key, d in list(h.in_edges(s, keys=True, data=True)):
        c = _complement(h, r)
        if c is None:
            direct.append((r, key, d))
            continue
        for rr, _, k2, d2 in list(h.in_edges(c, keys=True, data=True)):
            h.remove_edge(rr, c, k2)
            h.add_edge(rr, s, **d2)
        h.remove_nodes_from([r, c])
    if direct:
        scale, shift = (s, "1-", "scale"), (s, "1-", "shift")
        var = type(h.nodes[s]["var"])(f"1 - {h.nodes[s]['var'].name}", width)
        h.add_node(scale, label=f"scale[c=-1.0]:{width}", kind="eqn", eqn=None, var=var, synthetic=True)
        h.add_node(shift, label=f"shift[c=1.0]:{width}", kind="eqn", eqn=None, var=var, synthetic=True)
        h.add_edge(scale, s, label="arg")
        h.add_edge(shift, scale, label="arg")
        for r, key, d in direct:
            h.remove_edge(r, s, key)
            h.add_edge(r, shift, **d)
    return h
