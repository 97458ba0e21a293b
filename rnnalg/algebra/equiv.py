"""`equivalent(a, b)`: are two programs the same model, and which parameter of A is which of B?

Two programs are the same family of functions when their canonical graphs (canonical.py) are
isomorphic with equal node and edge labels: then every value of A has its counterpart in B,
each ⊕ term `a @ W` of A its term in B, and θ_B = map(θ_A) gives the same loss and gradients.
The isomorphism is networkx's VF2 (`MultiDiGraphMatcher`); the parameter map follows from it:
a matched ⊕ pairs its operands' weights through the matched operands, and the biases.
A sigmoid gate may stand for its complement, σ(a) = 1 − σ(−a) (canonical.flip): failing as they
stand, the graphs are compared again with subsets of A's gates flipped, and a flipped gate's
⊕ parameters map to the negatives of B's (`Equivalence.negated`).

When there is none, `first_difference` compares the declared interface (inputs, states,
outputs), then walks both graphs from the heads in step, pairing the operands of a commutative
op by their WL hashes (equal hash: the same expression) and the rest by how many WL rounds they
agree for (the likeliest counterparts), and reports the first pair whose labels or operand
counts differ, with both source locations: `a.rnn:4:9 vs b.rnn:5:9: tanh vs sigmoid`.
"""
from __future__ import annotations

from collections import Counter, deque
from itertools import combinations
from dataclasses import dataclass, field

from networkx.algorithms.isomorphism import MultiDiGraphMatcher

from ..ir import Program
from .canonical import ORDERED, flip, flippable, graph, wl_history

SPELLING = {"affine": "⊕", "add": "+", "sub": "-", "mul": "*", "scale": "scale", "shift": "shift"}


@dataclass(frozen=True)
class Difference:
    """Where A and B first differ: a location in each and what differs there."""

    where_a: str
    where_b: str
    message: str

    def __str__(self) -> str:
        return f"{self.where_a} vs {self.where_b}: {self.message}"


@dataclass
class Equivalence:
    """The answer: `equal`, and then `names` (A value -> B value) and `params` (A parameter ->
    B parameter); else `difference`."""

    equal: bool
    names: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    difference: Difference | None = None
    negated: frozenset = frozenset()  # A parameters whose B counterpart is their negative (σ(a) = 1 − σ(−a))

    def __bool__(self) -> bool:
        return self.equal


def _node_match(x, y) -> bool:
    return x["label"] == y["label"]


def _edge_match(x, y) -> bool:  # all the edges between one pair of nodes, keyed by edge key
    return Counter(d["label"] for d in x.values()) == Counter(d["label"] for d in y.values())


MAX_FLIPS = 8  # gates of A tried as σ(−a): 2^8 isomorphism tests at most


def equivalent(a: Program, b: Program) -> Equivalence:
    """Equivalence of `a` and `b` (see the module docstring).  If the graphs are not isomorphic
    as they stand, each subset of A's sigmoid gates (canonical.flippable, up to MAX_FLIPS) is
    tried as σ(−a) = 1 − σ(a): a GRU written with `(1 - z) * h + z * n` and one with
    `z * h + (1 - z) * n` are the same family, with the update gate's weights negated."""
    ga, gb = graph(a), graph(b)
    gates = flippable(ga)[:MAX_FLIPS]
    for subset in (c for k in range(len(gates) + 1) for c in combinations(gates, k)):
        g = ga
        for s in subset:
            g = flip(g, s)
        matcher = MultiDiGraphMatcher(g, gb, node_match=_node_match, edge_match=_edge_match)
        if matcher.is_isomorphic():
            return _answer(g, gb, matcher.mapping)
    return Equivalence(False, difference=first_difference(a, b, ga, gb))


def _answer(ga, gb, mapping) -> Equivalence:
    names = {}
    for n, m in mapping.items():
        if ga.nodes[n].get("synthetic") or gb.nodes[m].get("synthetic"):
            continue
        names[ga.nodes[n]["var"].name] = gb.nodes[m]["var"].name
        if ga.nodes[n]["kind"] == "state":
            names[ga.nodes[n]["state"].next.name] = gb.nodes[m]["state"].next.name
    params = _param_map(ga, gb, mapping)
    negated = frozenset(p for n, d in ga.nodes(data=True) if d.get("negated") != gb.nodes[mapping[n]].get("negated")
                        for p in d["eqn"].params)
    return Equivalence(True, names=names, params=params, negated=negated)


def _param_map(ga, gb, mapping) -> dict:
    """A parameter -> B parameter: weights through the matched operands, biases of matched ⊕s,
    a layernorm's gain and bias by role (its parameters in the order the checker gives them).
    A tied weight is not a parameter (Program.ties): the matched 'tie' edges pair the ⊕s that
    own the embeddings, whose embeddings map like any other weight."""
    params = {}
    for n, data in ga.nodes(data=True):
        ea = data.get("eqn")
        if ea is None or not ea.params:
            continue
        m = mapping[n]
        eb = gb.nodes[m]["eqn"]
        if ea.op != "affine":
            params.update(zip(ea.params, eb.params))
            continue
        free = {}  # (operand in B, edge label) -> B parameters not yet paired
        for _, target, d in gb.out_edges(m, data=True):
            if "param" in d:
                free.setdefault((target, d["label"]), []).append(d["param"])
        for _, target, d in ga.out_edges(n, data=True):
            if d["label"] not in ("tie", "tied"):  # a tied weight is no parameter: its embedding is
                params[d["param"]] = free[(mapping[target], d["label"])].pop(0)
        params[ea.params[-1]] = eb.params[-1]  # the bias
    return params


# ---- the first difference ----------------------------------------------------------------------

def _decl_spans(program: Program) -> dict:
    """Declared name -> its span (inputs carry none in the IR)."""
    if not program.text:
        return {}
    from ..front.parser import parse

    return {d.name: d.span for d in parse(program.text, program.file).decls}


def _where(program: Program, data: dict, decls: dict) -> str:
    kind = data["kind"]
    span = {"eqn": lambda: data["eqn"].span, "head": lambda: data["head"].span,
            "state": lambda: data["state"].span, "input": lambda: decls.get(data["var"].name)}[kind]()
    return str(span) if span else program.file


def _describe(data: dict) -> str:
    """A node as a reader of the spec names it: `tanh`, `⊕`, `input x : binary[88]`."""
    if data["kind"] == "eqn":
        e = data["eqn"]
        attrs = "[" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for _, v in e.attrs) + "]" \
            if e.attrs else ""
        return SPELLING.get(e.op, e.op) + attrs + (" (tied weight)" if data.get("tied") else "")
    var = data["var"]
    if data["kind"] == "state":
        return f"state {var.name} : {var.width}"
    static = " static" if data["label"].endswith(" static") else ""
    return f"{'output' if data['kind'] == 'head' else 'input'} {var.name} : {var.kind}[{var.width}]{static}"


def _mismatch(da, db) -> str:
    what_a, what_b = _describe(da), _describe(db)
    if what_a == what_b and da["var"].width != db["var"].width:
        return f"{what_a} of width {da['var'].width} vs {db['var'].width}"
    return f"{what_a} vs {what_b}"


def _operands(g, n) -> list:
    return [(d["label"], m) for _, m, d in g.out_edges(n, data=True)]


def first_difference(a: Program, b: Program, ga=None, gb=None) -> Difference:
    """The first place where `a` and `b` differ, walking from their outputs (module docstring)."""
    ga, gb = ga if ga is not None else graph(a), gb if gb is not None else graph(b)
    ha, hb = _Hashes(ga), _Hashes(gb)
    decls_a, decls_b = _decl_spans(a), _decl_spans(b)

    def diff(n, m, message):
        return Difference(_where(a, ga.nodes[n], decls_a), _where(b, gb.nodes[m], decls_b), message)

    for kind in ("input", "state", "head"):  # the interface first: what is declared
        xs = [n for n, d in ga.nodes(data=True) if d["kind"] == kind]
        ys = [m for m, d in gb.nodes(data=True) if d["kind"] == kind]
        pairs, spare_a, spare_b = _pair(xs, ys, ha, hb)
        for n, m in pairs:
            if ga.nodes[n]["label"] != gb.nodes[m]["label"]:
                return diff(n, m, _mismatch(ga.nodes[n], gb.nodes[m]))
        if spare_a or spare_b:
            what = "outputs" if kind == "head" else kind + "s"
            spare, g, program, decls = (spare_a, ga, a, decls_a) if spare_a else (spare_b, gb, b, decls_b)
            where = _where(program, g.nodes[spare[0]], decls)
            message = f"{what}: {len(xs)} vs {len(ys)} ({_describe(g.nodes[spare[0]])} unmatched)"
            return Difference(where if spare_a else a.file, b.file if spare_a else where, message)
    heads_a = [n for n, d in ga.nodes(data=True) if d["kind"] == "head"]
    heads_b = [m for m, d in gb.nodes(data=True) if d["kind"] == "head"]
    queue, seen = deque(_pair(heads_a, heads_b, ha, hb)[0]), set()
    while queue:
        n, m = queue.popleft()
        if (n, m) in seen:
            continue
        seen.add((n, m))
        da, db = ga.nodes[n], gb.nodes[m]
        if da["label"] != db["label"]:
            return diff(n, m, _mismatch(da, db))
        ops_a, ops_b = _operands(ga, n), _operands(gb, m)
        if da["kind"] == "eqn" and da["eqn"].op in ORDERED:  # by position
            queue.extend((x, y) for (_, x), (_, y) in zip(sorted(ops_a), sorted(ops_b)))
            continue
        pairs, spare_a, spare_b = _pair([x for _, x in ops_a], [y for _, y in ops_b], ha, hb)
        if spare_a or spare_b:
            names = ", ".join(ga.nodes[x]["var"].name for x in spare_a) or \
                ", ".join(gb.nodes[y]["var"].name for y in spare_b)
            noun = "operand" if len(ops_a) == 1 else "operands"
            return diff(n, m, f"{_describe(da)} of {len(ops_a)} {noun} vs {len(ops_b)} ({names} unmatched)")
        queue.extend(pairs)
    return Difference(a.file, b.file, f"the same expressions, shared differently "
                                      f"({ga.number_of_nodes()} values vs {gb.number_of_nodes()})")


class _Hashes:
    """The WL hashes of one graph's nodes, by what they read and by where they are read."""

    def __init__(self, g):
        self.reads, self.context = wl_history(g), wl_history(g, readers=True)

    def __getitem__(self, node):
        return self.reads[-1][node]

    def agreement(self, node, other: "_Hashes", other_node) -> tuple:
        """(rounds the expressions agree, rounds their contexts agree): -1 when labels differ."""
        def rounds(mine, theirs):
            n = -1
            for a, b in zip(mine, theirs):
                if a[node] != b[other_node]:
                    break
                n += 1
            return n
        return rounds(self.reads, other.reads), rounds(self.context, other.context)


def _pair(xs, ys, ha, hb):
    """(pairs, unpaired of xs, unpaired of ys): the nodes to compare next, equal WL hashes first
    (the same expression), then the rest greedily by how far they agree (_Hashes.agreement)."""
    xs, ys, pairs = list(xs), list(ys), []
    for x in list(xs):
        match = next((y for y in ys if hb[y] == ha[x]), None)
        if match is not None:
            xs.remove(x)
            ys.remove(match)
            pairs.append((x, match))
    while xs and ys:
        _, x, y = max(((ha.agreement(x, hb, y), -i, -j), x, y) for i, x in enumerate(xs) for j, y in enumerate(ys))
        xs.remove(x)
        ys.remove(y)
        pairs.append((x, y))
    return pairs, xs, ys


# ---- moving parameters across --------------------------------------------------------------------

def rename_arrays(arrays: dict, eq: Equivalence) -> dict:
    """A's named arrays under B's names: a parameter name (`W`, or the last part of `param/W`,
    `opt/m/W`, `best/W`) through `eq.params`, a state's (`carry/h`, `h`) through `eq.names`;
    anything else (`rng/data`, `opt/t`) unchanged.
    A negated parameter (eq.negated) changes sign, and so do the optimiser's first moments of it
    (`opt/m/`, and SGD's velocity `opt/v/`; not Adam's second moments, `opt/v/` beside `opt/m/`)."""
    adam = any(key.startswith("opt/m/") for key in arrays)
    out = {}
    for key, value in arrays.items():
        head, _, last = key.rpartition("/")
        new = eq.params.get(last) or (eq.names.get(last) if head in ("", "carry") else None) or last
        signed = last in eq.negated and head in ("", "param", "best", "opt/m") + (() if adam else ("opt/v",))
        out[f"{head}/{new}" if head else new] = -value if signed else value
    return out
