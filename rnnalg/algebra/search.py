"""Candidates of an architecture search: moves (moves.py) from seed specs, every variant checked,
sized to a parameter budget by solving its parameter formula (cost.py), and deduplicated by the
canonical form (canonical.py).

    P_c(S) = budget   solved for the size S (the other `let`s as the spec gives them): the real
                      root S* > 0 of the polynomial, rounded to the integer whose count is nearest

A candidate whose formula does not involve S, or that has no positive root, keeps its size.
Round r applies every move to every candidate of round r − 1 (round 0: the seeds themselves);
a round that finds no new candidate is the last.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

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


def size_to_budget(text: str, file: str, size: str, budget: int):
    """(program at the solved size, that size) for spec text; the spec's own size if S is free."""
    program = check(parse(text, file))
    values = dict(program.sizes)
    if size not in values:
        return program, None
    formula = cost(program).figure("parameters").formula
    symbol = sympy.Symbol(size, positive=True, integer=True)
    others = {sympy.Symbol(n, positive=True, integer=True): v for n, v in values.items() if n != size}
    poly = sympy.Poly(formula.subs(others) - budget, symbol) if symbol in formula.free_symbols else None
    roots = [r for r in (poly.nroots() if poly is not None else []) if abs(sympy.im(r)) < 1e-9 and sympy.re(r) > 0]
    if not roots:
        return program, values[size]
    root = float(sympy.re(max(roots, key=lambda r: sympy.re(r))))
    best = None
    for n in {max(1, int(root)), max(1, int(root) + 1)}:
        try:
            p = check(parse(text, file), {**values, size: n})
        except SpecError:
            continue
        if best is None or abs(p.param_count - budget) < abs(best[0].param_count - budget):
            best = (p, n)
    return best if best else (program, values[size])


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
