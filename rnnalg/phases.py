"""Split a program by its dependence on the recurrent state (DESIGN §2).

* pre  — depends only on inputs: runs for all T·B positions at once;
* scan — depends on a previous state and feeds some next state: runs step by step;
* post — reads states but feeds no next state (predict, deep output): all steps at once.

Inputs are `pre`; previous states and next states are `scan` (a next state that reads
only inputs, `h' = tanh(x)`, is still `scan`: at a padded step it keeps h_{t-1}).
"""
from __future__ import annotations

from .ir import Program

PRE, SCAN, POST = "pre", "scan", "post"


def phases(program: Program) -> dict:
    """Map every var name (inputs, previous states, eqn outputs) to its phase."""
    # a next state is stateful even if it reads only inputs: a padded step keeps h_{t-1}
    stateful = {s.prev.name for s in program.states} | {s.next.name for s in program.states}
    for e in program.eqns:  # topological order: one forward sweep suffices
        if any(a.name in stateful for a in e.args):
            stateful.add(e.out.name)
    feeds_next = {s.next.name for s in program.states}
    for e in reversed(program.eqns):
        if e.out.name in feeds_next:
            feeds_next.update(a.name for a in e.args)
    result = {v.name: PRE for v in program.inputs}
    result.update({s.prev.name: SCAN for s in program.states})
    for e in program.eqns:
        name = e.out.name
        if name not in stateful:
            result[name] = PRE
        else:
            result[name] = SCAN if name in feeds_next else POST
    return result


def static_values(static_inputs, eqns) -> set:
    """Static input names plus every eqn output computed from them alone (eqns in topological
    order): values with one value per sequence, computed once in the pre phase."""
    static = set(static_inputs)
    for e in eqns:
        if e.args and all(a.name in static for a in e.args):
            static.add(e.out.name)
    return static


def input_projections(program: Program) -> list:
    """(eqn, arg, param) of the terms `arg @ param` of scan and post affines whose operand is
    known before the scan: the lowering computes them in the pre phase, all steps at once."""
    phase = phases(program)
    return [(e, a, w) for e in program.eqns if e.op == "affine" and phase[e.out.name] != PRE
            for a, w in zip(e.args, e.params) if phase[a.name] == PRE]
