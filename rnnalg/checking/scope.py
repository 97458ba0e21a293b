"""Sizes, declarations and names: everything the checker knows before widths.

`declare` resolves the `let`s (with overrides: `--set`, `sizes=`) and the declarations;
`bind` finds what each equation binds and reads, reports unbound, twice-bound and
output names, cycles within a step, and returns the equations in dependency order.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from ..errors import UsageError, quote
from ..front import syntax
from ..ir import KINDS, Var
from .constants import constant_problems
from .diagnostics import Diagnostics, Poison
from .functions import FUNCTIONS, ArgumentError, function_attrs, unknown_function_message
from .order import dependency_order
from .widths import constant_value

LONE_CONSTANT = ("a number alone is not a value: it takes the width of the value it meets, "
                 "as in 1 - z or 0.5 * h")
CONSTANT_OPERAND = ("a number cannot be an operand of ⊕ (the affine summary has its own bias); "
                    "to add a constant, write (x ⊕ h) + 1")

ROLES = ("input", "output", "state")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Sizes:
    """The `let` sizes after overrides; `resolve` turns a `Size` into a positive int."""

    lets: dict  # name -> Let (first binding)
    values: dict  # name -> int, the valid ones
    used: set = field(default_factory=set)

    def resolve(self, size, span, diags: Diagnostics, what: str) -> int:
        if isinstance(size, str):
            if size in self.values:
                self.used.add(size)
                return self.values[size]
            if size in self.lets:  # a bad `let`, already reported
                raise Poison("bad-let")
            known = ", ".join(self.lets) or "none"
            raise diags.fail("unknown-size", f"unknown size '{size}' (the spec defines: {known})", span)
        if not _is_int(size) or size < 1:
            raise diags.fail("bad-type", f"{what} must be a positive integer, got {size!r}", span)
        return size


def resolve_sizes(spec: syntax.Spec, overrides: dict | None, diags: Diagnostics) -> Sizes:
    """Check the `let`s (positive integers, each bound once) and apply the `sizes` overrides."""
    lets, values = {}, {}
    for let in spec.lets:
        if let.name in lets:
            diags.error("bound-twice", f"size '{let.name}' is defined twice "
                        f"(first {_where(lets[let.name])})", let.span)
            continue
        lets[let.name] = let
        if _is_int(let.value) and let.value >= 1:
            values[let.name] = let.value
        else:
            diags.error("bad-let", f"let {let.name} = {let.value!r}: a size must be a positive integer",
                        let.span)
    for name, value in (overrides or {}).items():  # the CLI has checked its --set already
        if name not in lets:
            raise UsageError(f"unknown size {name!r} in sizes (the spec defines: {defined_sizes(spec)})")
        if not _is_int(value) or value < 1:
            raise UsageError(f"sizes[{name!r}] = {value!r}: a size must be a positive integer")
        values[name] = value
    return Sizes(lets, values)


def defined_sizes(spec: syntax.Spec) -> str:
    """'H, E' (the `let` names of `spec`) or 'no sizes', for messages."""
    return ", ".join(dict.fromkeys(let.name for let in spec.lets)) or "no sizes"


def _where(record) -> str:
    span = getattr(record, "span", None)
    return f"at line {span.line}" if span is not None else "earlier"


@dataclass
class Scope:
    """Declarations resolved to IR vars, in declaration order."""

    sizes: Sizes
    inputs: dict = field(default_factory=dict)  # name -> (Decl, Var)
    outputs: dict = field(default_factory=dict)  # name -> (Decl, Var)
    states: dict = field(default_factory=dict)  # name -> (Decl, prev Var, next Var)
    broken: dict = field(default_factory=dict)  # name -> Decl whose type is in error (reported)

    def decl(self, name: str):
        for table in (self.inputs, self.outputs, self.states):
            if name in table:
                return table[name][0]
        return self.broken.get(name)


def declare(spec: syntax.Spec, sizes: Sizes, diags: Diagnostics) -> Scope:
    """Resolve each declaration's type; report duplicates and bad types."""
    scope = Scope(sizes)
    for decl in spec.decls:
        first = scope.decl(decl.name) or sizes.lets.get(decl.name)
        if first is not None:
            diags.error("bound-twice", f"'{decl.name}' is declared twice (first {_where(first)})", decl.span)
            continue
        try:
            var = _declared_var(decl, sizes, diags)
        except Poison:
            scope.broken[decl.name] = decl
            continue
        if decl.role == "input":
            scope.inputs[decl.name] = (decl, var)
        elif decl.role == "output":
            scope.outputs[decl.name] = (decl, var)
        else:
            scope.states[decl.name] = (decl, var, Var(decl.name + "'", var.width, var.kind))
    return scope


def _declared_var(decl: syntax.Decl, sizes: Sizes, diags: Diagnostics) -> Var:
    typ = decl.type
    span = typ.span or decl.span
    if decl.role not in ROLES:
        raise diags.fail("bad-type", f"unknown declaration '{decl.role}' (use input, output or state)", decl.span)
    if typ.kind not in KINDS:
        raise diags.fail("bad-type", f"unknown type '{typ.kind}' (use real[N], binary[N] or token[V])", span)
    width = sizes.resolve(typ.size, span, diags, f"the size of {decl.name}")
    if decl.role == "state" and typ.kind == "token":
        raise diags.fail("token-as-dense", f"state '{decl.name}' is a token; a state must be a dense "
                         f"real vector, e.g. state {decl.name} : {typ.size}", span)
    if decl.role == "state" and typ.kind != "real":
        raise diags.fail("bad-type", f"state '{decl.name}' must be real[N], not {typ.kind}[N]", span)
    return Var(decl.name, width, typ.kind)


# --- equations: what each binds and reads ------------------------------------------------

@dataclass
class Binding:
    """One equation: its `role` ('update', 'predict' or 'let'), the names it reads, its deps."""

    index: int
    eq: syntax.Equation
    role: str
    reads: list = field(default_factory=list)  # syntax.Name nodes, in order
    deps: set = field(default_factory=set)  # indices of equations it reads from
    bad: bool = False  # an error was reported for it


def bind(spec: syntax.Spec, scope: Scope, diags: Diagnostics):
    """Return (bindings in dependency order, poisoned indices, binder name -> index)."""
    bindings, binder = [], {}
    for i, eq in enumerate(spec.equations):
        role, ok = _role(eq, scope, diags)
        b = Binding(i, eq, role, bad=not ok)
        bindings.append(b)
        if role is None:
            pass
        elif eq.target in binder:
            first = bindings[binder[eq.target]].eq
            diags.error("bound-twice", f"{quote(eq.target)} is bound twice (first {_where(first)})", eq.span)
            b.bad = True
        else:
            binder[eq.target] = i
        b.bad |= not _walk_equation(b, scope, diags)
    for name, (decl, _, _) in scope.states.items():
        if name + "'" not in binder:
            diags.error("state-without-update", f"state '{name}' has no update; add {name}' = …", decl.span)
    for name, (decl, _) in scope.outputs.items():
        if name not in binder:
            diags.error("output-not-predicted", f"output '{name}' is never predicted; add {name} = ▷ …",
                        decl.span)
    for b in bindings:
        b.bad |= not _resolve_reads(b, scope, binder, diags)
    order, poisoned = dependency_order(bindings, diags)
    return order, poisoned, binder


def _role(eq: syntax.Equation, scope: Scope, diags: Diagnostics):
    """(role, ok): 'update', 'predict' or 'let' (None: binds nothing); ok False once reported."""
    t = eq.target
    if t.endswith("'"):
        base = t[:-1]
        if base in scope.states or getattr(scope.broken.get(base), "role", None) == "state":
            return "update", base in scope.states
        diags.error("not-a-state", f"{quote(t)} updates '{base}', which is not a declared state", eq.span)
        return None, False
    if t in scope.outputs or getattr(scope.broken.get(t), "role", None) == "output":
        if not isinstance(eq.expr, syntax.Predict):
            diags.error("output-not-predicted", f"output '{t}' must be predicted: write {t} = ▷ …",
                        getattr(eq.expr, "span", None) or eq.span)
            return "predict", False
        return "predict", t in scope.outputs
    first = scope.decl(t) or scope.sizes.lets.get(t)
    if first is not None:
        what = {"input": "an input", "state": "a state (write " + t + "' = … to update it)"}
        kind = what.get(getattr(first, "role", None), "a size")
        diags.error("bound-twice", f"'{t}' is already declared as {kind} ({_where(first)})", eq.span)
        return None, False
    if isinstance(eq.expr, syntax.Predict):
        diags.error("predict-non-output", f"'{t}' is not a declared output; ▷ may only bind an output",
                    eq.expr.span or eq.span)
        return "let", False
    return "let", True


def _walk_equation(b: Binding, scope: Scope, diags: Diagnostics) -> bool:
    """Collect the names read; report syntactic errors (functions, args, operands, nested ▷)."""
    errors_before = diags.error_count
    expr = b.eq.expr.expr if isinstance(b.eq.expr, syntax.Predict) else b.eq.expr
    _walk(expr, b.reads, scope, diags)
    return diags.error_count == errors_before


def _walk(e, reads: list, scope: Scope, diags: Diagnostics) -> None:
    if isinstance(e, syntax.Name):
        reads.append(e)
    elif isinstance(e, syntax.Plus):
        seen = set()
        for op in flatten(e):
            if constant_value(op) is not None:
                diags.error("lone-constant", CONSTANT_OPERAND, op.span or e.span)
                continue
            if isinstance(op, syntax.Name):
                if op.id in seen:
                    diags.error("duplicate-operand", f"{quote(op.id)} appears twice in one ⊕; each operand "
                                "gets its own weight matrix, so list it once", op.span or e.span)
                seen.add(op.id)
            _walk(op, reads, scope, diags)
    elif isinstance(e, syntax.Call):
        _check_function(e.fn, e.args, e.span, scope, diags)
        _walk(e.expr, reads, scope, diags)
    elif isinstance(e, syntax.MLP):
        if e.layers is not None and len(e.layers) == 0:
            diags.error("bad-argument", "MLP[] needs at least one layer", e.span)
        for layer in e.layers or ():
            _check_function(layer.fn, layer.args, layer.span or e.span, scope, diags)
            if layer.width is not None:
                try:
                    scope.sizes.resolve(layer.width, layer.span or e.span, diags, "a layer width")
                except Poison:
                    pass
        _walk(e.expr, reads, scope, diags)
    elif constant_value(e) is not None:  # in the place of a value: an equation, f(1), MLP(1), ▷ 1
        diags.error("lone-constant", LONE_CONSTANT, e.span)
    elif isinstance(e, syntax.BinOp):
        if e.op not in syntax.ARITH_OPS:
            diags.error("bad-type", f"unknown elementwise operator {e.op!r} (use *, + or -)", e.span)
        for side in (e.left, e.right):
            if constant_value(side) is None:  # a number beside a value takes its width
                _walk(side, reads, scope, diags)
            else:
                for message, span in constant_problems(side):
                    diags.error("constant-range", message, span or e.span)
    elif isinstance(e, syntax.Neg):
        _walk(e.expr, reads, scope, diags)
    elif isinstance(e, syntax.Predict):
        diags.error("predict-non-output", "▷ cannot be nested inside an expression; it binds an "
                    "output directly: y = ▷ …", e.span)
        _walk(e.expr, reads, scope, diags)
    else:
        diags.error("bad-type", f"not an expression: {e!r}", getattr(e, "span", None))


def _check_function(fn: str, args: tuple, span, scope: Scope, diags: Diagnostics) -> None:
    if fn not in FUNCTIONS:
        diags.error("unknown-function", unknown_function_message(fn), span)
        return
    try:
        function_attrs(fn, args, lambda name: scope.sizes.resolve(name, span, diags, "an argument"))
    except ArgumentError as err:
        diags.error("bad-argument", str(err), span)
    except Poison:
        pass


def flatten(e) -> list:
    """The operands of a ⊕, nested ⊕ flattened into one list (left to right)."""
    if isinstance(e, syntax.Plus):
        return [leaf for op in e.operands for leaf in flatten(op)]
    return [e]


def _resolve_reads(b: Binding, scope: Scope, binder: dict, diags: Diagnostics) -> bool:
    ok = True
    for name in b.reads:
        n = name.id
        if n in scope.inputs or n in scope.states:
            continue
        if n in binder and n not in scope.outputs:
            b.deps.add(binder[n])
            continue
        ok = False
        if n in scope.broken or (n.endswith("'") and (n[:-1] in scope.states or n[:-1] in scope.broken)):
            continue  # reported once, at the declaration (bad type, or a state without update)
        if n in scope.outputs:
            diags.error("read-output", f"output '{n}' cannot be read; ▷ gives a distribution, not a value "
                        "(read the state or layer it is predicted from)", name.span)
        elif n in scope.sizes.lets:
            diags.error("unbound-name", f"{quote(n)} is a size, not a value", name.span)
        else:
            diags.error("unbound-name", f"unbound name {quote(n)}{_suggestion(n, scope, binder, diags)}",
                        name.span)
    return ok


def _suggestion(n: str, scope: Scope, binder: dict, diags: Diagnostics) -> str:
    """"; did you mean 'x'?" for a close known name; skipped once more errors than are
    printed have been found (each search is linear in the names, so it must not run per error)."""
    if diags.many:
        return ""
    known = list(scope.inputs) + list(scope.states) + [k for k in binder if k not in scope.outputs]
    close = difflib.get_close_matches(n, known, n=1)
    return f"; did you mean {quote(close[0])}?" if close else ""
