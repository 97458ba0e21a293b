"""What the current lowering keeps per time step, traced: the growth of the peak of numpy's
allocations (tracemalloc) between two sequence lengths of one `loss_and_grad`.

    kept = (peak(T₂) − peak(T₁)) / (T₂ − T₁)      bytes per step, above the batch

cost.py's `bptt_floats_step` is the minimum (what the backward reads); this is what the
emitted module holds at its peak, forward values, backward buffers and gradients of all
steps together, so a user sees both.  It runs the model (numpy backend) twice on a random
batch: seconds for the examples at B = 16, T = 200 and 600.  The post phase and the backward
run in time blocks of BLOCK_ROWS rows (lower/blocks.py), whose arrays do not grow with T; where
B·T₁ is below a block (B < 3), T₁ is raised to one block and T₂ to 3·T₁, so that both runs hold
whole blocks and the slope is what grows with T.  Likewise where the module's recompute rule
(prelude `_recompute`: its pre values over all steps above RECOMPUTE_BYTES) switches on above
T₁, T₁ is raised to the first length where it is on: the slope is then what a long sequence
keeps per step, not a mix of the two lowerings.

The baseline is taken after the batch is made: the batch is the caller's data, there before and
after the call whatever the lowering does, and the minimum counts no input either; counted, it
would add each input's width (88 floats per position for a piano roll, 0.46× dots.rnn's minimum)
and make the ratio depend on how the data are encoded.  Copies the call makes of it (a dtype
cast) still count.
"""
from __future__ import annotations

import tracemalloc

import numpy as np

from ..ir import Program


def recompute_from(module: dict, batch: int, itemsize: int):
    """The first T at which `module`'s loss_and_grad makes its pre values again (its rule,
    `_recompute`, is monotone in T), or None when it has no pre phase in blocks.  A module that
    chooses between the associative scan and the steps for linear states (lower/scan_choice.py)
    applies the limit of the side its `_use_scan` picks at T (RECOMPUTE_BYTES or LOOP_KEEP_BYTES)."""
    floats, rule = module.get("PRE_FLOATS", 0), module.get("_recompute")
    if not floats or rule is None:
        return None

    def on(T):
        if "SCAN_WIDTH" not in module:
            return rule(T, batch, floats, itemsize)
        by_scan = module["_use_scan"](T, batch, module["SCAN_WIDTH"], itemsize)
        return rule(T, batch, floats, itemsize, module["RECOMPUTE_BYTES" if by_scan else "LOOP_KEEP_BYTES"])

    low, high = 1, 1
    while not on(high):
        low, high = high, 2 * high
    while low < high:  # the least T with on(T), in (low, high]
        mid = (low + high) // 2
        low, high = (mid + 1, high) if not on(mid) else (low, mid)
    return high


def traced_bytes_per_step(program: Program, batch: int = 16, t1: int = 200, t2: int = 600,
                          dtype=np.float32, seed: int = 0) -> float:
    """Bytes per time step by which the peak of one forward+backward grows (see the docstring)."""
    from ..lower.footprint import require
    from ..model import Model
    from ..testing import random_batch

    model = Model(program, dtype, backend="numpy")
    params = model.init_params(np.random.default_rng(seed))
    rows = max(model._module.get("BLOCK_ROWS", 0), model._module.get("ROW_CHUNK", 0))
    if batch * t1 < rows:  # whole time blocks at both lengths: a block's arrays cancel in the difference
        t1 = -(-rows // batch)
        t2 = max(t2, 3 * t1)
    switch = recompute_from(model._module, batch, np.dtype(dtype).itemsize)
    if switch is not None and t1 < switch:  # the recompute rule on at both lengths
        t1 = switch
        t2 = max(t2, 3 * t1)
    # before the batches are made: a forward + backward (as bench) too large for memory is refused
    # with its size (`rnnalg cost --measure -B 10**8`), not a MemoryError from inside numpy
    require(program, "benchmark", t2 * batch, np.dtype(dtype).itemsize, hint=" or a smaller -B")

    def peak(steps: int) -> int:
        rng = np.random.default_rng(seed)
        tracemalloc.start()
        try:
            data = {k: (v.astype(np.intp) if v.dtype.kind in "iu" else v.astype(dtype))
                    for k, v in random_batch(program, steps, batch, rng, mask=False).items()}
            base = tracemalloc.get_traced_memory()[0]  # after the batch: the caller's, not BPTT's
            tracemalloc.reset_peak()
            model.loss_and_grad(params, data)
            return tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()

    return (peak(t2) - peak(t1)) / (t2 - t1)
