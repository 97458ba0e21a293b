"""Prove from the IR that a state's update is linear in itself: h' = a ⊙ h + b, a and b free of
every state (minGRU, Feng et al. 2024: h' = (1 − z) ⊙ h + z ⊙ g with z, g from x only).

The proof walks the eqns that compute h' back to h and to pre values (phases.PRE: inputs only),
one rule per op (`LINEAR_RULES`): a form is (a, b) with a, b expressions over pre values and
numbers (`Expr`, None = 0).  `mul` is linear when one side is free of h; every other op that
reads h (tanh, an affine, dropout, …) ends the proof.  Such a state can run as an associative scan
over all T steps (log-depth, `prelude._linear_scan`, `parallel.py`) instead of the step loop; the
module picks one per call by size (`scan_choice.py`).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Program
from ..phases import PRE, phases


@dataclass(frozen=True)
class Expr:
    """op 'var' (name), 'num' (value), or 'mul' / 'add' / 'sub' of two Exprs."""

    op: str
    args: tuple = ()
    name: str = ""
    value: float = 0.0

    def code(self, value_of) -> str:
        """Python text; `value_of(name)` is the stacked array of a pre value."""
        if self.op == "var":
            return value_of(self.name)
        if self.op == "num":
            return repr(self.value)
        sign = {"mul": "*", "add": "+", "sub": "-"}[self.op]
        return f"({self.args[0].code(value_of)} {sign} {self.args[1].code(value_of)})"

    def __str__(self) -> str:
        return self.code(lambda n: n)


ONE = Expr("num", value=1.0)


def _num(c):
    return Expr("num", value=float(c))


def _mul(x, y):
    if x is None or y is None:
        return None
    if x == ONE:
        return y
    if y == ONE:
        return x
    return Expr("mul", (x, y))


def _add(x, y):
    if x is None:
        return y
    if y is None:
        return x
    return Expr("add", (x, y))


def _sub(x, y):
    if y is None:
        return x
    if x is None:
        return _mul(_num(-1.0), y)
    return Expr("sub", (x, y))


def _mul_rule(attrs, p, q):
    (a1, b1), (a2, b2) = p, q
    if a1 is not None and a2 is not None:
        return None  # h ⊙ h: not linear
    if a1 is None:  # p is free of h: p = b1
        return _mul(b1, a2), _mul(b1, b2)
    return _mul(a1, b2), _mul(b1, b2)


# op -> f(attrs, *forms of its args) -> the form of its result, or None (not linear)
LINEAR_RULES = {
    "linear": lambda at, p: p,
    "scale": lambda at, p: (_mul(_num(at["c"]), p[0]), _mul(_num(at["c"]), p[1])),
    "shift": lambda at, p: (p[0], _add(p[1], _num(at["c"]))),
    "add": lambda at, p, q: (_add(p[0], q[0]), _add(p[1], q[1])),
    "sub": lambda at, p, q: (_sub(p[0], q[0]), _sub(p[1], q[1])),
    "mul": _mul_rule,
}


@dataclass(frozen=True)
class LinearState:
    """h' = a ⊙ h + b: `chain` are the scan eqns from h (and pre values) to h', in order."""

    name: str  # the state h
    a: Expr | None
    b: Expr | None
    chain: tuple


def linear_state(program: Program, state, phase=None):
    """The LinearState of `state`, or None when its update is not proved linear in it."""
    phase = phase or phases(program)
    chain = []

    def form(name):
        if name == state.prev.name:
            return ONE, None
        if phase.get(name) == PRE:
            return None, Expr("var", name=name)
        e = program.producer(name)
        if e is None or e.op not in LINEAR_RULES:
            return None  # another state, or an op that is not linear
        args = [form(a.name) for a in e.args]
        if any(f is None for f in args):
            return None
        result = LINEAR_RULES[e.op](dict(e.attrs), *args)
        if result is not None and e not in chain:
            chain.append(e)
        return result

    found = form(state.next.name)
    if found is None:
        return None
    inside = {e.out.name for e in chain} - {state.next.name}
    for e in program.eqns:  # what the chain computes on the way is read by the chain only
        if e not in chain and any(a.name in inside for a in e.args):
            return None
    if any(h.logits.name in inside for h in program.heads):
        return None
    return LinearState(state.prev.name, found[0], found[1], tuple(chain))


def parallel_states(program: Program) -> dict:
    """state name -> LinearState when *every* state of the program is linear in itself and its
    chains are all the scan eqns (the program then has no step loop at all); else {}."""
    phase = phases(program)
    found = {s.prev.name: linear_state(program, s, phase) for s in program.states}
    if not found or any(v is None for v in found.values()):
        return {}
    in_chains = {e.out.name for v in found.values() for e in v.chain}
    scan = {e.out.name for e in program.eqns if phase[e.out.name] == "scan"}
    return found if scan == in_chains else {}


def describe(program: Program) -> list:
    """One line per state for `rnnalg compile`: 'h: linear in h, parallel scan or step loop by
    size' (the module picks per call, scan_choice.py) or why it keeps the step loop."""
    par = parallel_states(program)
    lines = []
    for s in program.states:
        name = s.prev.name
        if name in par:
            lines.append(f"{name}: linear in {name}, parallel scan or step loop by size (_use_scan)   "
                         f"({name}' = a ⊙ {name} + b, "
                         f"a = {par[name].a or 0}, b = {par[name].b or 0})")
        elif linear_state(program, s) is not None:
            lines.append(f"{name}: linear in {name}, step loop (another state is not linear)")
        else:
            lines.append(f"{name}: step loop")
    return lines
