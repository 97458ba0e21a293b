"""Moves of the architecture search: a spec -> variants, each one step away (syntax.Spec -> Spec).

The paper's own moves (Pascanu et al. §3) and cell mutations in the manner of Jozefowicz et al.
(2015), on the syntax records, so that every variant unparses to a readable spec:

    deepen_transition   h' = f(P)          ->  dN : S = f(P);  h' = MLP[f](dN)
    add_shortcut        … ⊕ …              ->  … ⊕ … ⊕ v   (v an input or a previous state)
    deepen_output       y = ▷ e            ->  dN : S = MLP[tanh](e);  y = ▷ (dN ⊕ operands of e)
    stack               y = ▷ …h'…         ->  dN' = tanh(h' ⊕ dN);  y = ▷ …dN'…  (state dN : S)
    deepen_input        … x … ⊕ …          ->  dN : S = MLP[relu](x);  … dN … ⊕ …   (x dense; the
                                               first equation that reads x)
    swap_activation     tanh(e)            ->  sigmoid(e) | relu(e)   (and each to the others)
    add_gate            h' = f(P)          ->  dN = sigmoid(P);  h' = dN * f(P)
    remove_gate         … g * e …          ->  … e …   (g = sigmoid(…), dropped when nothing else reads it)

S is the size the search varies (a `let`).  A move may make a spec the checker refuses (an
unused value, say); the search checks every variant and drops those.
"""
from __future__ import annotations

from dataclasses import replace

from ..front import syntax as S

ACTIVATIONS = ("tanh", "sigmoid", "relu")


def _names(spec: S.Spec) -> set:
    return {d.name for d in spec.decls} | {e.target for e in spec.equations} | {let.name for let in spec.lets}


def _fresh(spec: S.Spec) -> str:
    taken, n = _names(spec), 1
    while f"d{n}" in taken:
        n += 1
    return f"d{n}"


def _replace_item(spec: S.Spec, old, *new) -> S.Spec:
    items = []
    for item in spec.items:
        items.extend(new if item is old else (item,))
    return replace(spec, items=tuple(items))


def _map_expr(e, fn):
    """Rebuild expression e bottom-up, `fn(node)` applied to every rebuilt node."""
    if isinstance(e, S.Plus):
        e = replace(e, operands=tuple(_map_expr(o, fn) for o in e.operands))
    elif isinstance(e, (S.Predict, S.Call, S.MLP, S.Neg)):
        e = replace(e, expr=_map_expr(e.expr, fn))
    elif isinstance(e, S.BinOp):
        e = replace(e, left=_map_expr(e.left, fn), right=_map_expr(e.right, fn))
    return fn(e)


def _walk(e):
    yield e
    for child in ([*e.operands] if isinstance(e, S.Plus) else
                  [e.expr] if isinstance(e, (S.Predict, S.Call, S.MLP, S.Neg)) else
                  [e.left, e.right] if isinstance(e, S.BinOp) else []):
        yield from _walk(child)


def _state_updates(spec):
    states = {d.name for d in spec.decls if d.role == "state"}
    return [e for e in spec.equations if e.target.endswith("'") and e.target[:-1] in states]


def _predictions(spec):
    return [e for e in spec.equations if isinstance(e.expr, S.Predict)]


def deepen_transition(spec, size):
    for eq in _state_updates(spec):
        e = eq.expr
        if isinstance(e, S.Call) and e.fn in ACTIVATIONS and isinstance(e.expr, S.Plus):
            d = _fresh(spec)
            inner = S.Equation(d, size, e)
            outer = replace(eq, expr=S.MLP((S.Layer(e.fn),), S.Name(d)))
            yield f"deepen_transition({eq.target})", _replace_item(spec, eq, inner, outer)


def add_shortcut(spec, size):
    sources = [d.name for d in spec.decls if d.role in ("input", "state")]
    for eq in spec.equations:
        for plus in {id(p): p for p in _walk(eq.expr) if isinstance(p, S.Plus)}.values():
            present = {o.id for o in plus.operands if isinstance(o, S.Name)}
            for name in sources:
                if name in present:
                    continue
                grown = replace(plus, operands=plus.operands + (S.Name(name),))
                new = replace(eq, expr=_map_expr(eq.expr, lambda n, p=plus, g=grown: g if n == p else n))
                yield f"add_shortcut({eq.target}, {name})", _replace_item(spec, eq, new)


def deepen_output(spec, size):
    for eq in _predictions(spec):
        body = eq.expr.expr
        if isinstance(body, S.MLP):
            continue
        d = _fresh(spec)
        layer = S.Equation(d, size, S.MLP((S.Layer("tanh"),), body))
        operands = body.operands if isinstance(body, S.Plus) else (body,)
        new = replace(eq, expr=S.Predict(S.Plus((S.Name(d),) + tuple(operands))))
        yield f"deepen_output({eq.target})", _replace_item(spec, eq, layer, new)


def stack(spec, size):
    updates = _state_updates(spec)
    for eq in _predictions(spec):
        for up in updates:
            top = up.target
            if not any(isinstance(n, S.Name) and n.id == top for n in _walk(eq.expr)):
                continue
            d = _fresh(spec)
            decl = S.Decl("state", d, S.Type("real", size))
            level = S.Equation(f"{d}'", None, S.Call("tanh", (), S.Plus((S.Name(top), S.Name(d)))))
            new = replace(eq, expr=_map_expr(eq.expr, lambda n: S.Name(f"{d}'") if n == S.Name(top) else n))
            items = _replace_item(spec, eq, level, new).items
            yield f"stack({top})", replace(spec, items=(decl,) + items)


def deepen_input(spec, size):
    readers = [e for e in spec.equations if not isinstance(e.expr, S.Predict)]
    for x in [d.name for d in spec.decls if d.role == "input" and d.type.kind != "token"]:
        first = next((u for u in readers if S.Name(x) in _walk(u.expr)), None)
        if first is None:
            continue
        d = _fresh(spec)
        layer = S.Equation(d, size, S.MLP((S.Layer("relu"),), S.Name(x)))
        new = replace(first, expr=_map_expr(first.expr, lambda n: S.Name(d) if n == S.Name(x) else n))
        yield f"deepen_input({x})", _replace_item(spec, first, layer, new)


def swap_activation(spec, size):
    for eq in spec.equations:
        for call in {id(c): c for c in _walk(eq.expr) if isinstance(c, S.Call) and c.fn in ACTIVATIONS}.values():
            for fn in ACTIVATIONS:
                if fn == call.fn:
                    continue
                swapped = replace(call, fn=fn)
                new = replace(eq, expr=_map_expr(eq.expr, lambda n, c=call, s=swapped: s if n == c else n))
                yield f"swap_activation({eq.target}, {call.fn}->{fn})", _replace_item(spec, eq, new)


def add_gate(spec, size):
    for eq in _state_updates(spec):
        e = eq.expr
        if isinstance(e, S.Call) and e.fn in ACTIVATIONS and isinstance(e.expr, S.Plus):
            d = _fresh(spec)
            gate = S.Equation(d, None, S.Call("sigmoid", (), e.expr))
            yield f"add_gate({eq.target})", _replace_item(spec, eq, gate, replace(eq, expr=S.BinOp("*", S.Name(d), e)))


def remove_gate(spec, size):
    gates = {e.target: e for e in spec.equations if isinstance(e.expr, S.Call) and e.expr.fn == "sigmoid"}
    for eq in spec.equations:
        for product in {id(p): p for p in _walk(eq.expr) if isinstance(p, S.BinOp) and p.op == "*"}.values():
            for gate, other in ((product.left, product.right), (product.right, product.left)):
                if not (isinstance(gate, S.Name) and gate.id in gates):
                    continue
                new = replace(eq, expr=_map_expr(eq.expr, lambda n, p=product, o=other: o if n == p else n))
                variant = _replace_item(spec, eq, new)
                readers = [e for e in variant.equations if S.Name(gate.id) in _walk(e.expr)]
                if not readers:
                    variant = _replace_item(variant, gates[gate.id])
                yield f"remove_gate({eq.target}, {gate.id})", variant


MOVES = {"deepen_transition": deepen_transition, "add_shortcut": add_shortcut, "deepen_output": deepen_output,
         "stack": stack, "deepen_input": deepen_input, "swap_activation": swap_activation,
         "add_gate": add_gate, "remove_gate": remove_gate}


def neighbours(spec: S.Spec, size: str, moves=tuple(MOVES)):
    """(move description, Spec) for every variant one move away from `spec`."""
    for name in moves:
        yield from MOVES[name](spec, size)
