"""Width inference and IR construction, one equation at a time (in dependency order).

Naming (the lowering relies on it):
* a bound name keeps its name (`z`, `h'`); the affine feeding a function at site s is `s.a`;
  `z : N = a ⊕ b` with no function binds the affine to `z` itself;
* MLP layer i (1-based) of target t is `t.i.a` (affine) then `t.i`; the last layer is t;
* the predict affine of output y is `y.a` (deep-output layers `y.1.a`, `y.1`, …);
* other unnamed intermediates are `<target>.<n>`, n the first free counter;
* the affine at site s owns `s.W_<operand>` per operand, then `s.b`.

Widths flow down from the context (the bound name's `: N`, the state's width, an MLP
layer's width) and up from the names read; a group function `maxout[k]`/`lp[p, k]` needs
k × n units at its argument to give n.  A layer width is the width after its function.
"""
from __future__ import annotations

from .. import syntax
from ..ir import Eqn, Head, Param, Var
from .diagnostics import Diagnostics, Poison
from .functions import function_attrs, group_factor
from .scope import Scope, flatten

DEFAULT_LAYERS = (syntax.Layer("tanh"), syntax.Layer("tanh"))  # plain MLP(e): MLP[tanh W, tanh]


class Builder:
    """Accumulates eqns and params; `env` maps every name bound so far to its Var."""

    def __init__(self, scope: Scope, diags: Diagnostics):
        self.scope, self.diags = scope, diags
        self.env = {name: var for name, (_, var) in scope.inputs.items()}
        self.env.update({name: prev for name, (_, prev, _) in scope.states.items()})
        self.used = set(self.env) | {n + "'" for n in scope.states} | set(scope.outputs)
        self.eqns: list[Eqn] = []
        self.params: dict[str, Param] = {}

    # --- one equation per role -------------------------------------------------------------

    def update(self, eq: syntax.Equation) -> Var:
        """`h' = e`: e gets the state's width."""
        _, prev, nxt = self.scope.states[eq.target[:-1]]
        why = f"state {prev.name} : {prev.width}"
        if eq.width is not None:
            w = self._size(eq.width, eq.span, f"the width of {eq.target}")
            if w != nxt.width:
                raise self.diags.fail("width-mismatch", f"{eq.target} : {w} conflicts with {why}", eq.span)
        var = self.bind(eq.expr, nxt.name, nxt.width, why)
        self.env[var.name] = var
        return var

    def let(self, eq: syntax.Equation) -> Var:
        """`z [: N] = e`: an intermediate value."""
        want = None if eq.width is None else self._size(eq.width, eq.span, f"the width of {eq.target}")
        self.used.add(eq.target)
        var = self.bind(eq.expr, eq.target, want, f"{eq.target} : {want}")
        self.env[var.name] = var
        return var

    def predict(self, eq: syntax.Equation) -> Head:
        """`y = ▷ e`: an affine of e's operands to y's width (`y.a`, the logits)."""
        _, y = self.scope.outputs[eq.target]
        if eq.width is not None:
            w = self._size(eq.width, eq.span, f"the width of {eq.target}")
            if w != y.width:
                raise self.diags.fail("width-mismatch", f"{y.name} : {w} conflicts with output "
                                      f"{y.name} : {y.kind}[{y.width}]", eq.span)
        e = eq.expr.expr
        if isinstance(e, syntax.MLP):
            layers = e.layers if e.layers is not None else DEFAULT_LAYERS
            operands = [self.mlp(e, y.name, f"{y.name}.{len(layers)}", None, "")]
        else:
            operands = [self.operand(op) for op in flatten(e)]
        logits = self.affine(operands, f"{y.name}.a", y.name, y.width, getattr(e, "span", None))
        return Head(y, logits, eq.span)

    # --- expressions ---------------------------------------------------------------------

    def bind(self, e, out: str, want, why: str) -> Var:
        """Emit eqns computing `e` into a var named `out` (width `want`, None = infer)."""
        if isinstance(e, syntax.Name):
            var = self.value(e, want, why)
            return self._emit(Var(out, var.width), "linear", (var,), span=e.span)
        if isinstance(e, syntax.Plus):
            if want is None:
                raise self._not_inferable(e, out)
            return self.affine([self.operand(op) for op in flatten(e)], out, out, want, e.span)
        if isinstance(e, syntax.Call):
            return self.call(e, out, want, why)
        if isinstance(e, syntax.MLP):
            return self.mlp(e, out, out, want, why)
        raise self.diags.fail("predict-non-output", "▷ cannot be nested inside an expression", e.span)

    def value(self, e, want, why: str, token_ok: bool = False) -> Var:
        """The var holding `e`: a name's own var, or a fresh intermediate."""
        if not isinstance(e, syntax.Name):
            return self.bind(e, self._fresh(), want, why)
        var = self.env.get(e.id)
        if var is None:  # bound by a poisoned equation: its error is already reported
            raise Poison("dependency")
        if var.kind == "token" and not token_ok:
            raise self.diags.fail("token-as-dense", f"'{e.id}' is a token[{var.width}]; a token can only be "
                                  f"an operand of ⊕ (an embedding lookup), e.g. tanh({e.id} ⊕ h)", e.span)
        if want is not None and var.width != want:
            raise self.diags.fail("width-mismatch", f"width mismatch: '{e.id}' has width {var.width}, but "
                                  f"{want} is needed ({why})", e.span)
        return var

    def operand(self, e) -> Var:
        """An operand of an affine: any value, including a token (an embedding lookup)."""
        return self.value(e, None, "", token_ok=True)

    def call(self, e: syntax.Call, out: str, want, why: str) -> Var:
        attrs = self._attrs(e.fn, e.args, e.span)
        k = group_factor(attrs)
        arg_want = None if want is None else k * want
        arg_why = f"{_signature(e.fn, attrs)} giving {want}" if k > 1 else why
        if isinstance(e.expr, syntax.Plus):
            if arg_want is None:
                raise self._not_inferable(e.expr, out)
            arg = self.affine([self.operand(op) for op in flatten(e.expr)], f"{out}.a", out, arg_want,
                              e.expr.span)
        else:
            arg = self.value(e.expr, arg_want, arg_why)
        if arg.width % k:
            raise self.diags.fail("group-size", f"{_signature(e.fn, attrs)} needs a width divisible by {k}, "
                                  f"but its argument has width {arg.width}", e.span)
        return self._emit(Var(out, arg.width // k), e.fn, (arg,), attrs=attrs, span=e.span)

    def mlp(self, e: syntax.MLP, prefix: str, out: str, want, why: str) -> Var:
        """Layers `prefix.i.a = affine(…)`, `prefix.i = f(prefix.i.a)`; the last is named `out`.

        A layer without a width takes `want`, or, where nothing fixes it (under ▷), the
        width of the MLP's input: the sum of its dense operand widths.
        """
        layers = e.layers if e.layers is not None else DEFAULT_LAYERS
        names = [f"{prefix}.{i}" for i in range(1, len(layers))] + [out]
        sites = [f"{prefix}.{i}" for i in range(1, len(layers) + 1)]  # reserved for the layers
        self.used.update(names + sites)
        inputs = [self.operand(op) for op in flatten(e.expr)]
        dense = sum(v.width for v in inputs if v.kind != "token")
        context = want if want is not None else (dense or None)
        last = layers[-1]
        if last.width is not None and want is not None:
            w = self._size(last.width, last.span or e.span, "a layer width")
            if w != want:
                raise self.diags.fail("width-mismatch", f"width mismatch: the MLP's last layer has width {w}, "
                                      f"but {want} is needed ({why})", last.span or e.span)
        args = inputs
        for i, (layer, name) in enumerate(zip(layers, names), start=1):
            span = layer.span or e.span
            if layer.width is not None:
                width = self._size(layer.width, span, "a layer width")
            elif context is not None:
                width = context
            else:
                raise self.diags.fail("width-not-inferable", f"cannot infer the width of MLP layer {i}: "
                                      f"give it, as MLP[{layer.fn} N, …]", span)
            attrs = self._attrs(layer.fn, layer.args, span)
            k = group_factor(attrs)
            a = self.affine(args, f"{prefix}.{i}.a", f"{prefix}.{i}", k * width, span)
            args = [self._emit(Var(name, width), layer.fn, (a,), attrs=attrs, span=span)]
        return args[0]

    def affine(self, args: list, out: str, site: str, width: int, span) -> Var:
        """`out = Σ_i args[i] @ site.W_<arg i> + site.b`; a token arg reads embedding rows."""
        params = []
        for a in args:
            token = a.kind == "token"
            p = Param(f"{site}.W_{a.name}", (a.width, width), "embedding" if token else "weight")
            params.append(p)
        params.append(Param(f"{site}.b", (width,), "bias"))
        for p in params:
            self.params[p.name] = p
        return self._emit(Var(out, width), "affine", tuple(args), tuple(p.name for p in params), span=span)

    # --- helpers -------------------------------------------------------------------------

    def _emit(self, out: Var, op: str, args: tuple, params=(), attrs=(), span=None) -> Var:
        self.used.add(out.name)
        self.eqns.append(Eqn(out, op, args, tuple(params), tuple(attrs), span))
        return out

    def _fresh(self) -> str:
        n = 1
        while f"{self.target}.{n}" in self.used:
            n += 1
        name = f"{self.target}.{n}"
        self.used.add(name)
        return name

    def _size(self, size, span, what: str) -> int:
        return self.scope.sizes.resolve(size, span, self.diags, what)

    def _attrs(self, fn: str, args: tuple, span) -> tuple:
        # validated by scope._walk already: this cannot fail here
        return function_attrs(fn, args, lambda n: self._size(n, span, "an argument"))

    def _not_inferable(self, e, out: str) -> Poison:
        if self.target in self.scope.outputs:
            hint = f"for a deep output write {self.target} = ▷ MLP[tanh N](…)"
        else:
            hint = f"give it, e.g. {self.target} : N = …"
        return self.diags.fail("width-not-inferable", f"cannot infer the width of this ⊕ (computing "
                               f"{out}): {hint}", e.span)

    target = "?"  # the equation being built; set by the checker before each equation


def _signature(fn: str, attrs: tuple) -> str:
    values = ", ".join(_number(v) for _, v in attrs)
    return f"{fn}[{values}]" if values else fn


def _number(v) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
