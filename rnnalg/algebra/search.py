"""Candidates of an architecture search: moves (moves.py) from seed specs, every variant checked,
sized to a parameter budget by solving its parameter formula (cost.py), and deduplicated by the
canonical form (canonical.py).

    P_c(S) = budget   solved for the size S (the other `let`s as the spec gives them): the real
                      root S* > 0 of the polynomial, rounded to the integer whose count is nearest

A variant that no size fits (its formula does not involve S, or its count at S = 1 is above the
budget) is not a candidate: it is counted and named (`Tally.unsized`), not trained at its seed's
size (it was, silently: DOT(S) + add_shortcut(y, x) at a budget of 3,000 kept H = 200, 238,832
parameters).
Round r applies every move to every candidate of round r − 1 (round 0: the seeds themselves);
a round that finds no new candidate is the last.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import sympy

from ..checking import check
from ..errors import SpecError
from ..front.parser import parse
from ..front.unparse import unparse
from .canonical import canonical_text
from .cost import cost
from .moves import MOVES, neighbours
from .symbolic import NotAffine


@dataclass(frozen=True)
class Candidate:
    """One checked, sized, distinct spec: `moves` from its seed, `size` its value of S."""

    name: str
    seed: str
    moves: tuple
    text: str
    size: int
    parameters: int
    canonical: str  # a digest of the canonical form

    @property
    def label(self) -> str:
        return self.seed + "".join(f" + {m}" for m in self.moves)


@dataclass
class Tally:
    generated: int = 0
    invalid: int = 0
    duplicates: int = 0
    unsized: list = field(default_factory=list)  # "label: why" of the variants no size fits (Unsized)


class Unsized(Exception):
    """No value of S sizes the variant to the budget; it is not a candidate (it would keep the
    size its seed gives S, at a parameter count far from the budget's: not an equal-budget rival)."""


def size_to_budget(text: str, file: str, size: str, budget: int):
    """(program at the solved size, that size) for spec text; Unsized when no size meets the
    budget: S is not a `let`, the parameter count does not depend on S, it is above the budget
    already at S = 1 (P_c(1) > budget), or the spec checks at neither integer beside the root."""
    program = check(parse(text, file))
    values = dict(program.sizes)
    if size not in values:
        raise Unsized(f"no `let {size}`")
    formula = cost(program).figure("parameters").formula
    symbol = sympy.Symbol(size, positive=True, integer=True)
    if symbol not in formula.free_symbols:
        raise Unsized(f"its {program.param_count:,} parameters do not depend on {size}")
    others = {sympy.Symbol(n, positive=True, integer=True): v for n, v in values.items() if n != size}
    least = int(formula.subs({**others, symbol: 1}))
    if least > budget:
        raise Unsized(f"{least:,} parameters at {size} = 1, above the budget of {budget:,}")
    poly = sympy.Poly(formula.subs(others) - budget, symbol)
    roots = [r for r in poly.nroots() if abs(sympy.im(r)) < 1e-9 and sympy.re(r) > 0]
    if not roots:  # P_c(1) <= budget and P_c grows with S: not reached
        raise Unsized(f"no root of its parameter formula {formula} = {budget:,}")
    root = float(sympy.re(max(roots, key=lambda r: sympy.re(r))))
    best = None
    for n in {max(1, int(root)), max(1, int(root) + 1)}:
        try:
            p = check(parse(text, file), {**values, size: n})
        except SpecError:
            continue
        if best is None or abs(p.param_count - budget) < abs(best[0].param_count - budget):
            best = (p, n)
    if best is None:
        raise Unsized(f"it checks at neither {size} = {int(root)} nor {int(root) + 1}")
    return best


def candidates(seeds, size: str, budget: int, rounds: int = 1, limit: int | None = None,
               moves=tuple(MOVES)) -> tuple[list, Tally]:
    """Distinct checked candidates from `seeds` [(label, syntax.Spec)], seeds first; within a
    round the seeds' variants alternate (in the order the moves generate them); at most `limit`."""
    found, seen, tally = [], set(), Tally()
    frontier = []
    for label, spec in seeds:
        frontier.append((label, (), spec))
    generation = list(frontier)
    for round_ in range(rounds + 1):
        if not generation:  # no new candidate in the round before: no later round has any
            break
        nxt = []
        per_seed = {}
        for label, path, spec in generation:
            variants = [(path, spec)] if round_ == 0 else \
                [(path + (what,), v) for what, v in neighbours(spec, size, moves)]
            per_seed.setdefault(label, []).extend((label, p, v) for p, v in variants)
        for label, new_path, variant in _round_robin(list(per_seed.values())):
            if limit is not None and len(found) >= limit:
                return found, tally
            tally.generated += round_ > 0
            text = unparse(variant)
            try:
                program, value = size_to_budget(text, f"<{label}>", size, budget)
            except (SpecError, NotAffine, ValueError):
                tally.invalid += 1
                continue
            except Unsized as why:
                tally.unsized.append(f"{label}{''.join(f' + {m}' for m in new_path)}: {why}")
                continue
            digest = hashlib.sha256(canonical_text(program).encode()).hexdigest()[:16]
            if digest in seen:
                tally.duplicates += 1
                continue
            seen.add(digest)
            found.append(Candidate(f"c{len(found) + 1:03d}", label, new_path, text, value,
                                   program.param_count, digest))
            nxt.append((label, new_path, variant))
        generation = nxt
    return found, tally


def _round_robin(queues):
    """Items of the lists in turn (a0, b0, a1, b1, …): a limit keeps every seed's variants."""
    longest = max((len(q) for q in queues), default=0)
    return [q[i] for i in range(longest) for q in queues if i < len(q)]
