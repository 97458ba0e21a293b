"""`rnnalg export --to torch`: one readable Python file that needs only torch.

The file defines `PARAM_NAMES` (rnnalg parameter name -> `nn.Parameter` attribute; invert the
dict to go back) and `class Model(torch.nn.Module)`:

    Model(params=None)            params: rnnalg's arrays by name (None: rnnalg's gaussian init)
    model(x, state, mask)         -> (logits by output name (T, B, W), final state by state name)
    model.loss(batch)             the loss of rnnalg's `loss_and_grad` (mean NLL per unmasked position)
    model.step(x_t, state)        -> (probabilities, next state): one step, for sampling

The statements come from the shared walk (walk.py) and the rule tables below; the scan is a
Python loop over t (autograd records it); dropout is on in `model.train()` mode.
"""
from __future__ import annotations

from pathlib import Path

from ..lower.module_text import spec_header
from .walk import Rules, Walk, array_tables, indent, param_attributes, tables
from .writing import write_all

# the functions torch spells the activations with (walk.array_tables: every other row is shared)
ACTIVATIONS = {"tanh": "torch.tanh", "sigmoid": "torch.sigmoid", "relu": "torch.relu"}

RULES = Rules(
    target="torch", **array_tables("torch", ACTIVATIONS, softmax="torch.softmax({}, dim=-1)"),
    step_ref=lambda ident: f"{ident}[t]",
    step_noise=lambda name: f"noise[{name!r}][t]",
    mask_update=lambda nxt, prev: (f"if masked:  # a padded step keeps its state\n"
                                   f"    {nxt} = {prev} + mk[t] * ({nxt} - {prev})"),
)


def torch_source(program) -> str:
    """The text of the torch module for `program`."""
    walk = Walk(program)
    code = walk.code(RULES)
    body = [f"params[{tied!r}] = params[{source!r}].T  # tied: the embedding's transpose"
            for tied, source in program.ties]
    sequence = [v for v in program.inputs if v.name not in program.static_inputs]
    static = [v for v in program.inputs if v.name in program.static_inputs]
    for v in sequence + static:
        kind = "torch.long" if v.kind == "token" else "dt"
        body.append(f"{walk.ident(v.name)} = torch.as_tensor(inputs[{v.name!r}], dtype={kind}, device=dev)")
        if v in static:  # one value per sequence (B, ...): the same at every step
            body.append(f"{walk.ident(v.name)} = {walk.ident(v.name)}[None].expand(T, *{walk.ident(v.name)}.shape)")
        if v is sequence[0]:
            body.append(f"T, B = {walk.ident(v.name)}.shape[:2]")
    body += ["masked = mask is not None",
             "mk = torch.as_tensor(mask, dtype=dt, device=dev)[:, :, None] if masked else None",
             "if noise is None and (self.training if dropout is None else dropout):",
             "    noise = self.draw_noise(T, B)",
             "elif noise is not None:",
             "    noise = {k: torch.as_tensor(v, dtype=dt, device=dev) for k, v in noise.items()}",
             "# -- pre: everything that depends only on the inputs, all steps at once"]
    body += code.pre or ["pass"]
    if program.states:
        body.append("# -- scan: only the state-dependent terms, step by step")
        for s in program.states:
            body.append(f"{walk.ident(s.prev.name)} = torch.zeros(B, {s.prev.width}, dtype=dt, device=dev) "
                        f"if state is None else torch.as_tensor(state[{s.prev.name!r}], dtype=dt, device=dev)")
        body.append("steps = {" + ", ".join(f"{ident!r}: []" for ident, _ in code.stacked) + "}")
        body.append("for t in range(T):")
        loop = list(code.scan) + [f"steps[{ident!r}].append({ident})" for ident, _ in code.stacked]
        prevs = [walk.ident(s.prev.name) for s in program.states]
        nexts = [walk.ident(s.next.name) for s in program.states]
        loop.append(f"{', '.join(prevs)} = {', '.join(nexts)}")
        body.append(indent(loop, 1))
        body.append("final_state = {" + ", ".join(f"{s.prev.name!r}: {walk.ident(s.prev.name)}"
                                                  for s in program.states) + "}")
        body += [f"{ident} = torch.stack(steps[{ident!r}])" for ident, _ in code.stacked]
    else:
        body.append("final_state = {}")
    body.append("# -- post: reads the states, feeds none back; all steps at once")
    body += code.post
    logits = "{" + ", ".join(f"{out.name!r}: {ident}" for out, ident in code.heads) + "}"
    body.append(f"return {logits}, final_state")
    kinds = {out.name: "torch.long" if out.kind == "token" else "dt" for out, _ in code.heads}
    nll = [f"if {out.name!r} in batch:\n"
           f"    target = torch.as_tensor(batch[{out.name!r}], dtype={kinds[out.name]}, device=dev)\n"
           f"    nll_sum = nll_sum + ({RULES.losses[out.kind](f'logits[{out.name!r}]', 'target')} * m).sum()"
           for out, _ in code.heads]
    links = [f"out[{out.name!r}] = {RULES.links[out.kind](f'logits[{out.name!r}]')}" for out, _ in code.heads]
    return _MODULE.format(
        file=str(program.file), header=spec_header(program), names=_names(program), **tables(program),
        run=indent(body, 2), nll=indent(nll, 2), links=indent(links, 1))


def _names(program) -> str:
    return "{\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in param_attributes(program).items()) + "}"


def export_torch(program, path, params=None) -> list:
    """Write the torch module to `path`; with `params` also `<path stem>.pt`, a state_dict
    (attribute names, torch.save) that the module's `load()` reads.  -> the paths written."""
    path = Path(path)
    files = {path: torch_source(program)}
    if params is not None:  # made before anything is written: without torch, no module is left alone
        files[path.with_suffix(".pt")] = _state_dict_bytes(program, params)
    return write_all(files)


def _state_dict_bytes(program, params) -> bytes:
    from .writing import require_framework

    torch = require_framework("torch", "export-torch", "write the parameters as a state_dict")
    import io

    names = param_attributes(program)
    state = {names[p.name]: torch.as_tensor(params[p.name]).detach().clone() for p in program.params}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


_MODULE = '''\
"""rnnalg model exported from {file} for PyTorch. Generated code: needs only torch.

    model = Model()                          # rnnalg's init; Model(params) takes rnnalg's arrays by name
    loss = model.loss({{"x": xs, "y": ys, "mask": mask}})   # time-major (T, B, ...); loss.backward()
    logits, final_state = model(xs, state)   # logits of each output (T, B, W); states by name
    probs, state = model.step(x_t, state)    # one step (B, ...), for sampling
    model = load("model.pt")                 # the parameters `rnnalg export --checkpoint` wrote

Arrays are time-major (T, B, D); a `token` input or target is (T, B) integers; mask (T, B) is
optional (a padded step keeps its state).  The loss is rnnalg's: the NLL summed over the output
units, averaged over unmasked positions.  Parameters are attributes named by PARAM_NAMES
(rnnalg name -> attribute); a dense weight is (in, out) and applied as `a @ W`.  Dropout is on
in training mode (`model.train()`, the default of a Module), off after `model.eval()`.
"""
# The spec:
{header}
import math

import torch
import torch.nn.functional as F

LP_EPS = 1e-6  # L_p pooling: y = (ε^p + mean_k |a|^p)^(1/p) − ε
LN_EPS = 1e-5  # layer norm: n = (a − μ) / √(σ² + ε)

# (name, shape, role): a dense weight is (in, out), an embedding (V, out), a bias (out,)
PARAMS = {params}
# rnnalg parameter name -> attribute of Model (reversible: {{v: k for k, v in PARAM_NAMES.items()}})
PARAM_NAMES = {names}
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
    return _groups(a, k).max(dim=-1).values


def _lp(a, p, k):
    """(ε^p + mean_k |a|^p)^(1/p) − ε as m (ε^p/m^p + mean_k |a/m|^p)^(1/p) − ε, m = max(ε, max_k |a|)
    held constant (the value does not depend on m; no power of a number above 1)."""
    ga = _groups(a, k).abs()
    m = ga.amax(dim=-1).detach().clamp(min=LP_EPS)
    s = (LP_EPS / m) ** p + ((ga / m[..., None]) ** p).mean(dim=-1)
    return m * s ** (1.0 / p) - LP_EPS


def _layernorm(a, gain, bias):
    """gain ⊙ (a − μ) / √(σ² + ε) + bias, μ and σ² over the units of each position."""
    d = a - a.mean(dim=-1, keepdim=True)
    return gain * d / torch.sqrt((d * d).mean(dim=-1, keepdim=True) + LN_EPS) + bias


def _bernoulli_nll(a, y):
    """Σ_units softplus(a) − a·y: (T, B, W) -> (T, B)."""
    return F.binary_cross_entropy_with_logits(a, y, reduction="none").sum(dim=-1)


def _token_nll(a, y):
    """−log softmax(a)[y]: logits (T, B, V), ids (T, B) -> (T, B)."""
    return torch.logsumexp(a, dim=-1) - a.gather(-1, y.unsqueeze(-1)).squeeze(-1)


def _squared_error(a, y):
    return 0.5 * ((a - y) ** 2).sum(dim=-1)


def init_params(generator=None, dtype=torch.float32):
    """rnnalg's gaussian init: each ⊕ one matrix over its operands, N(0, 1/F) with F the sum of
    its dense widths plus 1 per token operand; biases zero.  -> rnnalg name -> tensor."""
    shapes = {{name: (shape, role) for name, shape, role in PARAMS}}
    params = {{name: torch.zeros(shape, dtype=dtype) for name, (shape, role) in shapes.items() if role == "bias"}}
    params.update({{name: torch.ones(shape, dtype=dtype) for name, (shape, role) in shapes.items() if role == "gain"}})
    for _, names in SUMMARIES:
        fan_in = sum(shapes[n][0][0] if shapes[n][1] == "weight" else 1 for n in names)
        for n in names:
            params[n] = torch.randn(shapes[n][0], generator=generator, dtype=dtype) / math.sqrt(fan_in)
    for _, table in TIED:  # a tied embedding is also the softmax: its scale, 1/√width
        params[table] = params[table] / math.sqrt(shapes[table][0][1])
    return params


class Model(torch.nn.Module):
    """The spec as an nn.Module; parameters named by PARAM_NAMES."""

    def __init__(self, params=None, dtype=None, device=None, generator=None):
        super().__init__()
        if params is None:
            params = init_params(generator, dtype or torch.float32)
        for name, shape, role in PARAMS:
            if name not in params:
                raise KeyError(f"params has no array {{name!r}} (needs: {{', '.join(PARAM_NAMES)}})")
            value = torch.as_tensor(params[name]).detach().clone()
            if tuple(value.shape) != tuple(shape):
                raise ValueError(f"params[{{name!r}}] has shape {{tuple(value.shape)}}, expected {{tuple(shape)}}")
            if dtype is not None or not value.is_floating_point():
                value = value.to(dtype or torch.float32)
            self.register_parameter(PARAM_NAMES[name], torch.nn.Parameter(value.to(device)))

    def rnnalg_params(self):
        """rnnalg name -> parameter (the same tensors as the attributes)."""
        return {{name: getattr(self, attr) for name, attr in PARAM_NAMES.items()}}

    def draw_noise(self, T, B, generator=None):
        """Training-noise masks name -> (T, B, width), as rnnalg draws them: dropout 0 or 1/(1 − rate)
        fresh at every step; vdropout one such mask per sequence, the same at every step; zoneout
        1 (take the new value) or 0 (keep the previous one, probability rate)."""
        first = next(self.parameters())

        def keep(shape, rate):
            return (torch.rand(shape, generator=generator, device=first.device) >= rate).to(first.dtype)

        rules = {{
            "dropout": lambda width, rate: keep((T, B, width), rate) / (1.0 - rate),
            "vdropout": lambda width, rate: (keep((1, B, width), rate) / (1.0 - rate)).expand(T, B, width),
            "zoneout": lambda width, rate: keep((T, B, width), rate),
        }}
        return {{name: rules[op](width, rate) for name, width, rate, op in DROPOUT}}

    def run(self, inputs, state=None, mask=None, noise=None, dropout=None):
        """inputs name -> (T, B, W) ((T, B) ids for a token) -> (logits name -> (T, B, W), final state).
        noise: dropout masks (draw_noise); None draws them when dropout (default: self.training)."""
        params = self.rnnalg_params()
        first = next(iter(params.values()))
        dt, dev = first.dtype, first.device
{run}

    def forward(self, x, state=None, mask=None, noise=None):
        """x: the input (T, B, W) (or a dict name -> array when the spec has several)."""
        inputs = x if isinstance(x, dict) else {{INPUTS[0][0]: x}}
        return self.run(inputs, state, mask, noise)

    def nll(self, batch, state=None, noise=None, dropout=None):
        """-> (NLL summed over units and unmasked positions, their count, final state)."""
        logits, final_state = self.run(batch, state, batch.get("mask"), noise, dropout)
        first = next(iter(logits.values()))
        dt, dev = first.dtype, first.device
        mask = batch.get("mask")
        m = (torch.ones(first.shape[:2], dtype=dt, device=dev) if mask is None
             else torch.as_tensor(mask, dtype=dt, device=dev))
        nll_sum = torch.zeros((), dtype=dt, device=dev)
{nll}
        return nll_sum, m.sum(), final_state

    def loss(self, batch, state=None, noise=None, with_state=False):
        """Mean NLL per unmasked position (rnnalg's loss); with_state: (loss, final state)."""
        nll_sum, count, final_state = self.nll(batch, state, noise)
        loss = nll_sum / count.clamp(min=1.0)
        return (loss, final_state) if with_state else loss

    def evaluate(self, batch, state=None):
        """-> (nll_sum, count, final_state) without dropout or gradients, as rnnalg's evaluate."""
        with torch.no_grad():
            return self.nll(batch, state, None, dropout=False)

    def step(self, x_t, state=None):
        """One step: x_t (B, W) or (B,) ids (or a dict) -> (probabilities by output, next state)."""
        inputs = x_t if isinstance(x_t, dict) else {{INPUTS[0][0]: x_t}}
        steps = {{k: torch.as_tensor(v) if k in STATIC else torch.as_tensor(v)[None] for k, v in inputs.items()}}
        logits, next_state = self.run(steps, state, dropout=False)
        return probabilities({{k: v[0] for k, v in logits.items()}}), next_state


def probabilities(logits):
    """Each output's link: sigmoid (binary), softmax (token), identity (real)."""
    out = {{}}
{links}
    return out


def load(path, map_location=None):
    """A Model with the parameters of a state_dict file (attribute names; `rnnalg export --checkpoint`)."""
    state = torch.load(path, map_location=map_location, weights_only=True)
    return Model({{name: state[attr] for name, attr in PARAM_NAMES.items()}})
'''
