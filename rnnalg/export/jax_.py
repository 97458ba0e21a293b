"""`rnnalg export --to jax`: one readable Python file that needs only jax (and numpy, which jax
brings).  Pure functions over a params dict keyed by rnnalg's names:

    init(key)                                   rnnalg's gaussian init
    apply(params, inputs, state, mask)          -> (logits by output (T, B, W), final state)
    loss(params, batch)                         rnnalg's loss; jit- and grad-able
    step(params, x_t, state)                    -> (probabilities, next state), for sampling

The pre and post phases run over all steps at once; the scan phase is the body of one
`lax.scan`, so the input projections stay one large product (walk.py).
"""
from __future__ import annotations

import io
from pathlib import Path

from ..lower.module_text import spec_header
from .walk import Rules, Walk, array_tables, indent, tables
from .writing import write_all

# the functions jax spells the activations with (walk.array_tables: every other row is shared)
ACTIVATIONS = {"tanh": "jnp.tanh", "sigmoid": "jax.nn.sigmoid", "relu": "jax.nn.relu"}

RULES = Rules(
    target="jax", **array_tables("jax", ACTIVATIONS, softmax="jax.nn.softmax({}, axis=-1)"),
    step_ref=lambda ident: f"xs[{ident!r}]",
    step_noise=lambda name: f"xs['noise'][{name!r}]",
    mask_update=lambda nxt, prev: (f"if masked:  # a padded step keeps its state\n"
                                   f"    {nxt} = {prev} + xs['mk'] * ({nxt} - {prev})"),
)


def jax_source(program) -> str:
    """The text of the jax module for `program`."""
    walk = Walk(program)
    code = walk.code(RULES)
    body = ["inputs = inputs if isinstance(inputs, dict) else {INPUTS[0][0]: inputs}"]
    if program.ties:
        body.append("params = dict(params)")
        body += [f"params[{tied!r}] = params[{source!r}].T  # tied: the embedding's transpose"
                 for tied, source in program.ties]
    sequence = [v for v in program.inputs if v.name not in program.static_inputs]
    static = [v for v in program.inputs if v.name in program.static_inputs]
    for v in sequence + static:
        kind = "jnp.int32" if v.kind == "token" else "dt"
        body.append(f"{walk.ident(v.name)} = jnp.asarray(inputs[{v.name!r}], dtype={kind})")
        if v in static:  # one value per sequence (B, ...): the same at every step
            body.append(f"{walk.ident(v.name)} = jnp.broadcast_to({walk.ident(v.name)}, "
                        f"(T,) + {walk.ident(v.name)}.shape)")
        if v is sequence[0]:
            body.append(f"T, B = {walk.ident(v.name)}.shape[:2]")
    body += ["masked = mask is not None",
             "mk = jnp.asarray(mask, dtype=dt)[:, :, None] if masked else None",
             "if noise is None and key is not None and DROPOUT:",
             "    noise = draw_noise(key, T, B, dt)",
             "# -- pre: everything that depends only on the inputs, all steps at once"]
    body += code.pre
    if program.states:
        body.append("# -- scan: only the state-dependent terms, one lax.scan step per t")
        body.append("carry = {  # the states before step 0")
        body += [f"    {s.prev.name!r}: jnp.zeros((B, {s.prev.width}), dtype=dt) if state is None "
                 f"else jnp.asarray(state[{s.prev.name!r}], dtype=dt)," for s in program.states]
        body.append("}")
        xs = ", ".join([f"{ident!r}: {ident}" for ident in code.step_inputs] + ["'mk': mk", "'noise': noise"])
        body += ["# the per-step slices of the scan (leading axis T)", "xs = {" + xs + "}"]
        step = [f"{walk.ident(s.prev.name)} = carry[{s.prev.name!r}]" for s in program.states] + list(code.scan)
        nxt = "{" + ", ".join(f"{s.prev.name!r}: {walk.ident(s.next.name)}" for s in program.states) + "}"
        ys = "{" + ", ".join(f"{ident!r}: {ident}" for ident, _ in code.stacked) + "}"
        step.append(f"return {nxt}, {ys}")
        body += ["", "def body(carry, xs):", indent(step, 1), ""]
        body.append("final_state, ys = lax.scan(body, carry, xs, length=T)")
        body += [f"{ident} = ys[{ident!r}]" for ident, _ in code.stacked]
    else:
        body.append("final_state = {}")
    body.append("# -- post: reads the states, feeds none back; all steps at once")
    body += code.post
    logits = "{" + ", ".join(f"{out.name!r}: {ident}" for out, ident in code.heads) + "}"
    body.append(f"return {logits}, final_state")
    nll = [f"if {out.name!r} in batch:\n"
           f"    target = jnp.asarray(batch[{out.name!r}], dtype={'jnp.int32' if out.kind == 'token' else 'dt'})\n"
           f"    nll_sum = nll_sum + ({RULES.losses[out.kind](f'logits[{out.name!r}]', 'target')} * m).sum()"
           for out, _ in code.heads]
    links = [f"out[{out.name!r}] = {RULES.links[out.kind](f'logits[{out.name!r}]')}" for out, _ in code.heads]
    return _MODULE.format(file=str(program.file), header=spec_header(program), **tables(program),
                          apply=indent(body, 1), nll=indent(nll, 1), links=indent(links, 1))


def export_jax(program, path, params=None) -> list:
    """Write the jax module to `path`; with `params` also `<path stem>.npz` (rnnalg's names),
    which the module's `load_params()` reads.  -> the paths written."""
    import numpy as np

    path = Path(path)
    files = {path: jax_source(program)}
    if params is not None:
        buffer = io.BytesIO()
        np.savez(buffer, **{p.name: np.asarray(params[p.name]) for p in program.params})
        files[path.with_suffix(".npz")] = buffer.getvalue()
    return write_all(files)


_MODULE = '''\
"""rnnalg model exported from {file} for JAX. Generated code: needs only jax.

    params = init(jax.random.PRNGKey(0))              # rnnalg name -> array, see PARAMS
    value, grads = jax.value_and_grad(loss)(params, {{"x": xs, "y": ys, "mask": mask}})
    logits, final_state = apply(params, {{"x": xs}}, state)   # logits of each output (T, B, W)
    probs, state = step(params, {{"x": x_t}}, state)         # one step (B, ...), for sampling
    params = load_params("model.npz")                     # what `rnnalg export --checkpoint` wrote

Arrays are time-major (T, B, D); a `token` input or target is (T, B) integers; mask (T, B) is
optional (a padded step keeps its state).  The loss is rnnalg's: the NLL summed over the output
units, averaged over unmasked positions.  A dense weight is (in, out), applied as `a @ W`.
Dropout: pass `key` (masks drawn from it) or `noise` (draw_noise); neither evaluates without it.
Everything is a pure function of arrays: jit and grad apply (mask, noise and key are static in
kind: None or an array).  Float64 needs jax.config.update("jax_enable_x64", True).
"""
# The spec:
{header}
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

LP_EPS = 1e-6  # L_p pooling: y = (ε^p + mean_k |a|^p)^(1/p) − ε
LN_EPS = 1e-5  # layer norm: n = (a − μ) / √(σ² + ε)

# (name, shape, role): a dense weight is (in, out), an embedding (V, out), a bias (out,)
PARAMS = {params}
# (⊕ value, its weights and embeddings in operand order): init draws each as one matrix
SUMMARIES = {summaries}
STATES = {states}  # (name, width)
INPUTS = {inputs}  # (name, kind, width)
HEADS = {heads}  # (output, kind, width)
DROPOUT = {dropout}  # (value, width, rate, op): dropout, vdropout or zoneout (draw_noise)
TIED = {ties}  # (softmax weight, embedding): the weight is the embedding's transpose, not a parameter
STATIC = {static}  # the inputs with one value per sequence: (B, ...) in a batch and in `step`


def _groups(a, k):
    """(..., W·k) -> (..., W, k): unit j pools inputs j·k .. j·k + k − 1."""
    return a.reshape(a.shape[:-1] + (a.shape[-1] // k, k))


def _maxout(a, k):
    return _groups(a, k).max(axis=-1)


def _lp(a, p, k):
    """(ε^p + mean_k |a|^p)^(1/p) − ε as m (ε^p/m^p + mean_k |a/m|^p)^(1/p) − ε, m = max(ε, max_k |a|)
    held constant (the value does not depend on m; no power of a number above 1)."""
    ga = jnp.abs(_groups(a, k))
    m = lax.stop_gradient(jnp.maximum(ga.max(axis=-1), LP_EPS))
    s = (LP_EPS / m) ** p + ((ga / m[..., None]) ** p).mean(axis=-1)
    return m * s ** (1.0 / p) - LP_EPS


def _layernorm(a, gain, bias):
    """gain ⊙ (a − μ) / √(σ² + ε) + bias, μ and σ² over the units of each position."""
    d = a - a.mean(axis=-1, keepdims=True)
    return gain * d / jnp.sqrt((d * d).mean(axis=-1, keepdims=True) + LN_EPS) + bias


def _bernoulli_nll(a, y):
    """Σ_units softplus(a) − a·y: (T, B, W) -> (T, B)."""
    return (jax.nn.softplus(a) - a * y).sum(axis=-1)


def _token_nll(a, y):
    """−log softmax(a)[y]: logits (T, B, V), ids (T, B) -> (T, B)."""
    return jax.nn.logsumexp(a, axis=-1) - jnp.take_along_axis(a, y[..., None], axis=-1)[..., 0]


def _squared_error(a, y):
    return 0.5 * ((a - y) ** 2).sum(axis=-1)


def init(key, dtype=jnp.float32):
    """rnnalg's gaussian init: each ⊕ one matrix over its operands, N(0, 1/F) with F the sum of
    its dense widths plus 1 per token operand; biases zero.  -> rnnalg name -> array."""
    shapes = {{name: (shape, role) for name, shape, role in PARAMS}}
    params = {{name: jnp.zeros(shape, dtype=dtype) for name, (shape, role) in shapes.items() if role == "bias"}}
    params.update({{name: jnp.ones(shape, dtype=dtype) for name, (shape, role) in shapes.items() if role == "gain"}})
    for _, names in SUMMARIES:
        fan_in = sum(shapes[n][0][0] if shapes[n][1] == "weight" else 1 for n in names)
        for n in names:
            key, sub = jax.random.split(key)
            params[n] = jax.random.normal(sub, shapes[n][0], dtype=dtype) / np.sqrt(fan_in)
    for _, table in TIED:  # a tied embedding is also the softmax: its scale, 1/√width
        params[table] = params[table] / np.sqrt(shapes[table][0][1])
    return params


def draw_noise(key, T, B, dtype=jnp.float32):
    """Training-noise masks name -> (T, B, width), as rnnalg draws them: dropout 0 or 1/(1 − rate)
    fresh at every step; vdropout one such mask per sequence, the same at every step; zoneout
    1 (take the new value) or 0 (keep the previous one, probability rate)."""
    keys = jax.random.split(key, max(1, len(DROPOUT)))

    def keep(k, shape, rate):
        return (jax.random.uniform(k, shape) >= rate).astype(dtype)

    rules = {{
        "dropout": lambda k, width, rate: keep(k, (T, B, width), rate) / (1.0 - rate),
        "vdropout": lambda k, width, rate: jnp.broadcast_to(keep(k, (1, B, width), rate) / (1.0 - rate),
                                                            (T, B, width)),
        "zoneout": lambda k, width, rate: keep(k, (T, B, width), rate),
    }}
    return {{name: rules[op](k, width, rate) for k, (name, width, rate, op) in zip(keys, DROPOUT)}}


def apply(params, inputs, state=None, mask=None, noise=None, key=None):
    """inputs: name -> (T, B, W) ((T, B) ids for a token), or the one input's array
    -> (logits name -> (T, B, W), final state name -> (B, width))."""
    dt = params[PARAMS[0][0]].dtype
{apply}


def nll(params, batch, state=None, noise=None, key=None):
    """-> (NLL summed over units and unmasked positions, their count, final state)."""
    logits, final_state = apply(params, batch, state, batch.get("mask"), noise, key)
    dt = params[PARAMS[0][0]].dtype
    first = next(iter(logits.values()))
    mask = batch.get("mask")
    m = jnp.ones(first.shape[:2], dtype=dt) if mask is None else jnp.asarray(mask, dtype=dt)
    nll_sum = jnp.zeros((), dtype=dt)
{nll}
    return nll_sum, m.sum(), final_state


def loss(params, batch, state=None, noise=None, key=None, with_state=False):
    """Mean NLL per unmasked position (rnnalg's loss); with_state: (loss, final state), for has_aux."""
    nll_sum, count, final_state = nll(params, batch, state, noise, key)
    value = nll_sum / jnp.maximum(count, 1.0)
    return (value, final_state) if with_state else value


def evaluate(params, batch, state=None):
    """-> (nll_sum, count, final_state) without dropout, as rnnalg's evaluate."""
    return nll(params, batch, state)


def step(params, x_t, state=None):
    """One step: x_t (B, W) or (B,) ids (or a dict by input) -> (probabilities by output, next state)."""
    inputs = x_t if isinstance(x_t, dict) else {{INPUTS[0][0]: x_t}}
    steps = {{k: jnp.asarray(v) if k in STATIC else jnp.asarray(v)[None] for k, v in inputs.items()}}
    logits, next_state = apply(params, steps, state)
    return probabilities({{k: v[0] for k, v in logits.items()}}), next_state


def probabilities(logits):
    """Each output's link: sigmoid (binary), softmax (token), identity (real)."""
    out = {{}}
{links}
    return out


def load_params(path):
    """rnnalg name -> array from the .npz `rnnalg export --checkpoint` writes."""
    with np.load(path, allow_pickle=False) as arrays:
        return {{name: jnp.asarray(arrays[name]) for name, _, _ in PARAMS}}
'''
