"""Rule tables of the numpy lowering: one row per op (or output kind) and interpretation.

Each rule returns Python source text; the names it receives are already valid
identifiers.  A `Site` carries the names one op application reads and writes:

    a      — the argument             out  — the result
    b      — the second argument of a two-argument op (mul, add, sub)
    g      — d loss / d out           attrs — static arguments (k, p, rate, c)
    mask   — the dropout mask for this position, `mask_var` the whole mask (None in eval)
    params — the arrays of the parameters the op owns (layernorm: gain, bias)

`affine` is not in these tables: it is the structural op the planner splits across
phases (pre-part over all steps, state part per step) in `emit.py`.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class RuleTable(dict):
    """A dict whose missing key names the op and the table."""

    def __init__(self, table_name, rules):
        super().__init__(rules)
        self.table_name = table_name

    def __missing__(self, op):
        raise NotImplementedError(f"op {op!r} has no rule in table {self.table_name!r}")


@dataclass(frozen=True)
class Site:
    a: str = ""
    b: str = ""
    out: str = ""
    g: str = ""
    mask: str = ""
    mask_var: str = ""
    attrs: dict = field(default_factory=dict)
    params: tuple = ()


# out = f(a)
forward_rules = RuleTable("forward_rules", {
    "tanh": lambda s: f"np.tanh({s.a})",
    "sigmoid": lambda s: f"_sigmoid({s.a})",
    "relu": lambda s: f"np.maximum({s.a}, 0)",
    "linear": lambda s: s.a,
    "maxout": lambda s: f"_group_max({s.a}, {s.attrs['k']})",
    "lp": lambda s: f"_lp({s.a}, {s.attrs['p']!r}, {s.attrs['k']})",
    "dropout": lambda s: f"{s.a} if {s.mask_var} is None else {s.a} * {s.mask}",
    "vdropout": lambda s: f"{s.a} if {s.mask_var} is None else {s.a} * {s.mask}",
    # zoneout(new a, previous b): mask = 1 where the unit takes its new value; eval: the expectation
    "zoneout": lambda s: (f"({s.b} + ({s.a} - {s.b}) * {1 - s.attrs['rate']!r}) if {s.mask_var} is None "
                          f"else ({s.b} + ({s.a} - {s.b}) * {s.mask})"),
    "layernorm": lambda s: f"_layernorm({s.a}, {s.params[0]}, {s.params[1]})",
    "mul": lambda s: f"{s.a} * {s.b}",
    "add": lambda s: f"{s.a} + {s.b}",
    "sub": lambda s: f"{s.a} - {s.b}",
    "scale": lambda s: f"{s.attrs['c']!r} * {s.a}",
    "shift": lambda s: f"{s.a} + {s.attrs['c']!r}",
})

# d loss / d a, given g = d loss / d out
vjp_rules = RuleTable("vjp_rules", {
    "tanh": lambda s: f"_tanh_grad({s.g}, {s.out})",
    "sigmoid": lambda s: f"{s.g} * {s.out} * (1 - {s.out})",
    "relu": lambda s: f"{s.g} * ({s.out} > 0)",
    "linear": lambda s: s.g,
    "maxout": lambda s: f"_maxout_grad({s.a}, {s.g}, {s.attrs['k']})",
    "lp": lambda s: f"_lp_grad({s.a}, {s.g}, {s.attrs['p']!r}, {s.attrs['k']})",
    "dropout": lambda s: f"{s.g} if {s.mask_var} is None else {s.g} * {s.mask}",
    "vdropout": lambda s: f"{s.g} if {s.mask_var} is None else {s.g} * {s.mask}",
    "zoneout": lambda s: f"({s.g} * {1 - s.attrs['rate']!r}) if {s.mask_var} is None else ({s.g} * {s.mask})",
    "layernorm": lambda s: f"_layernorm_grad({s.a}, {s.g}, {s.params[0]})",
    "mul": lambda s: f"{s.g} * {s.b}",
    "add": lambda s: s.g,
    "sub": lambda s: s.g,
    "scale": lambda s: f"{s.attrs['c']!r} * {s.g}",
    "shift": lambda s: s.g,
})

# d loss / d b, the second argument of a two-argument op, given g = d loss / d out
vjp_b_rules = RuleTable("vjp_b_rules", {
    "zoneout": lambda s: f"({s.g} * {s.attrs['rate']!r}) if {s.mask_var} is None else ({s.g} * (1 - {s.mask}))",
    "mul": lambda s: f"{s.g} * {s.a}",
    "add": lambda s: s.g,
    "sub": lambda s: f"-{s.g}",
})

# d loss / d (each parameter the op owns), from the stacked argument `a` and output grads `g`
# (T, B, W) of all steps: a sum over (T, B).  In the scan, `g` is the op's G buffer, filled
# row by row by the reverse scan.
param_vjp_rules = RuleTable("param_vjp_rules", {
    "layernorm": lambda s: (f"_layernorm_gain_grad({s.a}, {s.g})", f"_bias_grad({s.g})"),
})

# out = f(a) written straight into a buffer row `s.out` (a view), saving a temporary and a copy;
# a rule may be several statements, one per line; `out` is positional (numba takes no `out=`)
into_rules = RuleTable("into_rules", {
    "tanh": lambda s: f"np.tanh({s.a}, {s.out})",
    "sigmoid": lambda s: (f"np.multiply({s.a}, 0.5, {s.out})\nnp.tanh({s.out}, {s.out})\n"
                          f"{s.out} *= 0.5\n{s.out} += 0.5"),  # σ(a) = ½ tanh(a/2) + ½ in place
    "relu": lambda s: f"_relu_into({s.a}, {s.out})",
    "mul": lambda s: f"np.multiply({s.a}, {s.b}, {s.out})",
    "add": lambda s: f"np.add({s.a}, {s.b}, {s.out})",
})

# f'(a) as a function of out = f(a), for the ops whose VJP is g * f'(a).  Where it is + − * of
# `out` (step_deriv_rules), the reverse step computes it from step t's stored out, where it is
# used: an elementwise function the fast backend fuses into the step's loop (fusion.DERIVS), not
# a pass of its own over a time block.  The others (deriv_rules) are computed for a whole time
# block after the forward scan.
step_deriv_rules = RuleTable("step_deriv_rules", {
    "tanh": lambda s: f"_tanh_deriv({s.out})",
    "sigmoid": lambda s: f"_sigmoid_deriv({s.out})",
})
deriv_rules = RuleTable("deriv_rules", {
    "relu": lambda s: f"({s.out} > 0).astype(dt)",
})

# which forward values a VJP reads: they are kept for every step during BPTT
saved_rules = RuleTable("saved_rules", {
    "tanh": ("out",), "sigmoid": ("out",), "relu": ("out",), "linear": (),
    "maxout": ("a",), "lp": ("a",), "dropout": (), "vdropout": (), "zoneout": (), "layernorm": ("a",),
    "mul": ("a", "b"), "add": (), "sub": (), "scale": (), "shift": (),
})


# Output kinds: (logits a, targets y, scale) -> lines binding `nll` (T, B), the per-position loss
# summed over units, and, when `scale` names the (T, B, 1) weights mask / count or the number 1 / count
# of an unmasked batch (it is "" in evaluation), `dlogits` = scale · d nll / d a (T, B, W) in dtype dt.  The logits of a head are the
# predict affine's own result, read by nothing else: a rule may overwrite them.
def _binary_loss(a, y, scale):
    # softplus(a) - a y with softplus(a) = max(a, 0) + log1p(exp(-|a|)) = max(a, 0) - log(max(σ, 1 - σ)),
    # and dlogits = (σ - y) · scale from the same tanh(a/2) (_binary_nll_grad)
    if scale:
        return [f"nll, dlogits = _binary_nll_grad({a}, {y}, {scale})"]
    return [f"nll = _binary_nll({a}, {y})"]


def _token_loss(a, y, scale):
    # one pass over the (T, B, V) logits, block by block, in place (see _token_nll_grad)
    if scale:
        return [f"nll, dlogits = _token_nll_grad({a}, {y}, {scale})"]
    return [f"nll = _token_nll({a}, {y})"]


def _real_loss(a, y, scale):
    return [f"nll = 0.5 * (({a} - {y}) ** 2).sum(axis=-1)"] + ([f"dlogits = ({a} - {y}) * {scale}"] if scale else [])


loss_rules = RuleTable("loss_rules", {"binary": _binary_loss, "token": _token_loss, "real": _real_loss})

# the predict link: logits -> what the output means (probabilities, or the real value)
link_rules = RuleTable("link_rules", {
    "binary": lambda a: f"_sigmoid({a})",
    "token": lambda a: f"np.exp(_log_softmax({a}))",
    "real": lambda a: a,
})
