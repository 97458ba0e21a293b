"""The associative scan or the step loop for linear states, chosen per call by size (issue 21).

A program whose every state is linear in itself (`linear.py`) can run as an associative scan
(`parallel.py`: log2 T passes over (T, B, w) arrays, a few numpy calls per pass) or in the step
loop (T steps of a few numpy calls each over (B, w) rows).  Which is faster depends on the sizes
of the call: at a tiny state the loop's per-step call overhead dominates and the scan wins; at a
wide one the scan's extra passes over memory do (bench/README.md, issue 21).  So, by default
(`emit_module(program, parallel='auto')`), the module carries both lowerings and picks per call:

    forward(params, batch, …)        -> _forward_by_scan  if _use_scan(T, B, SCAN_WIDTH, LOOP_FLOATS, itemsize)
                                        _forward_by_loop  otherwise
    loss_and_grad(params, batch, …)  -> _loss_and_grad_by_scan / _loss_and_grad_by_loop, the same rule

`_use_scan` and its measured constants are in the prelude (prelude.py), beside `_recompute`.
Both lowerings give the same results (float64 ≤ 1e-10, tests/test_parallel_choice.py); T and B
are known only per call (one model trains on B = 32 and is evaluated on B = 1), so the choice is
made there rather than at compile time.  The module with both is 1.27× the text of the scan's
alone (mingru.rnn: 35.0k against 27.6k characters; the prelude and tables are shared), so emitting
both costs little; the fast backend compiles the loop's kernels when they first run.
"""
from __future__ import annotations

import re

from ..ir import Program

# the step loop's PRE_FLOATS (its recompute rule's floats per position) under its own name
LOOP_PRE_FLOATS = "LOOP_PRE_FLOATS"


def loop_kept_floats(loop) -> int:
    """Floats per position the step loop's Emitter keeps over all steps in its pre phase (the
    rule's `loop_floats`): the widths of its pre values, but those held once per sequence."""
    return sum(e.out.width for e in loop.p.eqns["pre"] if e.out.name not in loop.p.static)


def functions(program: Program, scan, loop, loop_pre_floats: int, loop_floats: int) -> str:
    """The module's `forward` and `loss_and_grad`, which choose, and the four bodies they choose
    from: `scan` and `loop` are (forward body, loss_and_grad body, final state, logits) lines and
    expressions of the scan's and the loop's Emitter (emit.py, `bodies`)."""
    steps = next(v.name for v in program.inputs if v.name not in program.static_inputs)
    first = program.params[0].name
    width = sum(s.prev.width for s in program.states)
    loop_train = [re.sub(r"\bPRE_FLOATS\b", LOOP_PRE_FLOATS, line) for line in loop[1]]
    parts = [_HEADER.format(width=width, loop_pre_floats=loop_pre_floats, loop_floats=loop_floats, steps=steps,
                            first=first)]
    for name, (fwd, train, final, logits) in (("scan", scan), ("loop", (loop[0], loop_train) + tuple(loop[3:5]))):
        parts.append(_BODIES.format(by=name, forward="\n".join(fwd), train="\n".join(train),
                                    final=final, logits=logits))
    return "".join(parts)


_HEADER = '''\
# Every state is linear in itself (h' = a ⊙ h + b): forward and loss_and_grad run the states as an
# associative scan or in the step loop, chosen per call by _use_scan (prelude; the same results)
SCAN_WIDTH = {width}  # Σ widths of the linear states: floats per position of each pass of the scan
LOOP_FLOATS = {loop_floats}  # floats per position the step loop keeps over all steps (its pre values)
{name} = {loop_pre_floats}  # PRE_FLOATS of the step loop's lowering


def _by_scan(params, batch):
    """Whether this call runs the associative scan (_use_scan of its T, B and dtype)."""
    T, B = np.shape(batch[{steps!r}])[:2]
    return _use_scan(T, B, SCAN_WIDTH, LOOP_FLOATS, np.dtype(params[{first!r}].dtype).itemsize)


def forward(params, batch, state=None, noise=None):
    """-> (nll_sum, count, final_state, logits); the NLL of each output whose targets are in batch."""
    by = _forward_by_scan if _by_scan(params, batch) else _forward_by_loop
    return by(params, batch, state, noise)


def loss_and_grad(params, batch, state=None, noise=None):
    """-> (loss, grads, final_state): mean NLL per unmasked position and d loss / d params (BPTT)."""
    by = _loss_and_grad_by_scan if _by_scan(params, batch) else _loss_and_grad_by_loop
    return by(params, batch, state, noise)


'''.replace("{name}", LOOP_PRE_FLOATS)

_BODIES = '''\
def _forward_by_{by}(params, batch, state=None, noise=None):
{forward}
    return nll_sum, count, {final}, {logits}


def _loss_and_grad_by_{by}(params, batch, state=None, noise=None):
{train}
    return nll_sum / max(count, 1.0), grads, {final}


'''
