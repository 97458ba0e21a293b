"""The order of a step's equations: Kahn's algorithm over read edges, cycles named.

An equation reads names bound by other equations (`h` is the previous step and adds no
edge; `h'` is this step's update and does).  A cycle is reported once, at its first
equation in source order, as `z → h' → z`; equations on or behind it are poisoned.
"""
from __future__ import annotations

import heapq

from .diagnostics import Diagnostics


def dependency_order(bindings: list, diags: Diagnostics):
    """(bindings in dependency order, poisoned indices); source order among the ready ones.

    Poisoned: stuck on a cycle, reported bad, or reading a poisoned equation.
    """
    waiting = {b.index: set(b.deps) for b in bindings}
    users = {b.index: [] for b in bindings}
    for b in bindings:
        for d in b.deps:
            users[d].append(b.index)
    ready = [i for i, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(bindings[i])
        for u in users[i]:
            waiting[u].discard(i)
            if not waiting[u]:
                heapq.heappush(ready, u)
    stuck = {i for i, deps in waiting.items() if deps}
    _report_cycles(bindings, stuck, diags)
    poisoned = set(stuck)
    for b in order:  # in dependency order, so one pass propagates
        if b.bad or b.deps & poisoned:
            poisoned.add(b.index)
    return order, poisoned


def _report_cycles(bindings: list, stuck: set, diags: Diagnostics) -> None:
    """Each cycle among the stuck equations, named, at its first equation in source order."""
    on_cycle = set()
    for start in sorted(stuck):
        if start in on_cycle:
            continue
        path = _cycle_from(start, bindings, stuck)
        if path is None or on_cycle & set(path):
            continue
        on_cycle.update(path)
        names = " → ".join(bindings[i].eq.target for i in path + [path[0]])
        diags.error("cycle", f"cycle within a step: {names} (read h for a state's previous value)",
                    bindings[start].eq.span)


def _cycle_from(start: int, bindings: list, stuck: set):
    """A path start → … → start through `deps` (read edges), or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for d in sorted(bindings[node].deps & stuck, reverse=True):
            if d == start:
                return path
            if d not in seen:
                seen.add(d)
                stack.append((d, path + [d]))
    return None
