"""Two passes over an emitted function body (depth-1 lines) that bound what it keeps alive.

* `wrap` — the time blocks of `loss_and_grad`: the lines between `begin()` and `end()` (the
  post phase, the losses and the whole backward pass) run once per block of K steps, last
  block first, so their (steps, B, W) values hold K·B rows, not T·B:

      K = max(1, ⌈BLOCK_ROWS / B⌉)
      for blk in range(⌈T / K⌉):          # [t0, t1) = [T − (blk+1)K, T − blk·K) ∩ [0, T)
          t1 = T - blk * K
          t0 = max(t1 - K, 0)
          …the marked lines, one level deeper…

  The reverse scan of each block starts from the carry the later block left (BPTT is exact:
  the blocks only cut the all-steps-at-once phases into pieces, never the gradient's path).

* `wrap_pre` — the pre phase of `loss_and_grad` in blocks of KP steps, the first block first
  (lower/recompute.py): the lines between `begin_pre()` and `end_pre()` run once per block, and
  the values a block makes that nothing after the loop reads are deleted inside it.

* `drop_dead` — `del name` right after the last statement that reads a local array, so the
  pre phase's values and the forward's buffers are freed as soon as the rest cannot need them
  (a name bound only inside a compound statement is left alone: it may be unbound there).
"""
from __future__ import annotations

import ast
import textwrap

BEGIN, END = "#<blocks>", "#</blocks>"
KEEP = {"T", "B", "dt", "masked", "m", "mk", "K", "count", "nll_sum", "grads",
        "KP", "r0", "recompute"}  # small, or read to the end
PRE_BEGIN, PRE_END = "#<pre blocks>", "#</pre blocks>"
INDENT = "    "
HEADER = (
    "K = max(1, -(-BLOCK_ROWS // B))  # steps per time block: BLOCK_ROWS rows (module header)",
    "for blk in range(-(-T // K)):  # the last block first: the reverse scan runs on through them",
)


PRE_HEADER = "for blk in range(-(-T // KP)):  # the pre phase in blocks of KP steps, the first block first"


def begin() -> str:
    return INDENT + BEGIN


def end() -> str:
    return INDENT + END


def begin_pre() -> str:
    return INDENT + PRE_BEGIN


def end_pre() -> str:
    return INDENT + PRE_END


def region(lines: list, first=BEGIN, last=END):
    """(i, j): the indices of the markers `first` and `last` in `lines`, or None."""
    starts = [k for k, line in enumerate(lines) if line.strip() == first]
    if not starts:
        return None
    i = starts[0]
    return i, next(k for k in range(i, len(lines)) if lines[k].strip() == last)


def wrap_pre(lines: list) -> list:
    """`lines` with the region between begin_pre() and end_pre() run once per block of the pre
    phase; a name the region binds is deleted after its last reader there unless a line after
    the region reads it, or it was bound before (a step buffer the region writes rows of)."""
    found = region(lines, PRE_BEGIN, PRE_END)
    if found is None:
        return list(lines)
    i, j = found
    after = _loaded(lines[j + 1:], skip="recompute")
    before = _bound(lines[:i])
    body = drop_dead(lines[i + 1:j], keep=after | before, at_end=True)
    body = [INDENT + line if line.strip() else line for line in body]
    return lines[:i] + [INDENT + PRE_HEADER] + body + lines[j + 1:]


def _names(lines: list, ctx, skip: str = "") -> set:
    """The names `lines` (statements at any one depth) load or store (`ctx`), leaving out the
    body of every `if {skip}:` (its `else` counts)."""
    text = textwrap.dedent("\n".join(line for line in lines if line.strip() and line.strip()[0] != "#"))
    found, todo = set(), [ast.parse(text)]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == skip:
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ctx):
            found.add(node.id)
        todo.extend(ast.iter_child_nodes(node))
    return found


def _loaded(lines: list, skip: str = "") -> set:
    """Names read; `skip`: not in the body of `if skip:` (the backward's pre values made again
    there read what that body binds, not the forward's)."""
    return _names(lines, ast.Load, skip)


def _bound(lines: list) -> set:
    return _names(lines, ast.Store)


def wrap(lines: list) -> list:
    """`lines` with the marked region run once per time block (see the module docstring)."""
    found = region(lines)
    if found is None:
        return list(lines)
    i, j = found
    body = [INDENT + line if line.strip() else line for line in lines[i + 1:j]]
    return lines[:i] + [INDENT + h for h in HEADER] + body + lines[j + 1:]


def _statements(lines: list):
    """(ast statements at depth 0 of the dedented body, their last line index in `lines`)."""
    tree = ast.parse(textwrap.dedent("\n".join(lines)))
    return [(node, node.end_lineno - 1) for node in tree.body]


def _is_parameter(node) -> bool:
    """`w = params[...]` or `w = params[...].T`: an alias of the caller's array, never freed."""
    value = node.value
    if isinstance(value, ast.Attribute):
        value = value.value
    return isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name) and value.value.id == "params"


def drop_dead(lines: list, keep=(), at_end: bool = False) -> list:
    """`lines` (a function body at depth 1) with `del a, b` after the statement that reads a and b
    last; `keep` are names read after the body (its return statement); `at_end`: after the last
    statement too (a loop's body, whose names would live on into the next pass)."""
    statements = _statements(lines)
    first_bound, last_read, skip = {}, {}, set(keep) | KEEP
    for k, (node, _) in enumerate(statements):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for n in ast.walk(target):
                    if isinstance(n, ast.Name):
                        first_bound.setdefault(n.id, k)
                        if _is_parameter(node):
                            skip.add(n.id)
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                last_read[n.id] = k
    dead = {}  # statement index -> names to drop after it
    for name, k in first_bound.items():
        if name not in skip and last_read[name] >= k and (at_end or last_read[name] < len(statements) - 1):
            dead.setdefault(last_read[name], []).append(name)
    out = list(lines)
    for k in sorted(dead, reverse=True):
        out.insert(statements[k][1] + 1, f"{INDENT}del {', '.join(sorted(dead[k]))}")
    return out
