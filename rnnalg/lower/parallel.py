"""The scan of a program whose every state is linear in itself (`linear.py`): no step loop.

    forward   a_t, b_t stacked from the pre values (a padded step: a = 1, b = 0), then
              h_1..h_T = _linear_scan(a, b, h_0): log2 T rounds over all steps at once
    backward  λ_t = d loss / d h_t = e_t + a_{t+1} λ_{t+1} (e: what the post phase sends back),
              the same scan run backwards in time; then d loss / d (unmasked h'_t) = m_t λ_t goes
              through the chain's VJPs into the pre values

`forward` (evaluation) runs the scan over all steps at once; loss_and_grad runs both halves in
time blocks (recompute.py, training.py): the forward block by block from h_{t0}, the backward the
last block first, each block's reverse scan from the carry a_{t1+1} λ_{t1+1} of the later block.
The chain's own values (`(1 − z) ⊙ h`, …) are made again on the block's rows for their VJPs;
their contributions to h_{t-1} are already in λ (a_t λ_t), so they are dropped.

By default the module also carries the step loop's lowering and runs this one only where the size
rule `_use_scan` says the scan is faster (scan_choice.py); `emit_module(program, True)` forces it.
"""
from __future__ import annotations

from .backward import VJP_TABLES, Lines
from .rules import forward_rules


class ParallelEmitter:
    """Methods of `Emitter` for programs with `self.parallel` (state name -> LinearState)."""

    def _forward_parallel(self, out: Lines):
        p = self.p
        out.add("# -- scan: every state is h' = a ⊙ h + b, a and b free of states: an associative scan")
        for s in self.program.states:
            lin, name, w = self.parallel[s.prev.name], s.prev.name, s.prev.width
            buf, A, Bv = self.buf(name), self.lin_a(name), self.lin_b(name)
            out.add(f"{buf} = np.empty((T + 1, B, {w}), dtype=dt)")
            out.add(f"{buf}[0] = 0 if state is None else state[{name!r}]")
            for arr, expr in ((A, lin.a), (Bv, lin.b)):
                out.add(f"{arr} = np.zeros((T, B, {w}), dtype=dt)")
                if expr is not None:
                    out.add(f"{arr}[...] = {expr.code(self.v)}")
            out.add("if masked:  # a padded step keeps its state: a = 1, b = 0")
            out.add(f"{A} = mk * {A} + (1 - mk)", 2)
            out.add(f"{Bv} *= mk", 2)
            out.add(f"{buf}[1:] = _linear_scan({A}, {Bv}, {buf}[0])")
            for e in lin.chain:  # the chain's values on the way, all steps at once (for its VJPs)
                if e.out.name not in p.next_of:
                    out.add(f"{self.S(e.out.name)} = {forward_rules[e.op](self.args_site(e, self.stacked))}")

    def _backward_parallel(self, out: Lines):
        """The reverse scan of one time block [t0, t1) (training.py), from the carry the later
        block left: carry = a_{t1+1} λ_{t1+1} (+ d loss / d h_{t1} its post phase read), added to
        the block's last e row; then the chain's values on the block's rows and their VJPs."""
        p = self.p
        out.add("# -- backward: the associative scan in reverse, λ_t = e_t + a_{t+1} λ_{t+1}")
        for s in self.program.states:
            lin, name, w = self.parallel[s.prev.name], s.prev.name, s.prev.width
            E, nxt, carry = self.lin_e(name), s.next.name, self.carry(name)
            A = f"{self.lin_a(name)}[t0 - r0:t1 - r0]"  # made in this block, or over all steps
            out.add(f"{E} = np.zeros((t1 - t0, B, {w}), dtype=dt)")
            if self.gpost(nxt) in out.bound:
                out.add(f"{E} += {self.gpost(nxt)}")
            if self.gpost(name) in out.bound:  # h_{t-1} read by the post phase (h_0's grad is unused)
                out.add(f"{E}[:-1] += {self.gpost(name)}[1:]")
            out.add(f"{E}[-1] += {carry}")
            out.add(f"{self.g(nxt)} = _linear_scan_reverse({A}, {E})")
            to_earlier = f" + {self.gpost(name)}[0]" if self.gpost(name) in out.bound else ""
            out.add(f"{carry} = {A}[0] * {self.g(nxt)}[0]{to_earlier}")
            out.add(f"if masked:  # d loss / d (h' before the mask) = m λ")
            out.add(f"{self.g(nxt)} = mk[t0:t1] * {self.g(nxt)}", 2)
            out.bound.add(self.g(nxt))
            for e in lin.chain:  # the chain's values on the block's rows, for its VJPs
                if e.out.name not in p.next_of:
                    out.add(f"{self.S(e.out.name)} = {forward_rules[e.op](self.args_site(e, self.stacked))}")
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
