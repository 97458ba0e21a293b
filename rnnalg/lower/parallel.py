"""The states of a program whose every state is linear in itself (`linear.py`): h' = a ⊙ h + b,
run as an associative scan or step by step, on the same a_t, b_t and in the same time blocks.

    forward   a_t, b_t stacked from the pre values (a padded step: a = 1, b = 0), then
              scan:  h_1..h_T = _linear_scan(a, b, h_0): log2 T rounds over all steps at once
              steps: h_{t+1} = a_t ⊙ h_t + b_t for t = t0..t1 − 1, two calls a step (a kernel)
    backward  λ_t = d loss / d h_t = e_t + a_{t+1} λ_{t+1} (e: what the post phase sends back),
              the same recursion run backwards in time (scan: `_linear_scan_reverse`; steps: a
              kernel, in place on e); then d loss / d (unmasked h'_t) = m_t λ_t goes through the
              chain's VJPs into the pre values, over the block's rows at once

`forward` (evaluation) runs over all steps at once; loss_and_grad runs both halves in time blocks
(recompute.py, training.py): the forward block by block from h_{t0}, the backward the last block
first, each block's reverse recursion from the carry a_{t1+1} λ_{t1+1} of the later block; above
RECOMPUTE_BYTES each backward block makes its pre values (and a_t) again from its inputs.  So the
step side keeps what the scan side keeps (issue 21: ≤ 2× BPTT's minimum for long sequences) and
differs from it only in the two recursions.  The chain's own values that its VJPs read (`(1 − z) ⊙
h` under a further product) are made again on the block's rows; their contributions to h_{t-1}
are already in λ (a_t λ_t), so they are dropped.

By default the module carries both (`emit_module(program)`, scan_choice.py) and runs the scan
where the size rule `_use_scan` says it is faster; `emit_module(program, True)` forces the scan,
`False` the steps.
"""
from __future__ import annotations

import re

from . import kernels
from .backward import VJP_TABLES, Lines
from .rules import forward_rules

FORWARD_KERNEL, BACKWARD_KERNEL = "_scan_linear_forward", "_scan_linear_backward"


class ParallelEmitter:
    """Methods of `Emitter` for programs with `self.parallel` (state name -> LinearState);
    `self.by_steps`: the recursions step by step rather than as the associative scan."""

    def _linear_part(self, name, expr, s, out: Lines, depth: int, value_of):
        """`name` = a or b of linear state `s` over the rows `value_of` gives: the pre value itself
        (a view, never written to) when expr is one, else a new (rows, B, w) array."""
        if expr is not None and expr.op == "var" and expr.name not in self.p.static \
                and self.p.vars[expr.name].width == s.prev.width:
            out.add(f"{name} = {value_of(expr.name)}", depth)
            return
        rows = "t1 - t0" if self.blocked else "T"
        out.add(f"{name} = np.zeros(({rows}, B, {s.prev.width}), dtype=dt)", depth)
        if expr is not None:
            out.add(f"{name}[...] = {expr.code(value_of)}", depth)

    def _linear_a(self, s, out: Lines, depth: int, value_of=None):
        """a_t of linear state `s` on the rows (a padded step: a = 1)."""
        A, mk = self.lin_a(s.prev.name), self.rows("mk")
        self._linear_part(A, self.parallel[s.prev.name].a, s, out, depth, value_of or self.stacked)
        out.add("if masked:  # a padded step keeps its state: a = 1", depth)
        out.add(f"{A} = {mk} * {A} + (1 - {mk})", depth + 1)

    def _linear_b(self, s, out: Lines, depth: int, value_of=None):
        """b_t of linear state `s` on the rows (a padded step: b = 0)."""
        Bv = self.lin_b(s.prev.name)
        self._linear_part(Bv, self.parallel[s.prev.name].b, s, out, depth, value_of or self.stacked)
        out.add("if masked:  # b = 0", depth)
        out.add(f"{Bv} = {Bv} * {self.rows('mk')}", depth + 1)

    def linear_forward(self, out: Lines, first: str):
        """h over the rows [t0, t1) (blocked) or all steps, from the row `first` of each buffer,
        once a_t and b_t of every state are made."""
        if not self.by_steps:
            for s in self.program.states:
                name, buf = s.prev.name, self.buf(s.prev.name)
                rows = f"{buf}[t0 + 1:t1 + 1]" if self.blocked else f"{buf}[1:]"
                out.add(f"{rows} = _linear_scan({self.lin_a(name)}, {self.lin_b(name)}, {buf}[{first}])")
            return
        if not self.blocked:
            out.add("t0, t1 = 0, T  # the kernel's rows: all steps")
        out.append(kernels.begin(FORWARD_KERNEL))
        out.add("for t in range(t0, t1):")
        for s in self.program.states:
            name, buf = s.prev.name, self.buf(s.prev.name)
            out.add(f"np.multiply({self.lin_a(name)}[t - t0], {buf}[t], {buf}[t + 1])", 2)
            out.add(f"{buf}[t + 1] += {self.lin_b(name)}[t - t0]", 2)
        out.append(kernels.end())

    def _forward_parallel(self, out: Lines):
        """`forward` (evaluation): a_t, b_t and h over all steps at once."""
        out.add("# -- the linear states: h' = a ⊙ h + b, a and b free of states: "
                + ("step by step" if self.by_steps else "an associative scan"))
        for s in self.program.states:
            buf = self.buf(s.prev.name)
            out.add(f"{buf} = np.empty((T + 1, B, {s.prev.width}), dtype=dt)")
            out.add(f"{buf}[0] = 0 if state is None else state[{s.prev.name!r}]")
            self._linear_a(s, out, 1, self.v)
            self._linear_b(s, out, 1, self.v)
        self.linear_forward(out, "0")

    def _reverse(self, out: Lines):
        """λ of every state over the block's rows, from its e (`Elin_*`, the carry in its last row)."""
        if not self.by_steps:
            for s in self.program.states:
                A = f"{self.lin_a(s.prev.name)}[t0 - r0:t1 - r0]"
                out.add(f"{self.g(s.next.name)} = _linear_scan_reverse({A}, {self.lin_e(s.prev.name)})")
            return
        for s in self.program.states:
            out.add(f"{self.lin_t(s.prev.name)} = np.empty((B, {s.prev.width}), dtype=dt)")
        out.append(kernels.begin(BACKWARD_KERNEL))
        out.add("for t in range(t1 - 2, t0 - 1, -1):  # λ_t = e_t + a_{t+1} λ_{t+1}, in place on e")
        for s in self.program.states:
            name = s.prev.name
            E, tmp = self.lin_e(name), self.lin_t(name)
            out.add(f"np.multiply({self.lin_a(name)}[t + 1 - r0], {E}[t + 1 - t0], {tmp})", 2)
            out.add(f"{E}[t - t0] += {tmp}", 2)
        out.append(kernels.end())
        for s in self.program.states:
            out.add(f"{self.g(s.next.name)} = {self.lin_e(s.prev.name)}")

    def _backward_parallel(self, out: Lines):
        """The reverse recursion of one time block [t0, t1) (training.py), from the carry the later
        block left: carry = a_{t1+1} λ_{t1+1} (+ d loss / d h_{t1} its post phase read), added to
        the block's last e row; then the chain's values its VJPs read, on the block's rows, and the VJPs."""
        p = self.p
        out.add("# -- backward: the linear recursion in reverse, λ_t = e_t + a_{t+1} λ_{t+1}")
        for s in self.program.states:
            name, nxt, w = s.prev.name, s.next.name, s.prev.width
            E = self.lin_e(name)
            if self.gpost(nxt) in out.bound:
                out.add(f"{E} = np.empty((t1 - t0, B, {w}), dtype=dt)")
                out.add(f"{E}[...] = {self.gpost(nxt)}")
            else:
                out.add(f"{E} = np.zeros((t1 - t0, B, {w}), dtype=dt)")
            if self.gpost(name) in out.bound:  # h_{t-1} read by the post phase (h_0's grad is unused)
                out.add(f"{E}[:-1] += {self.gpost(name)}[1:]")
            out.add(f"{E}[-1] += {self.carry(name)}")
        self._reverse(out)
        for s in self.program.states:
            name, nxt = s.prev.name, s.next.name
            to_earlier = f" + {self.gpost(name)}[0]" if self.gpost(name) in out.bound else ""
            out.add(f"{self.carry(name)} = {self.lin_a(name)}[t0 - r0] * {self.g(nxt)}[0]{to_earlier}")
            out.add("if masked:  # d loss / d (h' before the mask) = m λ")
            out.add(f"{self.g(nxt)} = mk[t0:t1] * {self.g(nxt)}", 2)
            out.bound.add(self.g(nxt))
        for s in self.program.states:
            self._chain_vjps(self.parallel[s.prev.name], out)

    def _chain_vjps(self, lin, out: Lines):
        """The VJPs of one state's chain into its pre values, on the block's rows; before them, the
        chain's values that they read (a value under a further product), made again."""
        p, name = self.p, lin.name
        start = len(out)
        for e in lin.chain:
            if e.out.name not in p.next_of:
                out.add(f"{self.S(e.out.name)} = {forward_rules[e.op](self.args_site(e, self.stacked))}")
        made = len(out)
        inside = {e.out.name for e in lin.chain}
        for e in reversed(lin.chain):
            grad = self.g(e.out.name)
            if grad not in out.bound:
                continue
            site = self.args_site(e, self.stacked, self.stacked(e.out.name), grad)
            for a, rules in zip(e.args, VJP_TABLES):
                if a.name == name:  # into h_{t-1}: already in λ
                    continue
                if a.name in inside or a.name in p.needs_grad:
                    self._into(out, a.name, self.g(a.name), rules[e.op](site))
        after = "\n".join(out[made:])
        out[start:made] = [line for line in out[start:made]
                           if re.search(rf"\b{re.escape(line.split('=')[0].strip())}\b", after)]
