"""loss_and_grad's body in time blocks (issue 21): what BPTT keeps grows with T only by the
values the backward reads.

    forward over all steps, up to the end of the scan (pre parts written into the step buffers)
    for each block [t0, t1) of K = ⌈BLOCK_ROWS / B⌉ steps, the last block first:
        the post phase and the heads' losses on the block's rows
        the post phase's VJPs, the reverse scan from t1 - 1 to t0 (from the later block's carry)
        the weight gradients of the block, added in place to their sums over the blocks (`_mmT_acc`)
        the VJPs of the pre values on the block's rows
    the VJPs of the values held once per sequence (their gradients summed over all blocks)

The text passes that make the loop and free dead arrays are in `blocks.py`.
"""
from __future__ import annotations

from . import blocks
from .backward import Lines
from .groups import readers
from .rules import loss_rules


class BlockEmitter:
    """Methods of `Emitter` (emit.py) for the time blocks; `self.blocked` is set while the lines
    that run once per block are written."""

    @property
    def lt(self):
        """Index of step t in a block's own (t1 - t0, B, W) arrays (G, gpost, dfda, gscan)."""
        return "[t - t0]" if self.blocked else "[t]"

    @property
    def steps(self):
        """The leading dimension of those arrays."""
        return "t1 - t0" if self.blocked else "T"

    def rows(self, expr):
        """The block's steps of an all-steps (T, B, W) array."""
        return f"{expr}[t0:t1]" if self.blocked else expr

    def _into_buffer(self):
        """Scan affines whose pre part P (bias + input terms) is written into the step buffer of
        their sole reader, an elementwise op that reads a_t before it overwrites that row (S_z[t]
        holds P_z_a[t] until tanh(z_a) replaces it): no (T, B, W) array P beside the buffers."""
        if self.parallel:
            return {}
        read, p, found = readers(self.program), self.p, {}
        for e in p.eqns["scan"]:
            users = read.get(e.out.name, [])
            r = users[0] if len(users) == 1 else None
            if (e.op != "affine" or e.out.name in self.group_of or not p.pre_args(e) or r is None
                    or all(a.name in p.static for a, _ in p.pre_args(e)) or len(r.args) != 1
                    or r.out.width != e.out.width or p.category[r.out.name] != "scan"
                    or r.out.name in self.horizontal_of or r.out.name in self.folded):
                continue
            if r.out.name in p.next_of:
                found[e.out.name] = f"{self.buf(p.next_of[r.out.name].prev.name)}[1:]"
            elif r.out.name in p.stored:
                found[e.out.name] = self.S(r.out.name)
        return found

    def block_losses(self, out: Lines):
        """The heads' losses and d loss / d logits on the rows of one time block; the targets and
        the count of unmasked positions are made before the blocks (`train`)."""
        out.add("# -- heads: link + NLL, averaged over the unmasked positions")
        out.add("scale = mk[t0:t1] / max(count, 1.0) if masked else 1.0 / max(count, 1.0)  # unmasked: one number")
        for h in self.program.heads:
            rule = loss_rules[h.output.kind]
            for line in rule(self.stacked(h.logits.name), f"{self.target(h.output.name)}[t0:t1]", "scale"):
                out.add(line)
            out.add("nll_sum += float((nll * m[t0:t1]).sum(dtype=np.float64))")
            out.contribute(self.g(h.logits.name), "dlogits")

    def train(self, out: Lines):
        """loss_and_grad's body: the forward up to the scan over all steps, then the post phase,
        the losses and the whole backward pass once per time block, the last block first."""
        p, prog = self.p, self.program
        self.forward(out, post=False, blocks=True)
        out.add("nll_sum, count = 0.0, float(m.sum())")
        for h in prog.heads:
            dtype = "np.intp" if h.output.kind == "token" else "dt"
            out.add(f"{self.target(h.output.name)} = np.asarray(batch[{h.output.name!r}], dtype={dtype})")
        out.add("grads = {}")
        if prog.states:
            self._backward_scan_setup(out)
        # a value held once per sequence gets d loss / d value summed over all blocks
        sums = {self.g(n) for n in p.static if n in p.needs_grad} - out.bound
        out.bound |= sums
        start = len(out)
        out.append(blocks.begin())
        out.add("t1 = T - blk * K")
        out.add("t0 = max(t1 - K, 0)")
        self.blocked = True
        if self.pre_blocks:
            self.pre_again(out)
        self.post_forward(out)
        self.block_losses(out)
        out.add("# -- backward: post phase")
        for e in reversed(p.eqns["post"]):
            self._stacked_vjp(e, self.g(e.out.name), out)
        if prog.states:
            (self._backward_parallel if self.parallel else self._backward_scan)(out)
        if any(self.g(e.out.name) in out.bound for e in p.eqns["pre"] if e.out.name not in p.static):
            out.add("# -- backward: pre phase")
        for e in reversed(p.eqns["pre"]):
            if e.out.name not in p.static:
                self._stacked_vjp(e, self.g(e.out.name), out)
        if self.pre_blocks:
            self.prune_again(out, start)
        self.blocked = False
        out.append(blocks.end())
        for name in reversed(out.running):  # the weight gradients' running sums (`_mmT_acc`)
            out.insert(start, f"    {name} = None")
        for name in sorted(sums):
            if name in out.touched:
                out.insert(start, f"    {name} = 0.0")
            else:
                out.bound.discard(name)
        self.finish_backward(out, [e for e in p.eqns["pre"] if e.out.name in p.static])
