"""Weight tying (Press & Wolf 2017; Inan et al. 2017): `output y : token[V] tied x`.

The softmax weights of y (the predict affine's one weight, (E, V)) are the transpose of the one
embedding table of token input x, (V, E): one array, counted once.  The checker insists that

* y and x are both `token[V]` with one V, and x is a declared input;
* x is read by exactly one ⊕ (one embedding table, so "the embedding" means one thing);
* y is predicted from one value (`y = ▷ h'` or a deep output), of width E, the embedding's width.

The result is `Program.ties`, ((tied weight, embedding), ...); the tied weight is not in
`Program.params` (the lowering binds it to the embedding's transpose and adds its gradient back).
"""
from __future__ import annotations

from ..errors import quote
from .diagnostics import Diagnostics


def resolve_ties(spec, scope, eqns, heads: dict, diags: Diagnostics) -> tuple:
    """((tied weight name, embedding name), ...) of the spec's `tied` declarations."""
    ties = []
    for decl in spec.decls:
        if decl.tied is None:
            continue
        found = _tie(decl, scope, eqns, heads, diags)
        if found is not None:
            ties.append(found)
    return tuple(ties)


def _tie(decl, scope, eqns, heads, diags):
    fail = lambda message: diags.error("bad-tie", message, decl.span)  # noqa: E731
    x = decl.tied
    if decl.role != "output":
        return fail(f"only an output can be tied (to a token input's embedding): {decl.role} {decl.name} tied {x}")
    if x not in scope.inputs:
        return fail(f"{quote(decl.name)} is tied to {quote(x)}, which is not a declared input")
    _, xv = scope.inputs[x]
    head = heads.get(decl.name)
    if head is None:  # not predicted: that error is reported elsewhere
        return None
    y = head.output
    if y.kind != "token" or xv.kind != "token":
        return fail(f"tying needs two tokens: output {y.name} is {y.kind}[{y.width}] and input {x} is "
                    f"{xv.kind}[{xv.width}]")
    if y.width != xv.width:
        return fail(f"tied vocabularies differ: output {y.name} is token[{y.width}], input {x} is token[{xv.width}]")
    tables = [(e, w) for e in eqns if e.op == "affine" for a, w in zip(e.args, e.params) if a.name == x]
    if len(tables) != 1:
        sites = ", ".join(w for _, w in tables) or "none"
        return fail(f"{quote(y.name)} is tied to the embedding of {quote(x)}, but {x} has {len(tables)} embedding "
                    f"tables ({sites}): read {x} in one ⊕, e.g. e : E = MLP[linear](x), and the rest from e")
    table = tables[0][1]
    logits = next(e for e in eqns if e.out.name == head.logits.name)
    if len(logits.args) != 1:
        return fail(f"a tied output is predicted from one value, but {y.name} = ▷ reads {len(logits.args)} "
                    f"({', '.join(a.name for a in logits.args)})")
    width = next(e for e, _ in tables).out.width
    if logits.args[0].width != width:
        return fail(f"tied widths differ: {y.name} is predicted from {logits.args[0].name} of width "
                    f"{logits.args[0].width}, but the embedding of {x} has width {width}")
    return logits.params[0], table
