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

* `drop_dead` — `del name` right after the last statement that reads a local array, so the
  pre phase's values and the forward's buffers are freed as soon as the rest cannot need them
  (a name bound only inside a compound statement is left alone: it may be unbound there).
"""
from __future__ import annotations

import ast
import textwrap

BEGIN, END = "#<blocks>", "#</blocks>"
KEEP = {"T", "B", "dt", "masked", "m", "mk", "K", "count", "nll_sum", "grads"}  # small, or read to the end
INDENT = "    "
HEADER = (
    "K = max(1, -(-BLOCK_ROWS // B))  # steps per time block: BLOCK_ROWS rows (module header)",
    "for blk in range(-(-T // K)):  # the last block first: the reverse scan runs on through them",
)


def begin() -> str:
    return INDENT + BEGIN


def end() -> str:
    return INDENT + END


def region(lines: list):
    """(i, j): the indices of the block markers in `lines`, or None."""
    starts = [k for k, line in enumerate(lines) if line.strip() == BEGIN]
    if not starts:
        return None
    i = starts[0]
    return i, next(k for k in range(i, len(lines)) if lines[k].strip() == END)


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


def drop_dead(lines: list, keep=()) -> list:
    """`lines` (a function body at depth 1) with `del a, b` after the statement that reads a and b
    last; `keep` are names read after the body (its return statement)."""
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
        if name not in skip and last_read[name] >= k and last_read[name] < len(statements) - 1:
            dead.setdefault(last_read[name], []).append(name)
    out = list(lines)
    for k in sorted(dead, reverse=True):
        out.insert(statements[k][1] + 1, f"{INDENT}del {', '.join(sorted(dead[k]))}")
    return out
