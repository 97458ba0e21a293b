"""The scan loops of an emitted function, cut out into module-level kernel functions.

The emitter writes a scan loop inline, between two marker lines (`begin`, `end`); `extract`
then replaces it by a call

    a, b = _scan_forward(T, B, buf_h, P_z_a, …)

and returns the kernel's text, a plain function over arrays:

    args    = the names the loop reads that the function bound before it (T and B always first);
    returns = the names the loop binds that the function reads after it, and, for a loop inside
              the time blocks of `blocks.py`, the arguments it rebinds (the carry of a reverse
              scan: the next block's call reads it).

In the numpy module the kernel runs as it is; the fast backend (`rnnalg.fast`) compiles the
very same text with numba.  So a kernel must stay in the numpy subset numba types: no keyword
`out=` (ufuncs take it positionally), `np.dot(a, w, out)` for a product into a buffer.
"""
from __future__ import annotations

import ast
import textwrap

BEGIN, END = "#<kernel ", "#</kernel>"
FIRST_ARGS = ("T", "B")  # every kernel takes these first: the fast backend dispatches on B
FUNCTION_ARGS = ("params", "batch", "state", "noise")  # the emitted functions' own parameters


def begin(name: str) -> str:
    return f"    {BEGIN}{name}>"


def end() -> str:
    return f"    {END}"


def _names(text: str):
    """(loaded, stored) names of a suite of statements at depth 0; `x += …` counts as both, and
    a loop's counter as neither (it is the kernel's own)."""
    loaded, stored, counters = set(), set(), set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else stored).add(node.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            loaded.add(node.target.id)
        elif isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            counters.add(node.target.id)
    return loaded - counters, stored - counters


def _suite(lines) -> str:
    return textwrap.dedent("\n".join(line for line in lines if line.strip())) or "pass"


def _in_blocks(lines, i) -> bool:
    """Whether line i lies between the markers of blocks.py (the lines run once per time block)."""
    from .blocks import BEGIN as BLOCKS, END as BLOCKS_END

    marks = [line.strip() for line in lines[:i] if line.strip() in (BLOCKS, BLOCKS_END)]
    return bool(marks) and marks[-1] == BLOCKS


def extract(lines: list, kernels: dict) -> list:
    """`lines` (a function body at depth 1) with each marked loop replaced by a call; the kernels'
    texts go into `kernels` (name -> text; a name met twice must have the same text)."""
    out = list(lines)
    while any(line.strip().startswith(BEGIN) for line in out):
        i = next(k for k, line in enumerate(out) if line.strip().startswith(BEGIN))
        j = next(k for k in range(i, len(out)) if out[k].strip() == END)
        name = out[i].strip()[len(BEGIN):-1]
        body = out[i + 1:j]
        _, before = _names(_suite(out[:i]))
        loaded, stored = _names(_suite(body))
        after, _ = _names(_suite(out[j + 1:]))
        bound = before | set(FUNCTION_ARGS) | set(FIRST_ARGS)
        args = list(FIRST_ARGS) + sorted((loaded & bound) - set(FIRST_ARGS))
        carried = stored & loaded & bound if _in_blocks(out, i) else set()
        returns = sorted(stored & after | carried)
        text = [f"def {name}({', '.join(args)}):"] + [line for line in body]
        if returns:
            text.append(f"    return {', '.join(returns)}{',' if len(returns) == 1 else ''}")
        text = "\n".join(text) + "\n"
        if kernels.setdefault(name, text) != text:
            raise AssertionError(f"kernel {name} emitted twice with different text")
        call = f"{name}({', '.join(args)})"
        target = f"{', '.join(returns)}{',' if len(returns) == 1 else ''} = " if returns else ""
        out[i:j + 1] = [f"    {target}{call}"]
    return out
