"""Fusion groups of the scan: one step done in fewer, larger numpy calls.

A step of a gated cell is many small operations on (B, H) arrays, and at small B a numpy
call costs more than its arithmetic.  Three groupings (`find_groups`; `GroupEmitter` writes
their code for emit.py):

* `JointPre` — affines that read one scan value v and nothing else of the scan, and the same
  inputs (the four gates of an LSTM).  Their products with v are already one (`Plan.fan_out`);
  here their input terms and biases also become one (T, B, ΣW) array P, so a step is
  `joint = v @ [W_1 | W_2 | …]; joint += P[t]`, and each affine is a view of `joint`.
* folded shifts — `shift[c]` of such an affine, which nothing else reads, adds c to the
  affine's columns of P's bias and becomes an alias (the forget gate's +1 costs nothing).
* `Horizontal` — one function applied to adjacent affines of a group (σ of i, f and o) runs
  as one call over their columns, into side-by-side step buffers.
"""
from __future__ import annotations

from dataclasses import dataclass

from .rules import into_rules



@dataclass(frozen=True)
class JointPre:
    value: str  # the scan value all the affines read
    eqns: tuple  # the affines, in the column order of the joint product
    cols: tuple  # (start, end) of each affine's columns
    shifts: tuple  # the constant folded into each affine's bias (0.0: none)


@dataclass(frozen=True)
class Horizontal:
    op: str
    eqns: tuple  # the function applications, in column order
    group: JointPre
    cols: tuple  # (start, end) of their arguments' columns in the joint product


def readers(program) -> dict:
    """var name -> the eqns that read it (a head's logits and a next state count as read twice)."""
    found = {}
    for e in program.eqns:
        for a in e.args:
            found.setdefault(a.name, []).append(e)
    for extra in [h.logits.name for h in program.heads] + [s.next.name for s in program.states]:
        found.setdefault(extra, []).extend([None, None])
    return found


def find_groups(plan):
    """(joint-pre groups, {folded shift name: affine name}, horizontal groups) of `plan`."""
    read = readers(plan.program)
    groups, folded = [], {}
    for value, pairs in plan.fan_out().items():
        eqns = [e for e, _ in pairs]
        inputs = [[a.name for a, _ in plan.pre_args(e)] for e in eqns]
        if any(len(plan.state_args(e)) != 1 for e in eqns) or any(sorted(i) != sorted(inputs[0]) for i in inputs):
            continue
        cols, start, shifts = [], 0, []
        for e in eqns:
            cols.append((start, start + e.out.width))
            start += e.out.width
            shift = _sole_shift(e, read, plan)
            if shift is not None:
                folded[shift.out.name] = e.out.name
            shifts.append(shift.attr("c") if shift is not None else 0.0)
        groups.append(JointPre(value, tuple(eqns), tuple(cols), tuple(shifts)))
    return groups, folded, _horizontal(plan, groups, folded, read)


def _sole_shift(e, read, plan):
    users = read.get(e.out.name, [])
    if len(users) == 1 and users[0].op == "shift" and e.out.name not in plan.stored:
        return users[0]
    return None


def _horizontal(plan, groups, folded, read) -> list:
    found = []
    for g in groups:
        run = []  # (reader, cols) of consecutive columns with one function
        for e, cols in zip(g.eqns, g.cols):
            arg = next((s for s, a in folded.items() if a == e.out.name), e.out.name)
            users = read.get(arg, [])
            r = users[0] if len(users) == 1 else None
            ok = (r is not None and len(r.args) == 1 and r.op in into_rules and not r.attrs
                  and r.out.name in plan.stored
                  and r.out.name not in plan.next_of and plan.category[r.out.name] == "scan")
            if run and (not ok or r.op != run[-1][0].op):
                found += _close(run, g)
                run = []
            if ok:
                run.append((r, cols))
        found += _close(run, g)
    return found


def _close(run, g) -> list:
    if len(run) < 2:
        return []
    return [Horizontal(run[0][0].op, tuple(r for r, _ in run), g, (run[0][1][0], run[-1][1][1]))]


class GroupEmitter:
    """Methods of `Emitter` (emit.py) that write the code of the groups."""

    def _joint_pre(self, g, out):
        """P = [b_1 + c_1 | b_2 + c_2 | …] + Σ_inputs x @ [U_1 | U_2 | …], c a folded shift."""
        biases = [self.w(e.params[-1]) + (f" + {c!r}" if c else "") for e, c in zip(g.eqns, g.shifts)]
        terms = [f"np.concatenate([{', '.join(biases)}])"]
        for a, _ in self.p.pre_args(g.eqns[0]):
            weights = [self.w(e.params[e.args.index(a)]) for e in g.eqns]
            joint = self.Ujoint(g.value, a.name)
            out.add(f"{joint} = np.concatenate([{', '.join(weights)}], axis=1)")
            terms.append(self._input_term(a, joint, weight=joint))
        pre_args = self.p.pre_args(g.eqns[0])
        expr = " + ".join(terms)
        if pre_args and not all(a.name in self.p.static for a, _ in pre_args):  # no (T, B, W) temporary
            out.add(f"{self.Pjoint(g.value)} = np.empty((T, B, {g.cols[-1][1]}), dtype=dt)")
            pairs = ", ".join(f"({self.stacked(a.name)}, {self.Ujoint(g.value, a.name)})" for a, _ in pre_args)
            out.add(f"_affine_into({self.Pjoint(g.value)}, {terms[0]}, {pairs})")
            return
        if pre_args and all(a.name in self.p.static for a, _ in pre_args):  # once per sequence, over T
            expr = f"_over_steps({expr}, T)"
        out.add(f"{self.Pjoint(g.value)} = {expr}")

    def _horizontal_buffers(self, out):
        """The side-by-side step buffers of each Horizontal group, one view per member."""
        for h in self.horizontal:
            first = self.Sjoint(h.eqns[0].out.name)
            out.add(f"{first} = np.empty((T, B, {h.cols[1] - h.cols[0]}), dtype=dt)")
            start = 0
            for e in h.eqns:
                out.add(f"{self.S(e.out.name)} = {first}[:, :, {start}:{start + e.out.width}]")
                start += e.out.width

    def _horizontal_step(self, e, out):
        """At a group's first member: its function over all the members' columns, once."""
        h = self.horizontal_of[e.out.name]
        if e is h.eqns[0]:
            cols = f"{self.joint(h.group.value)}[:, {h.cols[0]}:{h.cols[1]}]"
            out.add(into_rules[e.op](self.site(e, cols, f"{self.Sjoint(e.out.name)}[t]", step=True)), 2)
