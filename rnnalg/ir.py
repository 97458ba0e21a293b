"""The operator graph (IR): a few frozen records, produced only by the checker.

A `Program` is one time step of the network, flattened into equations in
topological order (in the style of a JAX jaxpr)::

    h'.a : 400 = affine(x, h)      params h'.W_x (88, 400), h'.W_h (400, 400), h'.b (400,)
    h'   : 400 = tanh(h'.a)
    y.a  : 88  = affine(h')        params y.W_h' (400, 88), y.b (88,)
    head y : binary[88] <- y.a     (sigmoid + Bernoulli NLL)

* A state `h` appears twice: `Var('h')` is h_{t-1}, `Var("h'")` is h_t (bound by an eqn).
* `affine` owns one parameter per argument, then the bias; a `token` argument's
  parameter is an embedding table (V, width) read by row lookup.
* `layernorm` owns a gain and a bias per unit (`<site>.ln.g`, role 'gain', and `<site>.ln.b`):
  out = g ⊙ (a − mean a) / √(var a + ε) + b over the units of one position (Ba et al. 2016).
* The training-only noise ops: `dropout[rate]` (a fresh mask per step), `vdropout[rate]` (one
  mask per sequence, the same at every step: Gal & Ghahramani 2016) and `zoneout[rate](new, h)`
  (each unit keeps h_{t-1} with probability rate in training, the expectation
  rate·h + (1 − rate)·new at evaluation: Krueger et al. 2017); their masks come from `noise`.
* Every other op (`tanh`, `sigmoid`, `relu`, `linear`, `maxout`, `lp`, `dropout`)
  owns no parameters; its static arguments live in `attrs`.
* The elementwise ops of two equal-width values: `mul` (a ⊙ b), `add` (a + b), `sub`
  (a − b); of one value and a number c: `scale[c]` (c·a) and `shift[c]` (a + c).
* Row-vector convention: a dense weight has shape (in, out) and is applied as `a @ W`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Span

KINDS = ("real", "binary", "token")
OPS = ("affine", "tanh", "sigmoid", "relu", "linear", "maxout", "lp", "dropout", "vdropout", "zoneout", "layernorm",
       "mul", "add", "sub", "scale", "shift")


def _span():
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Var:
    """A value of one time step: `width` units (a `token` is one integer below `width`)."""

    name: str
    width: int
    kind: str = "real"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Param:
    """A learned array; role is 'weight' (in, out), 'embedding' (V, out), 'bias' (out,) or
    'gain' (out,), a layernorm's per-unit scale (initialised to 1)."""

    name: str
    shape: tuple
    role: str

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class Eqn:
    """`out = op[attrs](*args)`, owning the parameters named in `params`."""

    out: Var
    op: str
    args: tuple
    params: tuple = ()
    attrs: tuple = ()  # ((name, value), ...), e.g. (('k', 2),) or (('p', 2.0), ('k', 3))
    span: Span | None = _span()

    def attr(self, name: str):
        for key, value in self.attrs:
            if key == name:
                return value
        raise KeyError(f"op {self.op!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Head:
    """A predicted output: `output` is the declared target, `logits` the var fed to its link.

    binary → sigmoid + Bernoulli NLL summed over units; token → softmax + categorical
    NLL; real → identity + squared error (½‖y − ŷ‖², Gaussian NLL up to a constant).
    """

    output: Var
    logits: Var
    span: Span | None = _span()


@dataclass(frozen=True)
class State:
    """A recurrent state: `prev` is h_{t-1} (Var 'h'), `next` is h_t (Var "h'")."""

    prev: Var
    next: Var
    span: Span | None = _span()


@dataclass(frozen=True)
class Program:
    """A checked spec: one step's equations in topological order."""

    inputs: tuple  # Var, in declaration order
    states: tuple  # State, in declaration order
    heads: tuple  # Head, in declaration order of the outputs
    eqns: tuple  # Eqn, topologically sorted
    params: tuple  # Param, in order of first use by eqns
    sizes: tuple = ()  # ((let name, value), ...) after `--set`
    ties: tuple = ()  # ((tied weight, embedding), ...): the weight is the embedding's transpose, not in params
    static_inputs: tuple = ()  # names of the inputs with one value per sequence: (B, D) in a batch
    file: str = field(default="<spec>", compare=False)
    text: str = field(default="", compare=False, repr=False)
    warnings: tuple = field(default=(), compare=False, repr=False)  # Diagnostic

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        for tied, source in self.ties:  # a tied weight: the transpose of an embedding, role 'tied'
            if tied == name:
                return Param(name, self.param(source).shape[::-1], "tied")
        raise KeyError(name)

    @property
    def param_count(self) -> int:
        return sum(p.size for p in self.params)

    def producer(self, name: str):
        """The eqn that binds `name`, or None for inputs and previous states."""
        for e in self.eqns:
            if e.out.name == name:
                return e
        return None
