"""The standalone module's text around a lowering's bodies (emit.py): the docstring, the spec as
comments, the prelude's source, the layout tables (PARAMS, SUMMARIES, TIED, STATES, INPUTS, HEADS,
DROPOUT), the scan kernels, `forward` and `loss_and_grad`, and `probabilities`.  Only templates and
tables: what the bodies say is the Emitter's.
"""
from __future__ import annotations

import inspect

from ..ir import Program
from . import prelude
from .plan import NOISE_OPS
from .rules import link_rules


def functions(forward, train, final: str, logits: str) -> str:
    """The module's `forward` and `loss_and_grad` from their bodies (lines) and return expressions
    (the one-sided form; both sides behind a size rule: scan_choice.py)."""
    return _FUNCTIONS.format(forward="\n".join(forward), train="\n".join(train), final=final, logits=logits)


def module_text(prog: Program, kernel_texts: dict, functions: str, pre_floats) -> str:
    """The whole module: `kernel_texts` name -> a scan loop's function text, `functions` the
    module's entry points (above), `pre_floats` its PRE_FLOATS (recompute.py)."""
    links = "\n".join(
        f"    out[{h.output.name!r}] = {link_rules[h.output.kind](f'logits[{h.output.name!r}]')}"
        for h in prog.heads)
    return _MODULE.format(
        file=ascii(str(prog.file))[1:-1].replace('"', '\\"'), header=spec_header(prog),
        prelude=inspect.getsource(prelude).split('"""', 2)[2].lstrip(),  # without its docstring
        **layout_tables(prog),
        kernels="\n\n".join(kernel_texts.values()) or "# (no step loop: no scan kernels)",
        functions=functions, pre_floats=pre_floats, links=links)


def spec_header(prog: Program) -> str:
    """The spec text as comment lines, for the head of a generated file."""
    return "\n".join("# " + line for line in (prog.text or "").splitlines())


def layout_tables(prog: Program) -> dict:
    """The layout tables a generated module starts with, as Python list literals: PARAMS
    (name, shape, role), SUMMARIES, TIED, STATES (name, width), INPUTS (name, kind, width), HEADS
    (output, kind, width), DROPOUT (value, width, rate, op).  The numpy module's and the exports'."""
    return dict(
        params=_table([(p.name, p.shape, p.role) for p in prog.params]),
        summaries=_table(_summaries(prog)), ties=_table(list(prog.ties)),
        states=_table([(s.prev.name, s.prev.width) for s in prog.states]),
        inputs=_table([(v.name, v.kind, v.width) for v in prog.inputs]),
        heads=_table([(h.output.name, h.output.kind, h.output.width) for h in prog.heads]),
        dropout=_table([(e.out.name, e.out.width, e.attr("rate"), e.op) for e in prog.eqns if e.op in NOISE_OPS]))


def _summaries(program: Program) -> list:
    """(⊕ value, its weights and embeddings) for init; a tied weight is not drawn (nor an ⊕ left empty)."""
    tied = {t for t, _ in program.ties}
    rows = [(e.out.name, tuple(n for n in e.params[:-1] if n not in tied)) for e in program.eqns if e.op == "affine"]
    return [row for row in rows if row[1]]


def _table(rows) -> str:
    """Rows as a Python list literal, one row a line."""
    return "[\n" + "".join(f"    {row!r},\n" for row in rows) + "]"


_MODULE = '''\
"""rnnalg model compiled from {file}. Generated code: needs only numpy.

    params = init(np.random.default_rng(0))                 # name -> array, see PARAMS
    loss, grads, final_state = loss_and_grad(params, batch)  # batch: name -> (T, B, ...) arrays
    nll_sum, count, final_state, logits = forward(params, batch)

Arrays are time-major (T, B, D); a `token` input or target is (T, B) integers;
batch['mask'] (T, B) is optional.  `loss` is the NLL summed over the output units,
averaged over unmasked positions.  `noise` holds dropout masks (draw_noise); None
evaluates without dropout.
"""
# The spec:
{header}
{prelude}

# (name, shape, role): a dense weight is (in, out), an embedding (V, out), a bias (out,)
PARAMS = {params}
# (⊕ value, its weights and embeddings in operand order): init draws each as one matrix
SUMMARIES = {summaries}
TIED = {ties}  # (softmax weight, embedding): one array, the embedding's transpose (init: see prelude)
STATES = {states}  # (name, width)
INPUTS = {inputs}  # (name, kind, width)
HEADS = {heads}  # (output, kind, width)
DROPOUT = {dropout}  # (value, width, rate, op): dropout, vdropout or zoneout (draw_noise)
# loss_and_grad runs its post phase and backward pass in time blocks of ⌈BLOCK_ROWS / B⌉ steps:
# what they hold grows with the block, not with T (the same loss and gradients for any value)
BLOCK_ROWS = 1024
# floats per position its pre values would keep over all steps (0: its pre phase is not in blocks); above
# RECOMPUTE_BYTES (prelude) in all, loss_and_grad runs the pre phase in time blocks and makes them again
PRE_FLOATS = {pre_floats}


# -- the scan loops: plain numpy here; the fast backend compiles these same functions with numba
{kernels}

{functions}def probabilities(logits):
    """Apply each output's link: sigmoid (binary), softmax (token), identity (real)."""
    out = {{}}
{links}
    return out
'''

_FUNCTIONS = '''\
def forward(params, batch, state=None, noise=None):
    """-> (nll_sum, count, final_state, logits); the NLL of each output whose targets are in batch."""
{forward}
    return nll_sum, count, {final}, {logits}


def loss_and_grad(params, batch, state=None, noise=None):
    """-> (loss, grads, final_state): mean NLL per unmasked position and d loss / d params (BPTT)."""
{train}
    return nll_sum / max(count, 1.0), grads, {final}


'''
