"""The associative scan or the step loop for linear states, chosen per call by size (issue 21).

A program whose every state is linear in itself (`linear.py`) can run its recursions as an
associative scan (log2 T passes over (t, B, w) arrays, a few numpy calls per pass) or step by step
(T steps of two numpy calls each over (B, w) rows); both sides share everything else (parallel.py):
a_t and b_t, the time blocks of loss_and_grad, the recompute rule, the chain's VJPs.  Which is
faster depends on the sizes of the call: at a tiny state the steps' per-call overhead dominates and
the scan wins; at a wide one the scan's extra passes over memory do (bench/README.md, issue 21).
So, by default (`emit_module(program, parallel='auto')`), the module carries both and picks per call:

    forward(params, batch, …)        -> _forward_by_scan  if _use_scan(T, B, SCAN_WIDTH, itemsize)
                                        _forward_by_loop  otherwise
    loss_and_grad(params, batch, …)  -> _loss_and_grad_by_scan / _loss_and_grad_by_loop, the same rule

`_use_scan` and its measured constants are in the prelude (prelude.py), beside `_recompute`.
Both sides give the same results (float64 ≤ 1e-10, tests/test_parallel_choice.py) and keep the
same memory (≤ 2× BPTT's minimum once the recompute rule is on, tests/test_memory_blocks.py); T
and B are known only per call (one model trains on B = 32 and is evaluated on B = 1), so the
choice is made there rather than at compile time.  The fast backend compiles the step side's
two kernels (`_scan_linear_forward`, `_scan_linear_backward`) when they first run.
"""
from __future__ import annotations

from ..ir import Program


def functions(program: Program, scan, loop) -> str:
    """The module's `forward` and `loss_and_grad`, which choose, and the four bodies they choose
    from: `scan` and `loop` are (forward body, loss_and_grad body, final state, logits) lines and
    expressions of the scan's and the steps' Emitter (emit.py, `bodies`; the steps' has its
    kernel texts third, which the module holds already)."""
    steps = next(v.name for v in program.inputs if v.name not in program.static_inputs)
    first = program.params[0].name
    width = sum(s.prev.width for s in program.states)
    parts = [_HEADER.format(width=width, steps=steps, first=first)]
    for name, (fwd, train, final, logits) in (("scan", scan), ("loop", (loop[0], loop[1]) + tuple(loop[3:5]))):
        parts.append(_BODIES.format(by=name, forward="\n".join(fwd), train="\n".join(train),
                                    final=final, logits=logits))
    return "".join(parts)


_HEADER = '''\
# Every state is linear in itself (h' = a ⊙ h + b): forward and loss_and_grad run the states as an
# associative scan or step by step, chosen per call by _use_scan (prelude; the same results)
SCAN_WIDTH = {width}  # Σ widths of the linear states: floats per position of each pass of the scan


def _by_scan(params, batch):
    """Whether this call runs the associative scan (_use_scan of its T, B and dtype)."""
    T, B = np.shape(batch[{steps!r}])[:2]
    return _use_scan(T, B, SCAN_WIDTH, np.dtype(params[{first!r}].dtype).itemsize)


def forward(params, batch, state=None, noise=None):
    """-> (nll_sum, count, final_state, logits); the NLL of each output whose targets are in batch."""
    by = _forward_by_scan if _by_scan(params, batch) else _forward_by_loop
    return by(params, batch, state, noise)


def loss_and_grad(params, batch, state=None, noise=None):
    """-> (loss, grads, final_state): mean NLL per unmasked position and d loss / d params (BPTT)."""
    by = _loss_and_grad_by_scan if _by_scan(params, batch) else _loss_and_grad_by_loop
    return by(params, batch, state, noise)


'''

_BODIES = '''\
def _forward_by_{by}(params, batch, state=None, noise=None):
{forward}
    return nll_sum, count, {final}, {logits}


def _loss_and_grad_by_{by}(params, batch, state=None, noise=None):
{train}
    return nll_sum / max(count, 1.0), grads, {final}


'''
