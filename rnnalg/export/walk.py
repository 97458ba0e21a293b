"""The IR walk every framework target shares: which values run where, and their statements.

A target (torch_.py, jax_.py) gives a `Rules` object of rule tables that spell one op in its
framework; `Walk.code(rules)` returns the statements of the three phases (DESIGN §2):

    pre   all steps at once (T, B, W): values of the inputs alone, and the input part of every
          scan affine, `P_a = b + Σ_inputs x W` (one large product, as the numpy lowering does)
    scan  one step: `a_t = P_a[t] + Σ_states h W`, the ops, and the masked state update
          h' = h + m_t (h' − h) (a padded step keeps its state)
    post  all steps at once, over the stacked scan values the post phase and the heads read

Names: every value gets one Python identifier (`h'` -> `h_next`); parameters are read as
`params["h'.W_x"]`, a dict keyed by rnnalg's own names.  An op a target cannot spell is a
`UsageError` naming the op, the target and the spec line.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UsageError
from ..ir import Program
from ..lower.module_text import layout_tables
from ..lower.plan import Namer
from ..lower.rules import RuleTable, forward_rules
from ..phases import PRE, SCAN, phases


# names the generated code binds itself: no value of a spec is given one of them
GENERATED_NAMES = {"torch", "F", "jax", "jnp", "lax", "self", "xs", "ys", "carry", "mask", "inputs",
                   "outputs", "targets", "target", "out", "key", "keys", "dev", "hs", "steps", "first", "dropout",
                   "body", "math", "name", "value", "tied", "source",
                   "LP_EPS", "LN_EPS", "TIED", "STATIC", "PARAMS", "PARAM_NAMES", "STATES", "INPUTS", "HEADS",
                   "DROPOUT", "SUMMARIES"}


# the rows every array-language target (torch, jax) spells as the numpy lowering does (its
# forward_rules, read with the mask variable `noise`); maxout's helper is `_maxout` here.  The
# helpers `_maxout`, `_lp`, `_layernorm`, `_bernoulli_nll`, `_token_nll`, `_squared_error` are
# defined in each generated file
SHARED_OPS = {
    **{op: forward_rules[op] for op in ("linear", "lp", "dropout", "vdropout", "zoneout", "layernorm",
                                        "mul", "add", "sub", "scale", "shift")},
    "maxout": lambda s: f"_maxout({s.a}, {s.attrs['k']})",
}
# a ⊕ operand by the role of its parameter: a dense product, or an embedding row lookup
SHARED_TERMS = {
    "weight": lambda a, w: f"{a} @ {w}",
    "embedding": lambda a, w: f"{w}[{a}]",
    "tied": lambda a, w: f"{a} @ {w}",  # the embedding's transpose, bound in the params dict (TIED)
}
SHARED_LOSSES = {
    "binary": lambda a, y: f"_bernoulli_nll({a}, {y})",
    "token": lambda a, y: f"_token_nll({a}, {y})",
    "real": lambda a, y: f"_squared_error({a}, {y})",
}


def array_tables(target: str, activations: dict, softmax: str) -> dict:
    """The op, term, loss and link tables of an array-language target (torch, jax), which differ
    only in the functions they call: `activations` tanh, sigmoid, relu -> the function's name,
    `softmax` the last axis's softmax with {} for its argument.  -> Rules' keyword arguments."""
    call = {op: (lambda f: lambda s: f"{f}({s.a})")(f) for op, f in activations.items()}
    return dict(ops=RuleTable(f"{target} op_rules", {**call, **SHARED_OPS}),
                terms=RuleTable(f"{target} term_rules", SHARED_TERMS),
                losses=RuleTable(f"{target} loss_rules", SHARED_LOSSES),
                links=RuleTable(f"{target} link_rules", {"binary": lambda a: f"{activations['sigmoid']}({a})",
                                                         "token": lambda a: softmax.format(a),
                                                         "real": lambda a: a}))


@dataclass(frozen=True)
class Site:
    """One op application: argument expressions a (and b), static attrs, the dropout mask; the
    fields lower.rules.Site's forward_rules read are spelt as there, so SHARED_OPS are its rows."""

    a: str = ""
    b: str = ""
    attrs: dict = field(default_factory=dict)
    mask: str = ""  # the dropout mask of this position(s), e.g. noise['o'] or noise['o'][t]
    params: tuple = ()  # the expressions of the op's own parameters (layernorm: gain, bias)
    mask_var: str = "noise"  # the whole masks' variable (None in eval), as lower.rules.Site's


@dataclass
class Rules:
    """A target's spelling of the IR; each table is a `lower.rules.RuleTable` or a dict."""

    target: str
    ops: dict  # op -> (Site -> expression)
    terms: dict  # param role ('weight' | 'embedding') -> (operand, param) -> expression
    losses: dict  # output kind -> (logits, targets) -> per-position NLL (T, B)
    links: dict  # output kind -> logits -> probabilities (or the real value)
    step_ref: object  # identifier of a pre value -> its expression at step t inside the scan
    step_noise: object  # value name -> expression of its dropout mask at step t
    mask_update: object  # (next-state identifier, previous-state identifier) -> statement


@dataclass
class Code:
    """The statements of one program for one target, phase by phase (unindented)."""

    pre: list
    scan: list
    post: list
    step_inputs: list  # identifiers of the pre arrays the scan reads at step t
    stacked: list  # (identifier, var name) of scan values the post phase and heads read
    heads: list  # (output Var, logits identifier)


class Walk:
    """Analysis of one program: phases, identifiers, the affines' input parts."""

    def __init__(self, program: Program):
        self.program = program
        self.phase = phases(program)
        self.name = Namer()
        self.name.taken |= GENERATED_NAMES
        self.prev_of = {s.next.name: s.prev.name for s in program.states}

    def ident(self, name: str) -> str:
        """The Python identifier of a value."""
        return self.name("", name)

    def pre_part(self, name: str) -> str:
        """The identifier of a scan affine's pre-computed `b + Σ_inputs x W` (T, B, W)."""
        return self.name("P_", name)

    def _is_pre(self, name):
        return self.phase[name] == PRE

    def code(self, rules: Rules) -> Code:
        prog = self.program
        pre, scan, post = [], [], []
        step_inputs = []

        def step_value(name):
            if self._is_pre(name):
                ident = self.ident(name)
                if ident not in step_inputs:
                    step_inputs.append(ident)
                return rules.step_ref(ident)
            return self.ident(name)

        for e in prog.eqns:
            where = self.phase[e.out.name]
            out = self.ident(e.out.name)
            if where == PRE:
                pre.append(f"{out} = {self._expr(e, rules, self.ident, stacked=True)}")
            elif where == SCAN:
                if e.op == "affine" and any(self._is_pre(a.name) for a in e.args):
                    part = self.pre_part(e.out.name)
                    pre.append(f"{part} = {self._affine(e, rules, self.ident, only=self._is_pre)}")
                    if part not in step_inputs:
                        step_inputs.append(part)
                    rest = self._affine(e, rules, self.ident, only=lambda n: not self._is_pre(n), bias=False)
                    expr = rules.step_ref(part) + (f" + {rest}" if rest else "")
                else:
                    expr = self._expr(e, rules, step_value, stacked=False)
                scan.append(f"{out} = {expr}")
                if e.out.name in self.prev_of:
                    scan.append(rules.mask_update(out, self.ident(self.prev_of[e.out.name])))
            else:
                post.append(f"{out} = {self._expr(e, rules, self.ident, stacked=True)}")
        read_after = [a.name for e in prog.eqns if self.phase[e.out.name] not in (PRE, SCAN) for a in e.args]
        read_after += [h.logits.name for h in prog.heads]
        stacked = []
        for name in read_after:
            if self.phase[name] == SCAN and (self.ident(name), name) not in stacked:
                stacked.append((self.ident(name), name))
        heads = [(h.output, self.ident(h.logits.name)) for h in prog.heads]
        return Code(pre, scan, post, step_inputs, stacked, heads)

    def _expr(self, e, rules, value, stacked):
        if e.op == "affine":
            return self._affine(e, rules, value)
        rule = self._rule(rules, e)
        args = [value(a.name) for a in e.args] + [""]
        noise = f"noise[{e.out.name!r}]" if stacked else rules.step_noise(e.out.name)
        own = tuple(f"params[{p!r}]" for p in e.params)
        return rule(Site(a=args[0], b=args[1], attrs=dict(e.attrs), mask=noise, params=own))

    def _affine(self, e, rules, value, only=lambda name: True, bias=True):
        """`b + Σ a W` over the operands `only` admits (without b when bias is False)."""
        terms = [f"params[{e.params[-1]!r}]"] if bias else []
        for a, w in zip(e.args, e.params):
            if only(a.name):
                role = self.program.param(w).role
                terms.append(rules.terms[role](value(a.name), f"params[{w!r}]"))
        return " + ".join(terms)

    def _rule(self, rules, e):
        if e.op not in rules.ops:
            where = f"{e.span}: " if e.span else ""
            raise UsageError(f"{where}export --to {rules.target}: the op {e.op!r} (of {e.out.name!r}) "
                             f"has no rule for {rules.target}")
        return rules.ops[e.op]


def param_attributes(program: Program) -> dict:
    """rnnalg parameter name -> a unique Python attribute name (`h'.W_x` -> `h_next_W_x`)."""
    namer = Namer()
    return {p.name: namer("", p.name) for p in program.params}


def tables(program: Program) -> dict:
    """The layout tables a generated module starts with (the numpy module's: lower/module_text.py),
    and STATIC, the static inputs' names."""
    return dict(layout_tables(program), static=repr(tuple(program.static_inputs)))


def first_sequence_input(program: Program):
    """The first input that is not static: its (T, B) gives the batch's shape."""
    return next(v for v in program.inputs if v.name not in program.static_inputs)


def indent(lines, depth: int) -> str:
    """Statements (a rule's text may hold several lines) indented by `depth` levels."""
    return "\n".join(("    " * depth + line).rstrip() for text in lines for line in text.split("\n"))
