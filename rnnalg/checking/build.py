"""Width inference and IR construction, one equation at a time (in dependency order).

Naming (the lowering relies on it):
* a bound name keeps its name (`z`, `h'`); the affine feeding a function at site s is `s.a`;
  `z : N = a ⊕ b` with no function binds the affine to `z` itself;
* MLP layer i (1-based) of target t is `t.i.a` (affine) then `t.i`; the last layer is t;
* the predict affine of output y is `y.a` (deep-output layers `y.1.a`, `y.1`, …);
* the first ⊕ that is an operand of `*`, `+`, `-` in the equation of t is `t.a` at site t
  when t has no affine of its own (`f = sigmoid((x ⊕ h) + 1)` owns f.W_x, f.W_h, f.b);
* other unnamed intermediates are `<target>.<n>`, n the first free counter;
* the affine at site s owns `s.W_<operand>` per operand, then `s.b`;
* `layernorm` at site s owns `s.ln.g` (gain) and `s.ln.b` (bias), one per unit.

Widths flow down from the context (the bound name's `: N`, the state's width, an MLP
layer's width) and up from the names read; a group function `maxout[k]`/`lp[p, k]` needs
k × n units at its argument to give n.  A layer width is the width after its function.
An unannotated name whose width only its uses fix (`i` in `c' = f * c + i * g`) gets it
from `checking/widths.py`.

Elementwise operators: `a * b`, `a + b`, `a - b` of two values are the ops mul, add, sub
(equal widths); with a number c on one side they are `scale[c]` (c·a) and `shift[c]`
(a + c), `c - a` is `shift[c](scale[-1](a))` and `-a` is `scale[-1](a)`.
"""
from __future__ import annotations

from ..errors import quote
from ..front import syntax
from ..ir import Eqn, Head, Param, Var
from .diagnostics import Diagnostics, Poison
from .functions import PARAM_FUNCTIONS, function_attrs, group_factor
from .scope import Scope, flatten
from .widths import constant_value, is_elementwise, up

ELEMENTWISE_OPS = {"*": "mul", "+": "add", "-": "sub"}

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
        self.inferred: dict = {}  # name -> (width, Equation whose use fixed it): checking/widths.py

    # --- one equation per role -------------------------------------------------------------

    def update(self, eq: syntax.Equation) -> Var:
        """`h' = e`: e gets the state's width."""
        _, prev, nxt = self.scope.states[eq.target[:-1]]
        why = f"state {prev.name} : {prev.width}"
        if eq.width is not None:
            w = self._size(eq.width, _width_span(eq), f"the width of {eq.target}")
            if w != nxt.width:
                raise self.diags.fail("width-mismatch", f"{eq.target} : {w} conflicts with {why}",
                                      _width_span(eq))
        var = self.bind(eq.expr, nxt.name, nxt.width, why)
        self.env[var.name] = var
        return var

    def let(self, eq: syntax.Equation) -> Var:
        """`z [: N] = e`: an intermediate value."""
        want = None if eq.width is None else self._size(eq.width, _width_span(eq), f"the width of {eq.target}")
        why = f"{eq.target} : {want}"
        if want is None and eq.target in self.inferred:
            want, user = self.inferred[eq.target]
            where = f" at line {user.span.line}" if user.span is not None else ""
            why = f"{eq.target} has width {want} from its use in {user.target}{where}"
        self.used.add(eq.target)
        var = self.bind(eq.expr, eq.target, want, why)
        self.env[var.name] = var
        return var

    def predict(self, eq: syntax.Equation) -> Head:
        """`y = ▷ e`: an affine of e's operands to y's width (`y.a`, the logits)."""
        _, y = self.scope.outputs[eq.target]
        if eq.width is not None:
            w = self._size(eq.width, _width_span(eq), f"the width of {eq.target}")
            if w != y.width:
                raise self.diags.fail("width-mismatch", f"{y.name} : {w} conflicts with output "
                                      f"{y.name} : {y.kind}[{y.width}]", _width_span(eq))
        e = eq.expr.expr
        self.used.add(f"{y.name}.a")  # reserved for the logits (and site y for their weights)
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
        if is_elementwise(e):
            return self.elementwise(e, out, want, why)
        raise self.diags.fail("predict-non-output", "▷ cannot be nested inside an expression", e.span)

    def value(self, e, want, why: str, token_ok: bool = False) -> Var:
        """The var holding `e`: a name's own var, or a fresh intermediate."""
        if not isinstance(e, syntax.Name):
            return self.bind(e, self._fresh(), want, why)
        var = self.env.get(e.id)
        if var is None:  # bound by a poisoned equation: its error is already reported
            raise Poison("dependency")
        if var.kind == "token" and not token_ok:
            raise self.diags.fail("token-as-dense", f"{quote(e.id)} is a token[{var.width}]; a token can only be "
                                  f"an operand of ⊕ (an embedding lookup), e.g. tanh({e.id} ⊕ h)", e.span)
        if want is not None and var.width != want:
            raise self.diags.fail("width-mismatch", f"width mismatch: {quote(e.id)} has width {var.width}, but "
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
        if e.fn == "zoneout":
            return self._zoneout(e, out, arg, attrs)
        if arg.width % k:
            raise self.diags.fail("group-size", f"{_signature(e.fn, attrs)} needs a width divisible by {k}, "
                                  f"but its argument has width {arg.width}", e.span)
        return self._function(Var(out, arg.width // k), e.fn, arg, attrs, e.span)

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
            args = [self._function(Var(name, width), layer.fn, a, attrs, span)]
        return args[0]

    def elementwise(self, e, out: str, want, why: str) -> Var:
        """`a * b`, `a + b`, `a - b`, `-a`, and the forms with a number on one side."""
        if constant_value(e) is not None:  # scope._walk reports it; never built
            raise Poison("lone-constant")
        if isinstance(e, syntax.Neg):
            a = self.value(e.expr, want, why)
            return self._emit(Var(out, a.width), "scale", (a,), attrs=(("c", -1.0),), span=e.span)
        left, right = constant_value(e.left), constant_value(e.right)
        if left is not None or right is not None:
            return self._with_constant(e, left, right, out, want, why)
        widths = [up(side, self._width_of, self._size_or_none) for side in (e.left, e.right)]
        if None not in widths and widths[0] != widths[1]:
            raise self.diags.fail("width-mismatch", _mismatch(e, widths), e.span)
        width = want if want is not None else widths[0] or widths[1]
        side_why = why if want is not None else f"the other side of '{e.op}'"
        left = self.side(e.left, width, side_why)  # width None: the left side's own width
        width = left.width
        args = (left, self.side(e.right, width, side_why))
        return self._emit(Var(out, width), ELEMENTWISE_OPS[e.op], args, span=e.span)

    def side(self, e, want, why: str) -> Var:
        """An operand of an elementwise op; the first ⊕ among them is `t.a` at site t (target t)."""
        if isinstance(e, syntax.Plus) and want is not None and f"{self.target}.a" not in self.used:
            self.used.add(f"{self.target}.a")
            return self.affine([self.operand(op) for op in flatten(e)], f"{self.target}.a", self.target,
                               want, e.span)
        return self.value(e, want, why)

    def _with_constant(self, e, left, right, out, want, why) -> Var:
        """`c * a`, `a * c`, `c + a`, `a + c`, `a - c` (one op), `c - a` (two)."""
        c = left if left is not None else right
        a = self.side(e.right if left is not None else e.left, want, why)
        if e.op == "*":
            return self._emit(Var(out, a.width), "scale", (a,), attrs=(("c", float(c)),), span=e.span)
        if e.op == "-" and left is not None:  # c - a = (-a) + c
            a = self._emit(Var(self._fresh(), a.width), "scale", (a,), attrs=(("c", -1.0),), span=e.span)
        shift = -c if e.op == "-" and right is not None else c
        return self._emit(Var(out, a.width), "shift", (a,), attrs=(("c", float(shift)),), span=e.span)

    def _width_of(self, name: str):
        var = self.env.get(name)
        return None if var is None or var.kind == "token" else var.width

    def _size_or_none(self, size):
        if not isinstance(size, str):
            return size
        return self.scope.sizes.values.get(size)

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

    def _zoneout(self, e, out: str, arg: Var, attrs: tuple) -> Var:
        """`h' = zoneout[r](new)`: the op zoneout(new, h), h the state this equation updates."""
        state = self.scope.states.get(out[:-1]) if out.endswith("'") else None
        if state is None:
            raise self.diags.fail("bad-zoneout", f"zoneout[r] mixes a state's new value with its previous one: "
                                  f"it must be the whole update of a state, h' = zoneout[r](…), not part of "
                                  f"{self.target}", e.span)
        return self._emit(Var(out, arg.width), "zoneout", (arg, state[1]), attrs=attrs, span=e.span)

    def _function(self, out: Var, fn: str, arg: Var, attrs: tuple, span) -> Var:
        """`out = fn[attrs](arg)`, with the parameters a function like layernorm owns (site `out`)."""
        params = [Param(out.name + suffix, (out.width,), role) for suffix, role in PARAM_FUNCTIONS.get(fn, ())]
        for p in params:
            self.params[p.name] = p
        return self._emit(out, fn, (arg,), tuple(p.name for p in params), attrs=attrs, span=span)

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


def _mismatch(e: syntax.BinOp, widths: list) -> str:
    """Both sides of an elementwise operator and their widths; `x + h` suggests `x ⊕ h`."""
    sides = [f"{quote(side.id)} has width {w}" if isinstance(side, syntax.Name) else f"the {where} side has width {w}"
             for side, w, where in zip((e.left, e.right), widths, ("left", "right"))]
    message = f"width mismatch in '{e.op}': {sides[0]} and {sides[1]}; '{e.op}' needs two values of one width"
    if e.op == "+":
        both = (f"{e.left.id} ⊕ {e.right.id}" if all(isinstance(x, syntax.Name) for x in (e.left, e.right))
                else "a ⊕ b")
        message += (f" (did you mean {both}, the learned affine summary of both? '+' adds two values "
                    "elementwise)")
    return message


def _width_span(eq: syntax.Equation):
    """Where the `: N` of an equation is written (the equation when not known)."""
    return eq.width_span or eq.span


def _signature(fn: str, attrs: tuple) -> str:
    values = ", ".join(_number(v) for _, v in attrs)
    return f"{fn}[{values}]" if values else fn


def _number(v) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
