"""Issue 21, memory: loss_and_grad runs its post phase and backward pass in time blocks
(lower/blocks.py), and its pre phase too, making the pre values again in the backward when the
recompute rule is on (lower/recompute.py).  Any block size, recompute forced on or off, gives the
loss, gradients and final states of one block over all steps without recompute (float64,
≤ 1e-12), for every example, random specs, masks, carried states, dropout, and with the fast
backend's compiled kernels; and what BPTT keeps per step is ≤ 2× the minimum."""
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnalg
import rnnalg.model as model_module
from rnnalg import fast
from rnnalg.algebra.kept import traced_bytes_per_step
from rnnalg.commands.bench import kept_bytes
from rnnalg.lower import emit_module
from rnnalg.lower.blocks import drop_dead, wrap
from rnnalg.model import compile as compile_model
from rnnalg.testing import random_setup

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.rnn"))
ONE_BLOCK = 10 ** 9
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_lowering_random import random_specs  # noqa: E402


RECOMPUTE = {None: None, False: float("inf"), True: -1}  # RECOMPUTE_BYTES: the rule, forced off, forced on


def run(program, rows, backend="numpy", T=7, B=3, recompute=None, **setup):
    """loss_and_grad with time blocks of ⌈rows / B⌉ steps (float64); `recompute` forces the rule."""
    model, params, batch, state, noise = random_setup(program, T=T, B=B, backend=backend, **setup)
    model._module["BLOCK_ROWS"] = rows
    if recompute is not None:  # and the step side's limit of linear states (lower/parallel.py)
        model._module["RECOMPUTE_BYTES"] = model._module["LOOP_KEEP_BYTES"] = RECOMPUTE[recompute]
    return model.loss_and_grad(params, batch, state, noise)


def differences(one, other):
    (l1, g1, s1), (l2, g2, s2) = one, other
    rel = lambda a, b: float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))  # noqa: E731
    errors = {"loss": rel(l2, l1)}
    errors.update({k: rel(g2[k], g1[k]) for k in g1})
    errors.update({f"final {k}": rel(s2[k], s1[k]) for k in s1})
    assert g1.keys() == g2.keys()
    return errors


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("rows", [1, 7], ids=["K=1", "K=3"])  # B = 3: blocks of 1 step; of 3, 3, 1
@pytest.mark.parametrize("recompute", [False, True], ids=["keep", "recompute"])
def test_time_blocks_give_the_gradients_of_one_block(path, rows, recompute):
    program = rnnalg.load_program(path, {"H": 5})
    errors = differences(run(program, ONE_BLOCK, recompute=False), run(program, rows, recompute=recompute))
    assert max(errors.values()) <= 1e-12, errors


def test_blocks_without_mask_state_or_dropout():
    program = rnnalg.load_program(ROOT / "examples" / "lstm_conditioned.rnn", {"H": 5})
    plain = dict(mask=False, state=False, dropout=False)
    errors = differences(run(program, ONE_BLOCK, **plain), run(program, 4, **plain))
    assert max(errors.values()) <= 1e-12, errors


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_specs(), st.integers(1, 8), st.booleans(), st.booleans(), st.booleans())
def test_random_specs_time_blocks_give_the_gradients_of_one_block(text, rows, mask, state, recompute):
    program = rnnalg.check(rnnalg.parse(text, "random.rnn"))
    errors = differences(run(program, ONE_BLOCK, mask=mask, state=state, recompute=False),
                         run(program, rows, mask=mask, state=state, recompute=recompute))
    assert max(errors.values()) <= 1e-12, (text, errors)


@pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")
@pytest.mark.parametrize("name", ["dots", "lstm", "deep_input", "mingru"])
def test_fast_backend_runs_the_blocked_reverse_scan(name):
    """The compiled _scan_backward takes the block's t0, t1 and returns its carry; the step loop
    reads the rows of P the blocks of the pre phase wrote (recompute on)."""
    # H = 6 as tests/test_fast_backend.py's examples: the same kernels, compiled once in a suite run
    program = rnnalg.load_program(ROOT / "examples" / f"{name}.rnn", {"H": 6})
    errors = differences(run(program, ONE_BLOCK, recompute=False), run(program, 4, backend="fast", recompute=True))
    assert max(errors.values()) <= 1e-12, errors


@pytest.mark.parametrize("name", ["deep_input", "mingru"])
def test_recompute_rule_is_off_at_t100_and_on_for_long_sequences(name):
    """RECOMPUTE_BYTES (prelude) against T·B·PRE_FLOATS·itemsize: off at T = 100 for these models
    (H = 200, B = 16 and 64, float32), on from 583 (mingru's scan side) and 1,311 (deep_input)
    steps at B = 16.  mingru's step side, which its rule runs at B = 16, keeps up to LOOP_KEEP_BYTES:
    kept.py's first length is where that side switches on (9,321 steps)."""
    from rnnalg.algebra.kept import recompute_from
    model = compile_model(rnnalg.load_program(ROOT / "examples" / f"{name}.rnn"), np.float32, "numpy")
    ns = model._module
    rule, floats = ns["_recompute"], ns["PRE_FLOATS"]
    assert floats > 0 and not rule(100, 16, floats, 4) and rule(10_000, 16, floats, 4)
    assert not rule(100, 64, floats, 4)
    limit = ns["RECOMPUTE_BYTES"]
    if name == "mingru":
        assert 500 < ns["RECOMPUTE_BYTES"] // (16 * floats * 4) + 1 <= 1500  # the scan side's first length
        assert not ns["_use_scan"](9000, 16, ns["SCAN_WIDTH"], 4)  # the steps run there
        limit = ns["LOOP_KEEP_BYTES"]
    first = recompute_from(ns, 16, 4)
    assert 500 < first <= 10_000 and rule(first, 16, floats, 4, limit) and not rule(first - 1, 16, floats, 4, limit)


def test_a_program_without_pre_values_has_no_recompute_rule():
    source = emit_module(rnnalg.load_program(ROOT / "examples" / "lstm.rnn", {"H": 5}))
    assert "PRE_FLOATS = 0" in source and "recompute = " not in source


def test_the_carry_is_returned_by_the_blocked_kernel_and_blocks_are_a_loop():
    source = emit_module(rnnalg.load_program(ROOT / "examples" / "dots.rnn", {"H": 5}))
    assert "carry_h, = _scan_backward(" in source
    assert "for t in range(t1 - 1, t0 - 1, -1):" in source
    assert "    for blk in range(-(-T // K)):" in source


def test_drop_dead_deletes_after_the_last_reader_only_unconditional_names():
    lines = ["    w = params['w']", "    a = x + 1", "    b = a * w", "    if c:",
             "        d = b", "    e = b + 1", "    return_value = e"]
    out = drop_dead(lines, keep={"return_value"})
    assert out == ["    w = params['w']", "    a = x + 1", "    b = a * w", "    del a", "    if c:",
                   "        d = b", "    e = b + 1", "    del b", "    return_value = e"]  # nothing after the last


def test_wrap_indents_the_marked_lines_under_the_block_loop():
    out = wrap(["    x = 1", "    #<blocks>", "    t1 = T - blk * K", "    #</blocks>", "    y = 2"])
    assert out[0] == "    x = 1" and out[-1] == "    y = 2"
    assert out[1].startswith("    K = ") and out[2].startswith("    for blk in") and out[3] == "        t1 = T - blk * K"


# BPTT memory near its minimum: traced bytes per step (B = 16, float32) ≤ 2× `rnnalg cost`'s
# bptt floats per step.  Before the blocks (today's main) these ratios were 3.2× to 55×.
@pytest.mark.parametrize("name, H, B, side", [("dots", 64, 16, None), ("lstm", 64, 16, None),
                                              ("word_rnn", 64, 16, None), ("deep_input", 128, 32, None),
                                              ("mingru", 64, 64, None), ("mingru", 64, 64, "scan"),
                                              ("char_mingru", 64, 64, None)])
def test_bptt_keeps_at_most_twice_the_minimum(name, H, B, side, monkeypatch):
    """deep_input and mingru (3.0× and 9.0× before their pre phase ran in blocks) at lengths where
    the default recompute rule is on: kept.py raises T₁ to where it switches on (1,024 and 456
    steps here; the sizes keep the run short).  The minGRU examples' linear states: at these widths
    the size rule (`_use_scan`) runs them step by step, which now makes its pre values again per
    block as the scan does once its rule is on (5.1× before, when the step loop kept them over all
    steps whatever the length); the scan side forced, too."""
    program = rnnalg.load_program(ROOT / "examples" / f"{name}.rnn", {"H": H})
    ran = []
    if name.endswith("mingru"):  # the steps' limit at the scan's: kept.py measures from 456 steps, not 7,282
        monkeypatch.setattr(model_module, "Model", _sides(model_module.Model, side, ran))
    traced, minimum = kept_bytes(program, B)
    assert 0 < minimum <= traced <= 2 * minimum, (traced, minimum)
    if name.endswith("mingru"):
        assert set(ran) == {side or "loop"}, ran  # what the rule picked at both lengths, or the forced side


def _sides(model_class, side, ran):
    """A Model whose module runs linear states on `side` ('scan', 'loop') whatever the sizes, or
    (None) as its rule says, the steps making their pre values again from RECOMPUTE_BYTES (64 MiB)
    rather than LOOP_KEEP_BYTES (1 GiB: the traced runs would allocate ~1 GB); `ran` gets the side
    of each loss_and_grad."""
    class Sides(model_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            ns = self._module
            ns["LOOP_KEEP_BYTES"] = ns["RECOMPUTE_BYTES"]
            if side is not None:
                ns["_use_scan"] = lambda *a: side == "scan"
            for by in ("scan", "loop"):
                ns[f"_loss_and_grad_by_{by}"] = (lambda f, by: lambda *a: ran.append(by) or f(*a))(
                    ns[f"_loss_and_grad_by_{by}"], by)
    return Sides


def test_kept_bytes_count_what_loss_and_grad_allocates_not_the_batch():
    """A wider input costs the caller's batch more, not what BPTT keeps (kept.py's baseline)."""
    program = rnnalg.load_program(ROOT / "examples" / "rnn.rnn", {"H": 32})  # x and y: 88 floats each
    B = 16  # B·T₁ = 3,200 rows: full time blocks and _affine_into pieces at both lengths
    assert 32 * B * 4 <= traced_bytes_per_step(program, B) < (32 + 16) * B * 4  # h_t, and no batch


def test_affine_into_writes_bias_plus_terms_a_piece_at_a_time(monkeypatch):
    """_affine_into (the pre parts written into the step buffers) is `b + Σ x W` (to rounding: a
    piece's product may round differently), for dense inputs, token ids and per-sequence values."""
    from rnnalg.lower import prelude
    monkeypatch.setattr(prelude, "ROW_CHUNK", 6)  # B = 3: pieces of 2 steps
    rng = np.random.default_rng(0)
    T, B = 7, 3
    x, ids, key = rng.normal(size=(T, B, 4)), rng.integers(0, 9, size=(T, B)), rng.normal(size=(1, B, 2))
    W, E, K, b = rng.normal(size=(4, 5)), rng.normal(size=(9, 5)), rng.normal(size=(2, 5)), rng.normal(size=5)
    out = np.empty((T, B, 5))
    prelude._affine_into(out, b, (x, W), (ids, E), (key, K))
    assert np.allclose(out, b + prelude._mm(x, W) + E[ids] + prelude._mm(key, K), rtol=1e-14, atol=1e-14)
    prelude._affine_into(out, b, (key, K), (ids[:1], E))  # only per-sequence values
    assert np.allclose(out, np.broadcast_to(b + prelude._mm(key, K) + E[ids[:1]], out.shape), rtol=1e-14, atol=1e-14)
