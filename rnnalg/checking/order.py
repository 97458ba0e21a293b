"""The order of a step's equations: Kahn's algorithm over read edges, cycles named.

An equation reads names bound by other equations (`h` is the previous step and adds no
edge; `h'` is this step's update and does).  A cycle is reported once, at its first
equation in source order, as `z → h' → z`; equations on or behind it are poisoned.
"""
from __future__ import annotations

import heapq

from .diagnostics import Diagnostics

CYCLE_SHOWN = 5  # names shown at each end of a longer cycle


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
    """One cycle per strongly connected group of stuck equations, named, at its first
    equation in source order (linear in the equations: a long chain behind a cycle, or a
    cycle of thousands, is not searched once per equation)."""
    for group in _cyclic_components(bindings, stuck):
        start = min(group)
        path = _cycle_from(start, bindings, group)
        names = [bindings[i].eq.target for i in path + [path[0]]]
        if len(names) > 2 * CYCLE_SHOWN:  # a cycle through thousands of equations: its ends
            names[CYCLE_SHOWN:-CYCLE_SHOWN] = [f"… ({len(names) - 2 * CYCLE_SHOWN:,} more) …"]
        names = " → ".join(names)
        diags.error("cycle", f"cycle within a step: {names} (read h for a state's previous value)",
                    bindings[start].eq.span)


def _cyclic_components(bindings: list, stuck: set) -> list:
    """The strongly connected components (sets of indices) of the read edges among `stuck`
    that contain a cycle, in order of their first equation (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    for root in sorted(stuck):
        if root in index:
            continue
        work = [(root, iter(sorted(bindings[root].deps & stuck)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for d in edges:
                if d not in index:
                    index[d] = low[d] = len(index)
                    stack.append(d)
                    on_stack.add(d)
                    work.append((d, iter(sorted(bindings[d].deps & stuck))))
                    break
                if d in on_stack:
                    low[node] = min(low[node], index[d])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1 or node in bindings[node].deps:
                        groups.append(group)
    return sorted(groups, key=min)


def _cycle_from(start: int, bindings: list, group: set) -> list:
    """A path start → … → start through `deps` (read edges) within its component `group`."""
    parent, stack = {start: None}, [start]
    while stack:
        node = stack.pop()
        for d in sorted(bindings[node].deps & group, reverse=True):
            if d == start:
                path = [node]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return path[::-1]
            if d not in parent:
                parent[d] = node
                stack.append(d)
    raise AssertionError("a cyclic component has a cycle through each of its members")
