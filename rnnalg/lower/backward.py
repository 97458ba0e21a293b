"""The backward half of the emitted module: BPTT in three phases, mirroring the forward.

* post: every post eqn's VJP over all steps at once; grads that flow into scan values
  are kept stacked (`gpost_*`) for the reverse scan;
* scan: for t = T-1 … 0, only the state-dependent VJPs; each scan affine records
  d loss / d a_t in a (T, B, W) buffer `G_*`, and a padded step hands its gradient
  straight to h_{t-1};
* then every weight gradient of a scan affine is one `_mmT(stacked input, G)` product (in time
  blocks, `_mmT_acc`: added in place to its sum over the blocks, which grads are views of),
  and the pre eqns' VJPs run over all steps at once.

Affines that read one scan value and no other (the four gates of an LSTM all read h) keep
their G rows side by side in one buffer: d loss / d h_{t-1} is then one product per step
with the side-by-side weights, and each of their weight gradients one product in all.
"""
from __future__ import annotations

from . import kernels
from .rules import deriv_rules, param_vjp_rules, step_deriv_rules, vjp_b_rules, vjp_rules

INDENT = "    "
VJP_TABLES = (vjp_rules, vjp_b_rules)  # d loss / d (first, second) argument of a non-affine op


class Lines(list):
    """Source lines plus the names whose (stacked) gradient has been bound."""

    def __init__(self):
        super().__init__()
        self.bound = set()
        self.touched = set()  # every name `contribute` wrote
        self.owned = set()  # grads first bound to a fresh product `_mm(…)`, which nothing else refers to
        self.running = []  # weight-gradient sums over the time blocks (`_mmT_acc`), None before them

    def add(self, text, depth=1):
        """One statement, or several (a rule's text may hold one per line), at `depth`."""
        self.extend(INDENT * depth + line for line in text.split("\n"))

    def contribute(self, grad, expr, depth=1, in_place=False):
        """grad = grad + expr (`grad += expr` for a buffer row), or grad = expr the first time."""
        if grad not in self.bound:
            self.add(f"{grad} = {expr}", depth)
            if _is_product(expr):
                self.owned.add(grad)
        else:
            if " if " in expr:  # a conditional rule (dropout, zoneout) binds looser than +: parenthesise
                expr = f"({expr})"
            in_place = in_place or grad in self.owned  # its own array: no second one
            self.add(f"{grad} += {expr}" if in_place else f"{grad} = {grad} + {expr}", depth)
        self.bound.add(grad)
        self.touched.add(grad)


def _is_product(expr: str) -> bool:
    """Whether expr is one call `_mm(…)`: a new array that only the name bound to it refers to."""
    if not expr.startswith("_mm("):
        return False
    depth = 0
    for i, c in enumerate(expr[3:], 3):
        depth += (c == "(") - (c == ")")
        if depth == 0:
            return i == len(expr) - 1
    return False


class BackwardEmitter:
    """Methods of `Emitter` that write `loss_and_grad`'s backward half."""

    def finish_backward(self, out: Lines, pre_eqns):
        """The VJPs of `pre_eqns` over all steps (a static one's gradient summed over them), zero
        gradients for the parameters the loss does not reach, and the tied weights'."""
        for e in reversed(pre_eqns):
            if e.out.name in self.p.static and self.g(e.out.name) in out.bound:  # one value for all steps
                out.add(f"{self.g(e.out.name)} = _per_sequence({self.g(e.out.name)})")
            self._stacked_vjp(e, self.g(e.out.name), out)
        for par in self.program.params:  # parameters the loss does not reach
            if f"grads[{par.name!r}]" not in out.bound:
                out.add(f"grads[{par.name!r}] = np.zeros_like({self.w(par.name)})")
        for tied, source in self.program.ties:  # a tied weight's gradient goes to its embedding
            out.add(f"grads[{source!r}] = grads[{source!r}] + grads.pop({tied!r}).T")

    def _grad(self, out: Lines, key, expr):
        """grads[key] = expr; in a time block, added to the sum over the blocks (`_acc`)."""
        out.add(f"_acc(grads, {key!r}, {expr})" if self.blocked else f"grads[{key!r}] = {expr}")
        out.bound.add(f"grads[{key!r}]")

    def _product_grads(self, out: Lines, total, a, grad, keys):
        """total = aᵀ·grad summed over all steps; grads[key] = expr for each (key, expr) of `keys`
        (views of total).  In a time block total is a running sum (`_mmT_acc`, made before the
        blocks) that each block's product adds to in place, and the grads its views from the first
        block on (`_first`) — unless one of them has a contribution already (then `_acc` per block)."""
        product = f"_mmT({a}, {grad})"
        if not self.blocked or any(f"grads[{key!r}]" in out.bound for key, _ in keys):
            out.add(f"{total} = {product}")
            for key, expr in keys:
                self._grad(out, key, expr)
            return
        out.add(f"{total} = _mmT_acc({total}, {a}, {grad})")
        out.running.append(total)
        for key, expr in keys:
            out.add(f"_first(grads, {key!r}, {expr})")
            out.bound.add(f"grads[{key!r}]")

    def _into(self, out: Lines, name, target, expr):
        """A stacked contribution to var `name`'s gradient; a static value (one per sequence,
        (1, B, W)) receives its sum over the steps, so that every term has one shape."""
        out.contribute(target, f"_per_sequence({expr})" if name in self.p.static else expr)

    def _grad_target(self, name, eqn_in_scan):
        """Where a contribution to var `name` goes, or None if the loss cannot need it."""
        p = self.p
        if name not in p.needs_grad:
            return None
        if p.is_stateful(name):
            return None if eqn_in_scan else self.gpost(name)
        return self.g(name)

    def _stacked_vjp(self, e, grad, out: Lines):
        """One eqn's VJP over all steps; `grad` its stacked output gradient."""
        if grad not in out.bound:
            return
        in_scan = self.p.category[e.out.name] == "scan"
        if e.op == "affine":
            for a, w in zip(e.args, e.params):
                self._weight_grad(a, w, grad, out)
                target = self._grad_target(a.name, in_scan)
                if target:
                    self._into(out, a.name, target, f"_mm({grad}, {self.w(w)}.T)")
            self._grad(out, e.params[-1], f"_bias_grad({grad})")
        else:
            site = self.args_site(e, self.stacked, self.stacked(e.out.name), grad)
            for a, rules in zip(e.args, VJP_TABLES):
                target = self._grad_target(a.name, in_scan)
                if target:
                    self._into(out, a.name, target, rules[e.op](site))
            self._param_grads(e, grad, out)

    def _param_grads(self, e, grad, out: Lines):
        """The grads of the parameters a non-affine op owns (layernorm), over all steps at once."""
        if not e.params:
            return
        site = self.args_site(e, self.stacked, self.stacked(e.out.name), grad)
        for name, expr in zip(e.params, param_vjp_rules[e.op](site)):
            self._grad(out, name, expr)

    def _backward_scan_setup(self, out: Lines):
        """What every block's reverse scan reads: stacked weights, the carry into step T - 1."""
        p, prog = self.p, self.program
        for e in p.eqns["scan"]:  # W_aᵀ of the state operands side by side: d/da of all at once
            if e.op == "affine" and len(p.state_args(e)) > 1:
                ws = ", ".join(self.w(w) for _, w in p.state_args(e))
                out.add(f"{self.joint_w(e.out.name)} = _step_weight_T(np.concatenate([{ws}], axis=0), B)")
        for name, w in self._step_weights().items():  # Wᵀ of the step products G[t] @ Wᵀ (prelude)
            out.add(f"{name} = _step_weight_T({w}, B)")
        for s in prog.states:
            out.add(f"{self.zero(s)} = np.zeros((B, {s.prev.width}), dtype=dt)")
            out.add(f"{self.carry(s.prev.name)} = {self.zero(s)}")

    def _step_weights(self) -> dict:
        """name of Wᵀ -> W for each weight the reverse step multiplies by its transpose alone: a fused
        group's side-by-side weights, a scan affine's one state operand's weight."""
        names = {}
        for e in self.p.eqns["scan"]:
            if e.op != "affine":
                continue
            group = self._fused_group(e)
            if group is not None:
                names[self.step_wT("joint", group[0])] = self.joint_w(group[0])
            elif len(self.p.state_args(e)) == 1:
                w = self.p.state_args(e)[0][1]
                names[self.step_wT("", w)] = self.w(w)
        return names

    def step_wT(self, kind: str, name: str) -> str:
        """The name of Wᵀ (`_step_weight_T`) of a parameter (kind "") or of a group's joint weights ("joint")."""
        return self.p.name(f"WT{kind}_", name)

    def _backward_scan(self, out: Lines):
        """The reverse scan over steps T-1..0 (in a time block: t1-1..t0, from the carry the
        later block left), then the gradients of its affines' weights and inputs."""
        p, prog = self.p, self.program
        if not self.blocked:
            self._backward_scan_setup(out)
        out.add("# -- backward: reverse scan over the state-dependent part (BPTT)")
        fused = p.fused_backward()
        in_group = {e.out.name for eqns in fused.values() for e in eqns}
        n = self.steps
        for name, eqns in fused.items():
            out.add(f"{self.Gjoint(name)} = np.empty(({n}, B, {sum(e.out.width for e in eqns)}), dtype=dt)")
            start = 0
            for e in eqns:  # views: each affine writes its own columns
                out.add(f"{self.G(e.out.name)} = {self.Gjoint(name)}[:, :, {start}:{start + e.out.width}]")
                start += e.out.width
        for e in p.eqns["scan"]:
            if e.op == "affine" and e.out.name not in in_group:
                out.add(f"{self.G(e.out.name)} = np.empty(({n}, B, {e.out.width}), dtype=dt)")
            elif e.op != "affine" and e.params:  # zeros: a step the loss does not reach writes no row
                out.add(f"{self.G(e.out.name)} = np.zeros(({n}, B, {e.out.width}), dtype=dt)")
        for e in p.eqns["scan"]:
            if e.op not in deriv_rules:
                continue
            h = self.horizontal_of.get(e.out.name)
            if h is None:  # f'(a) for all steps at once
                site = self.site(e, "", self.stacked(e.out.name))
                out.add(f"{self.deriv(e.out.name)} = {deriv_rules[e.op](site)}")
            elif e is h.eqns[0]:  # one pass over the group's side-by-side buffer, then views
                first = e.out.name
                out.add(f"{self.deriv_joint(first)} = {deriv_rules[e.op](self.site(e, '', self.rows(self.Sjoint(first))))}")
                start = 0
                for r in h.eqns:
                    out.add(f"{self.deriv(r.out.name)} = {self.deriv_joint(first)}[:, :, {start}:{start + r.out.width}]")
                    start += r.out.width
        from_scan = set()  # pre values whose per-step grads the reverse scan writes
        bodies = {masked: self._reverse_step(out, masked, from_scan) for masked in (True, False)}
        for a in sorted(from_scan):
            out.add(f"{self.gscan(a)} = np.empty(({n}, B, {p.vars[a].width}), dtype=dt)")
        steps = "range(t1 - 1, t0 - 1, -1)" if self.blocked else "range(T - 1, -1, -1)"
        out.append(kernels.begin("_scan_backward"))
        out.add("if masked:  # two copies of the step: the unpadded one does no mask arithmetic")
        out.add(f"for t in {steps}:", 2)
        out.extend("    " + line for line in bodies[True])
        out.add("else:")
        out.add(f"for t in {steps}:", 2)
        out.extend("    " + line for line in bodies[False])
        out.append(kernels.end())
        for a in sorted(from_scan):
            self._into(out, a, self.g(a), self.gscan(a))
        for name, eqns in fused.items():
            self._fused_weight_grads(name, eqns, out)
        for e in p.eqns["scan"]:
            if e.op == "affine":
                out.bound.add(self.G(e.out.name))
                if e.out.name not in in_group:
                    self._stacked_vjp(e, self.G(e.out.name), out)
            elif e.params:  # its argument's grads came per step; its own parameters' now
                self._param_grads(e, self.G(e.out.name), out)

    def _fused_weight_grads(self, value, eqns, out: Lines):
        """Weight and bias grads of a fused group: one `_mmT` per argument all its affines read."""
        Gj, cols, start = self.Gjoint(value), [], 0
        for e in eqns:
            cols.append(f"{start}:{start + e.out.width}")
            start += e.out.width
        shared = [a for a in eqns[0].args if a.kind != "token"
                  and all(a in e.args for e in eqns[1:])]  # value itself, and inputs all of them read
        for a in shared:
            dW = self.dWjoint(value, a.name)
            self._product_grads(out, dW, self.stacked(a.name), Gj,
                                [(e.params[e.args.index(a)], f"{dW}[:, {c}]") for e, c in zip(eqns, cols)])
        db = self.dbjoint(value)
        out.add(f"{db} = _bias_grad({Gj})")
        for e, c in zip(eqns, cols):
            self._grad(out, e.params[-1], f"{db}[{c}]")
            for a, w in zip(e.args, e.params):  # the rest, and d loss / d (pre values read), per affine
                grad = self.G(e.out.name)
                if a not in shared:
                    self._weight_grad(a, w, grad, out)
                target = self._grad_target(a.name, True)
                if target:
                    self._into(out, a.name, target, f"_mm({grad}, {self.w(w)}.T)")

    def _weight_grad(self, a, w, grad, out: Lines):
        """grads[w] of one affine operand over all steps: an embedding scatter-add for a token,
        else one (in × T·B)·(T·B × out) product."""
        if a.kind == "token" and self.blocked:  # scattered into the table of the blocks before
            out.add(f"_embed_acc(grads, {w!r}, {self.w(w)}.shape, {self.stacked(a.name)}, {grad})")
            out.bound.add(f"grads[{w!r}]")
        elif a.kind == "token":
            self._grad(out, w, f"_embed_grad({self.w(w)}.shape, {self.stacked(a.name)}, {grad})")
        elif self.blocked:
            self._product_grads(out, self.dWsum(w), self.stacked(a.name), grad, [(w, self.dWsum(w))])
        else:
            self._grad(out, w, f"_mmT({self.stacked(a.name)}, {grad})")

    def _step_deriv(self, e):
        """f'(a) of the elementwise scan op `e` at step t, or None where its VJP is not g ⊙ f'(a):
        made from step t's stored output (step_deriv_rules), or a row of the block's f'(a) array."""
        if e.op in step_deriv_rules:
            return step_deriv_rules[e.op](self.site(e, "", self.at_step(e.out.name), step=True))
        if e.op in deriv_rules:
            return f"{self.deriv(e.out.name)}{self.lt}"
        return None

    def _fused_group(self, e):
        """(value, eqns) of the fused group affine `e` belongs to, or None."""
        for value, eqns in self.p.fused_backward().items():
            if any(x is e for x in eqns):
                return value, eqns
        return None

    def _reverse_step(self, out: Lines, masked: bool, from_scan: set) -> Lines:
        """The body of one reverse-scan step (depth 2), for padded batches or not."""
        p, prog = self.p, self.program
        step = Lines()
        readers = {}  # scan var -> how many scan eqns read it
        for e in p.eqns["scan"]:
            for a in e.args:
                readers[a.name] = readers.get(a.name, 0) + 1
        for name in dict.fromkeys([s.next.name for s in prog.states] + [e.out.name for e in p.eqns["scan"]]):
            if name in p.next_of:
                step.contribute(self.g(name), self.carry(p.next_of[name].prev.name), 2)
            if self.gpost(name) in out.bound:
                step.contribute(self.g(name), f"{self.gpost(name)}{self.lt}", 2)
        for s in prog.states:
            if self.gpost(s.prev.name) in out.bound:
                step.contribute(self.g(s.prev.name), f"{self.gpost(s.prev.name)}{self.lt}", 2)
        written = set()  # G rows already filled in place
        for e in reversed(p.eqns["scan"]):
            grad = self.g(e.out.name)
            if grad not in step.bound:
                continue
            if masked and e.out.name in p.next_of:  # a padded step passes its gradient straight to h_{t-1}
                step.contribute(self.g(p.next_of[e.out.name].prev.name), f"(1 - mk[t]) * {grad}", 2)
                step.add(f"{grad} = mk[t] * {grad}", 2)
            if e.op == "affine":
                if e.out.name not in written:
                    step.add(f"{self.G(e.out.name)}{self.lt} = {grad}", 2)
                args = p.state_args(e)
                group = self._fused_group(e)
                if group is not None:  # the group's first affine in forward order comes last here
                    value, eqns = group
                    if e is eqns[0]:
                        step.contribute(self.g(value), f"{self.Gjoint(value)}{self.lt} @ {self.step_wT('joint', value)}", 2)
                elif len(args) > 1:  # one product against the stacked weights, then split
                    step.add(f"{self.joint(e.out.name)} = {grad} @ {self.joint_w(e.out.name)}", 2)
                    start = 0
                    for a, w in args:
                        cols = f"{self.joint(e.out.name)}[:, {start}:{start + a.width}]"
                        step.contribute(self.g(a.name), cols, 2)
                        start += a.width
                else:
                    for a, w in args:
                        step.contribute(self.g(a.name), f"{grad} @ {self.step_wT('', w)}", 2)
                continue
            if e.params:  # an op owning parameters keeps d loss / d out of every step
                step.add(f"{self.G(e.out.name)}{self.lt} = {grad}", 2)
            site = self.args_site(e, self.at_step, self.at_step(e.out.name), grad, step=True)
            deriv = self._step_deriv(e)
            for arg, rules in zip(e.args, VJP_TABLES):
                a = arg.name
                contribution = f"{grad} * {deriv}" if deriv else rules[e.op](site)
                if self.p.is_stateful(a):
                    producer = self.p.producer_op(a)
                    sole = (producer == "affine" and readers.get(a) == 1 and self.g(a) not in step.bound
                            and self.gpost(a) not in out.bound and deriv)
                    if sole:  # d loss / d a_t goes straight into its row of G
                        step.add(f"np.multiply({grad}, {deriv}, {self.G(a)}{self.lt})", 2)
                        step.add(f"{self.g(a)} = {self.G(a)}{self.lt}", 2)
                        step.bound.add(self.g(a))
                        written.add(a)
                    else:
                        step.contribute(self.g(a), contribution, 2)
                elif a in p.needs_grad:  # a pre value read inside the scan: its grads per step
                    step.contribute(f"{self.gscan(a)}{self.lt}", contribution, 2, in_place=True)
                    from_scan.add(a)
        for s in prog.states:
            g_prev = self.g(s.prev.name)
            step.add(f"{self.carry(s.prev.name)} = {g_prev if g_prev in step.bound else self.zero(s)}", 2)
        return step
