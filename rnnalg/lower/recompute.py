"""loss_and_grad's pre phase in time blocks, made again in the backward pass (issue 21).

Pre values (computed from the inputs alone: deep_input's `MLP(x)`, mingru's gates, the a_t and
b_t of an associative scan) kept over all T steps cost T·B·Σ w floats that BPTT's minimum does
not count: they can be made again from the inputs.  A program whose pre values only pre and post
eqns read, or scan affines through the rows of P they write into a step buffer (`_into_buffer`),
and every program whose states run as an associative scan (`parallel.py`), get

    recompute = _recompute(T, B, PRE_FLOATS, itemsize)  (prelude: above RECOMPUTE_BYTES, 64 MiB;
                the step side of linear states, parallel.py: above LOOP_KEEP_BYTES, 1 GiB)
    KP = ⌈BLOCK_ROWS / B⌉ if recompute else T
    for each block [t0, t1) of KP steps, the first block first:
        the block's pre values (inputs x[t0:t1]); their rows of P written into the step buffers;
        a linear state: a_t, b_t of the block, h_{t0+1..t1} = _linear_scan(a, b, h_{t0})
    the step loop (if any), then the time blocks of training.py, each starting with
        if recompute: the block's pre values (and a_t) made again from its inputs     (r0 = t0)
        else: the forward's, over all steps                                            (r0 = 0)

A pre value's rows [t0, t1) are `v[t0 - r0:t1 - r0]` in either case.  Off (one forward block of
T steps) the module does what it did before: the same products on the same arrays.  On, the pre
phase's multiply-adds run twice and what grows with T is the step buffers alone.
"""
from __future__ import annotations

import re

from . import blocks
from .backward import Lines
from .groups import readers
from .rules import forward_rules


class RecomputeEmitter:
    """Methods of `Emitter` (emit.py) for the pre phase in time blocks."""

    def _deferred_pre(self):
        """The pre eqns that run in the blocks of the pre phase (all but the static ones), or None
        when some scan eqn reads one of their values other than through `into_buffer` (it must then
        be there for all steps while the step loop runs)."""
        p = self.p
        eqns = [e for e in p.eqns["pre"] if e.out.name not in p.static]
        if self.parallel:
            return eqns
        if not eqns:
            return None
        names = {e.out.name for e in eqns}
        read = readers(self.program)
        for name in names:
            for r in read.get(name, []):
                if r is not None and p.category[r.out.name] == "scan" and r.out.name not in self.into_buffer:
                    return None
        return eqns

    def pre_floats(self) -> int:
        """Floats per position the blocked pre phase would keep over all steps: its values, and a
        linear state's a_t and b_t (the module's PRE_FLOATS, the recompute rule's `floats`); 0
        when the pre phase does not run in blocks."""
        if not self.pre_blocks:
            return 0
        widths = [e.out.width for e in self.deferred]
        widths += [2 * s.prev.width for s in self.program.states if s.prev.name in self.parallel]
        return sum(widths)

    def _pre_reads_deferred(self, e) -> bool:
        return any(a.name in self.deferred_names for a, _ in self.p.pre_args(e))

    def _pre_eqn(self, e, out: Lines, depth: int = 1):
        """One pre eqn on the rows of a block (stacked() gives them)."""
        if e.op == "affine":
            terms = [self.w(e.params[-1])] + [self._input_term(a, w) for a, w in self.p.pre_args(e)]
            out.add(f"{self.v(e.out.name)} = {' + '.join(terms)}", depth)
        else:
            out.add(f"{self.v(e.out.name)} = {forward_rules[e.op](self.args_site(e, self.stacked))}", depth)

    def forward_pre_blocks(self, out: Lines):
        """The recompute rule, then the blocks of the pre phase (see the module docstring)."""
        p = self.p
        limit = "LOOP_KEEP_BYTES" if self.by_steps else "RECOMPUTE_BYTES"  # the steps keep more (prelude)
        args = ", LOOP_KEEP_BYTES" if self.by_steps else ""
        out.add(f"recompute = _recompute(T, B, PRE_FLOATS, dt.itemsize{args})  # would the pre values over all "
                f"steps exceed {limit}?")
        out.add("KP = max(1, -(-BLOCK_ROWS // B)) if recompute else max(T, 1)  # steps per block of the pre phase")
        if self.parallel:
            for s in self.program.states:
                buf = self.buf(s.prev.name)
                out.add(f"{buf} = np.empty((T + 1, B, {s.prev.width}), dtype=dt)")
                out.add(f"{buf}[0] = 0 if state is None else state[{s.prev.name!r}]")
        out.append(blocks.begin_pre())
        out.add("t0 = blk * KP")
        out.add("t1 = min(t0 + KP, T)")
        out.add("r0 = t0")
        self.blocked = True
        for e in self.program.eqns:
            if e.out.name in self.deferred_names:
                self._pre_eqn(e, out)
            elif e.out.name in self.into_buffer and self._pre_reads_deferred(e):
                terms = ", ".join(f"({self.stacked(a.name)}, {self.w(w)})" for a, w in p.pre_args(e))
                out.add(f"_affine_into({self.P(e.out.name)}[t0:t1], {self.w(e.params[-1])}, {terms})")
        if self.parallel:
            for s in self.program.states:
                self._linear_a(s, out, 1)
                self._linear_b(s, out, 1)
            self.linear_forward(out, "t0")
        self.blocked = False
        out.append(blocks.end_pre())

    def pre_again(self, out: Lines):
        """At the start of a backward time block: its pre values (and a_t) made again, or r0 = 0."""
        out.add("if recompute:  # the block's pre values, made again from its inputs")
        out.add("r0 = t0", 2)
        for e in self.deferred:
            self._pre_eqn(e, out, 2)
        for s in self.program.states if self.parallel else ():
            self._linear_a(s, out, 2)
        out.add("else:  # the forward's, over all steps")
        out.add("r0 = 0", 2)

    def prune_again(self, out: Lines, start: int):
        """Drop from the `if recompute:` lines after out[start] each pre value that no later line
        of the time block reads (a linear state's b_t: only the forward's recursion reads it)."""
        head = next(k for k in range(start, len(out)) if out[k].strip().startswith("if recompute:"))
        for e in reversed(self.deferred):
            name = self.v(e.out.name)
            line = next((k for k in range(head, len(out)) if out[k].startswith(f"        {name} = ")), None)
            if line is not None and not any(re.search(rf"\b{re.escape(name)}\b", text) for text in out[line + 1:]):
                del out[line]
