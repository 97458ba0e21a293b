"""`check(spec) -> ir.Program`: names, widths and types of a spec, every error located.

The checker runs in three passes and reports independent errors together:

1. scope.resolve_sizes / scope.declare — `let`s (with `--set` overrides) and declarations;
2. scope.bind — what each equation binds and reads; unbound, twice-bound and output
   names; nested ▷; unknown functions and bad arguments; cycles within a step;
3. build.Builder — widths and IR eqns, in dependency order (equations may be written in
   any order).  An equation with an error, or reading one, is skipped, so one mistake
   gives one message.

Warnings ride in `Program.warnings`: unused declarations ('unused'), a state never read
as h, only as h' ('not-recurrent'), and a state no output depends on ('no-effect').

Choices where the design leaves room (see checking/build.py for the naming):
* an MLP layer's width is its width after the function (`maxout[2] 400` has an 800-wide
  affine); a layer without a width takes the MLP's result width, or, where nothing fixes
  it (under ▷), the MLP input's width: the sum of its dense operand widths;
* `z = a` is `z = linear(a)`; `z : N = a ⊕ b` binds the affine to z itself (params z.W_a, z.b);
* a state is real (a token state is 'token-as-dense', a binary one 'bad-type');
* `q' = …` for a q that is not a state is 'not-a-state';
* `a * b`, `a + b`, `a - b` need equal widths; a width known on one side (or from the
  context) fixes the other, also for an unannotated name read there (checking/widths.py).

Error codes: unknown-function, unbound-name, bound-twice, state-without-update,
output-not-predicted, predict-non-output, cycle, width-mismatch, width-not-inferable,
group-size, token-as-dense, bad-let, unknown-size, bad-type, read-output,
duplicate-operand, bad-argument, not-a-state, no-output, lone-constant, constant-range, no-input.
"""
from __future__ import annotations

from ..errors import Span, quote
from ..front import syntax
from ..ir import Program, State
from .build import Builder
from .conditioning import check_static
from .diagnostics import Diagnostics, Poison
from .scope import bind, declare, resolve_sizes
from .ties import resolve_ties
from .widths import infer_widths

__all__ = ["check"]


def check(spec: syntax.Spec, sizes: dict | None = None) -> Program:
    """Check `spec` and build its operator graph.

    `sizes` overrides `let`s (as `--set H=600`); an unknown name raises UsageError.
    Raises SpecError with every error found; warnings ride on `Program.warnings`.
    """
    diags = Diagnostics()
    for item in spec.items:
        if not isinstance(item, (syntax.Let, syntax.Decl, syntax.Equation)):
            diags.error("bad-type", f"not a statement (let, declaration or equation): {item!r}",
                        getattr(item, "span", None))
    size_table = resolve_sizes(spec, sizes, diags)
    scope = declare(spec, size_table, diags)
    roles = {d.role for d in spec.decls}
    if "output" not in roles:
        diags.error("no-output", "the spec predicts nothing: declare an output and predict it, "
                    "e.g. output y : binary[88] and y = ▷ h'", _start_of(spec))
    if "input" not in roles:
        diags.error("no-input", "the spec reads no input: declare one, e.g. input x : binary[88] "
                    "(the inputs give the number of time steps)", _start_of(spec))
    order, poisoned, _ = bind(spec, scope, diags)
    builder = Builder(scope, diags)
    builder.inferred = _widths_from_uses(order, poisoned, scope)
    heads = {}
    for b in order:
        if b.index in poisoned:
            continue
        builder.target = b.eq.target
        try:
            if b.role == "update":
                builder.update(b.eq)
            elif b.role == "predict":
                heads[b.eq.target] = builder.predict(b.eq)
            else:
                builder.let(b.eq)
        except Poison:
            continue
    _warn_unused(spec, scope, order, diags)
    _warn_idle_states(scope, order, diags)
    ties = resolve_ties(spec, scope, builder.eqns, heads, diags)
    static = check_static(spec, builder.eqns, heads, diags)
    diags.raise_if_errors()
    tied = {t for t, _ in ties}
    return Program(
        inputs=tuple(var for _, var in scope.inputs.values()),
        states=tuple(State(prev, nxt, decl.span) for decl, prev, nxt in scope.states.values()),
        heads=tuple(heads[name] for name in scope.outputs),
        eqns=tuple(builder.eqns),
        params=tuple(p for p in _params_in_use_order(builder) if p.name not in tied),
        ties=ties,
        static_inputs=static,
        sizes=tuple((name, size_table.values[name]) for name in size_table.lets),
        file=spec.file,
        text=spec.text,
        warnings=tuple(diags.warnings),
    )


def _widths_from_uses(order, poisoned, scope) -> dict:
    """Widths of unannotated intermediates fixed by the elementwise operators they meet."""
    sizes = scope.sizes.values
    known = {name: var.width for name, (_, var) in scope.inputs.items() if var.kind != "token"}
    known.update({n: prev.width for n, (_, prev, _) in scope.states.items()})
    known.update({n + "'": prev.width for n, (_, prev, _) in scope.states.items()})
    free = set()
    good = [b for b in order if b.index not in poisoned]
    for b in good:
        if b.role != "let":
            continue
        if b.eq.width is None:
            free.add(b.eq.target)
        else:
            width = sizes.get(b.eq.width) if isinstance(b.eq.width, str) else b.eq.width
            if width is not None:
                known[b.eq.target] = width
    return infer_widths(good, known, free, lambda size: sizes.get(size) if isinstance(size, str) else size)


def _start_of(spec: syntax.Spec) -> Span:
    """Line 1 of the spec, for errors about the whole spec (so they still name the file)."""
    return Span(spec.file, 1, 1, 1, 2)


def _params_in_use_order(builder: Builder) -> tuple:
    seen, params = set(), []
    for e in builder.eqns:
        for name in e.params:
            if name not in seen:
                seen.add(name)
                params.append(builder.params[name])
    return tuple(params)


def _warn_unused(spec: syntax.Spec, scope, bindings, diags: Diagnostics) -> None:
    """Inputs, states, intermediates and sizes that nothing reads."""
    read = {name.id for b in bindings for name in b.reads if name.id != b.eq.target}
    for name, (decl, _) in scope.inputs.items():
        if name not in read:
            diags.warn("unused", f"input '{name}' is never read", decl.span)
    for name, (decl, _, _) in scope.states.items():
        if name not in read and name + "'" not in read:
            diags.warn("unused", f"state '{name}' is never read (neither {name} nor {name}')", decl.span)
    for b in bindings:
        if b.role == "let" and b.eq.target not in read:
            diags.warn("unused", f"'{b.eq.target}' is computed but never read", b.eq.span)
    for name, let in scope.sizes.lets.items():
        if name not in scope.sizes.used:
            diags.warn("unused", f"size '{name}' is never used", let.span)


def _warn_idle_states(scope, bindings, diags: Diagnostics) -> None:
    """States that carry nothing across steps (h never read, only h') or that no output
    depends on (neither h nor h' reaches a ▷, at this step or a later one)."""
    read = {name.id for b in bindings for name in b.reads if name.id != b.eq.target}
    by_target = {b.eq.target: b for b in bindings}
    reaches, todo = set(), list(scope.outputs)
    while todo:  # names some output depends on; h reaching means h' reaches (one step later)
        n = todo.pop()
        if n not in reaches:
            reaches.add(n)
            todo += [r.id for r in by_target[n].reads] if n in by_target else []
            todo += [n + "'"] if n in scope.states else []
    for name, (decl, _, _) in scope.states.items():
        nxt = name + "'"
        if name not in read and nxt not in read:
            continue  # 'unused' already
        if name not in read:
            diags.warn("not-recurrent", f"state '{name}' is never read as {name}, its previous value, "
                       f"so nothing is carried from one step to the next (read {name} in {nxt} = …)",
                       decl.span)
        if name not in reaches and nxt not in reaches:
            diags.warn("no-effect", f"state '{name}' reaches no output: no ▷ depends on {name} or "
                       f"{quote(nxt)}", decl.span)
