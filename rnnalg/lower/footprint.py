"""How much memory a compiled program needs, checked before anything large is allocated.

    bytes ≈ itemsize · (copies · Σ_params |θ|  +  positions · Σ_values width)

`copies` of the parameters: 1 to run (evaluate, sample) or initialise, 2 to benchmark (+ gradients), 4 to
train (+ gradients, the optimiser's two moments or velocity and the best parameters).
Each of the `positions` = T·B time steps of a batch holds every input, equation value and
target (the forward keeps them for BPTT; the pre and post phases compute all steps at
once).  Temporaries of the backward pass come on top, so this is a lower estimate: what it
refuses cannot run.
"""
from __future__ import annotations

import os

from ..errors import ResourceError

COPIES = {"run": 1, "initialise": 1, "benchmark": 2, "train": 4}
# what the copies of each task are, for the refusal message
COPY_NAMES = {
    "run": "the parameters",
    "initialise": "the parameters",
    "benchmark": "the parameters and their gradients",
    "train": "the parameters, their gradients, the optimiser's two moments or velocity, the best parameters",
}


def estimate(program, copies: int, positions: int = 0, itemsize: int = 4) -> tuple[int, int]:
    """(parameter bytes × copies, activation bytes) of `program`; exact integers, no overflow."""
    widths = sum(v.width for v in program.inputs) + sum(e.out.width for e in program.eqns)
    widths += sum(h.output.width for h in program.heads)
    return copies * program.param_count * itemsize, positions * widths * itemsize


def memory_limit() -> int | None:
    """Bytes this process may use: physical memory, or a smaller `ulimit -v`; None if unknown."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    return min(limits) if limits else None


def require(program, task: str, positions: int = 0, itemsize: int = 4, hint: str = "",
            resize: str = "with --set NAME=VALUE") -> None:
    """ResourceError naming the spec and its sizes if `task` (a key of COPIES) cannot fit in memory;
    `resize` says how to give smaller sizes (the Python API passes its own words)."""
    limit = memory_limit()
    params, activations = estimate(program, COPIES[task], positions, itemsize)
    if limit is None or params + activations <= limit:
        return
    sizes = ", ".join(f"{k}={v}" for k, v in program.sizes)
    copies = COPIES[task]
    parts = (f"{program.param_count:,} parameters × {copies} cop{'ies' if copies > 1 else 'y'} "
             f"({COPY_NAMES[task]}) × {itemsize} bytes per number (float{8 * itemsize}) = {format_bytes(params)}")
    if activations:
        parts += f", plus {format_bytes(activations)} of values over {positions:,} positions (T·B)"
    raise ResourceError(
        f"{program.file}: error: to {task}, this model needs at least {format_bytes(params + activations)} "
        f"of memory ({parts}), more than the {format_bytes(limit)} this process may use; "
        f"use smaller sizes{f' (now {sizes})' if sizes else ''} {resize}{hint}")


def format_bytes(n: int) -> str:
    """1536 -> '1.5 KiB'; 7.3e12 -> '6.64 TiB'; from 1024 PiB on, '1.6e+41 bytes'."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024:
            return f"{value:.3g} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{float(n):.2g} bytes"
