"""Issue 21: linear states run as an associative scan or step by step, chosen per call by the
size rule `_use_scan` (prelude; lower/scan_choice.py).  Both sides of the rule give the same loss,
gradients and final states (float64, ≤ 1e-10), each equal to the autograd reference, for the
minGRU examples and random linear specs, with masked batches, carried states, time blocks and the
recompute rule on; the fast backend runs the step side's kernels.  Both sides share the pre phase
in time blocks and the recompute rule (lower/parallel.py); what they keep is in test_memory_blocks.py."""
import builtins
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnalg
from rnnalg import fast
from rnnalg.lower import prelude
from rnnalg.lower.emit import emit_module
from rnnalg.lower.linear import parallel_states
from rnnalg.testing import random_setup, reference_forward, reference_loss_and_grad

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_cells_parallel_scan import LINEAR, program_of  # noqa: E402

EXAMPLES = {name: rnnalg.load_program(ROOT / "examples" / f"{name}.rnn", {"H": 5})
            for name in ("mingru", "char_mingru")}
SIDES = {"scan": True, "loop": False}


def module_of(program, parallel="auto"):
    namespace = {}
    exec(builtins.compile(emit_module(program, parallel), "<model>", "exec"), namespace)
    return namespace


def run_side(program, side, T=9, B=3, rows=None, recompute=None, backend="numpy", seed=0, reference=False,
             **setup):
    """loss_and_grad and forward of the 'auto' module with its rule forced to `side`; the bodies
    that ran are counted, so a test sees which one did.  `reference`: autograd's instead, on the
    same parameters and batch."""
    model, params, batch, state, noise = random_setup(program, T=T, B=B, seed=seed, backend=backend, **setup)
    if reference:
        loss, grads = reference_loss_and_grad(program, params, batch, state, noise)
        nll, final = reference_forward(program, params, batch, state, noise)
        return (loss, grads, final), nll
    ns = model._module
    ns["_use_scan"] = lambda *a, forced=SIDES[side]: forced
    if rows is not None:
        ns["BLOCK_ROWS"] = rows
    if recompute is not None:  # both sides' limits (the steps keep up to LOOP_KEEP_BYTES)
        ns["RECOMPUTE_BYTES"] = ns["LOOP_KEEP_BYTES"] = -1 if recompute else float("inf")
    ran = []
    for name in ("_forward_by_scan", "_forward_by_loop", "_loss_and_grad_by_scan", "_loss_and_grad_by_loop"):
        ns[name] = (lambda f, n: lambda *a: ran.append(n) or f(*a))(ns[name], name)
    result = model.loss_and_grad(params, batch, state, noise)
    nll_sum, count, _ = model.evaluate(params, batch, state)
    nll = nll_sum / count  # the mean, as the reference's
    assert ran == [f"_loss_and_grad_by_{side}", f"_forward_by_{side}"], ran
    return result, nll


def assert_equal(one, other, tol=1e-10):
    (l1, g1, s1), n1 = one
    (l2, g2, s2), n2 = other
    rel = lambda a, b: float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))  # noqa: E731
    errors = {"loss": rel(l1, l2), "nll": rel(n1, n2)}
    errors.update({k: rel(g1[k], g2[k]) for k in g2})
    errors.update({f"final {k}": rel(s1[k], s2[k]) for k in s2})
    assert g1.keys() == g2.keys() and max(errors.values()) <= tol, errors


def test_the_rule_picks_the_loop_at_the_wide_state_and_the_scan_at_a_tiny_one():
    """The sizes of issue 21's measurements (bench/README.md): PTB-character minGRU, H = 3,690,
    B = 32, T = 100 (the scan 1.8× the loop) -> loop; H = 8, B = 1, T = 4000 (the scan 4× ahead)
    -> scan; H = 64, B = 16, T = 4000 (the loop ahead) -> loop."""
    assert not prelude._use_scan(100, 32, 3690, 4)
    assert prelude._use_scan(4000, 1, 8, 4)
    assert not prelude._use_scan(4000, 16, 64, 4)


def test_the_rule_turns_to_the_loop_as_the_state_grows():
    for T in (10, 100, 1000, 10_000):
        picks = [prelude._use_scan(T, B, 8, 4) for B in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)]
        assert picks == sorted(picks, reverse=True), (T, picks)  # scan for the small ones, then loop
        assert picks[0] and not picks[-1]


def test_both_sides_run_the_pre_phase_in_blocks_under_the_recompute_rule():
    """The step side keeps what the scan side keeps once the rule is on: its loss_and_grad runs the
    pre phase in time blocks and makes the pre values (and a_t) again per backward block when
    `_recompute` says so, on the same PRE_FLOATS, above LOOP_KEEP_BYTES (the scan: RECOMPUTE_BYTES);
    the choice between the sides depends on time alone (no memory guard)."""
    text = emit_module(EXAMPLES["mingru"])
    for side, limit in (("scan", ""), ("loop", ", LOOP_KEEP_BYTES")):
        body = _body(text, side)
        assert f"recompute = _recompute(T, B, PRE_FLOATS, dt.itemsize{limit})" in body and "if recompute:" in body
        again = body.split("if recompute:")[1].split("else:")[0]
        assert "Alin_h = " in again and "Blin_h" not in again  # a_t made again; b_t is the forward's alone
    assert "_scan_linear_backward(" in _body(text, "loop") and "_linear_scan_reverse(" in _body(text, "scan")
    assert "LOOP_FLOATS" not in text
    assert prelude.RECOMPUTE_BYTES < prelude.LOOP_KEEP_BYTES
    # the PTB-character width at T = 100 keeps its pre values on the step side (425 MB; 15 % slower made again)
    assert not prelude._recompute(100, 32, 9 * 3690, 4, prelude.LOOP_KEEP_BYTES) and not prelude._use_scan(100, 32, 3690, 4)


def _body(text, side):
    """The text of the module's loss_and_grad for `side`."""
    start = text.index(f"def _loss_and_grad_by_{side}(")
    return text[start:text.index("\ndef ", start + 1)]


def test_auto_is_the_default_and_carries_both_lowerings():
    program = EXAMPLES["mingru"]
    text = emit_module(program)
    assert text == emit_module(program, "auto")
    assert "= _linear_scan(" in text and "_scan_linear_forward(" in text and "_use_scan(T, B, SCAN_WIDTH" in text
    assert "SCAN_WIDTH = 5" in text  # minGRU: h
    assert "_scan_linear_forward(" not in emit_module(program, True)
    assert "= _linear_scan(" not in emit_module(program, False) and "SCAN_WIDTH" not in emit_module(program, False)


def test_a_program_that_is_not_linear_keeps_one_lowering():
    program = rnnalg.load_program(ROOT / "examples" / "dots.rnn", {"H": 5})
    assert emit_module(program) == emit_module(program, True) == emit_module(program, False)


def test_a_bad_parallel_choice_is_refused():
    with pytest.raises(ValueError, match="parallel='sometimes'"):
        emit_module(EXAMPLES["mingru"], "sometimes")


def test_the_module_follows_the_rule_per_call():
    """One module: a tiny batch runs the scan, a wide one the loop (what the rule says for each)."""
    program = rnnalg.load_program(ROOT / "examples" / "mingru.rnn", {"H": 8})
    ns = module_of(program)
    params = ns["init"](np.random.default_rng(0), "gaussian", None, np.float32)
    small, wide = (4000, 1), (100, 4096)
    assert prelude._use_scan(*small, 8, 4) and not prelude._use_scan(*wide, 8, 4)
    x = lambda T, B: {"x": np.zeros((T, B, 88), np.float32)}  # noqa: E731
    assert ns["_by_scan"](params, x(*small)) and not ns["_by_scan"](params, x(*wide))


@pytest.mark.parametrize("name", sorted(EXAMPLES) + sorted(LINEAR))
@pytest.mark.parametrize("blocks", [None, (1, False), (7, True)], ids=["one-block", "K=1", "K=3+recompute"])
def test_both_sides_of_the_rule_agree(name, blocks):
    """float64, masked batch (sequence b padded after T − b steps), carried state; time blocks of
    loss_and_grad of 1 and 3 steps (B = 3), the pre phase recomputed per block."""
    program = EXAMPLES.get(name) or program_of(LINEAR[name])
    rows, recompute = blocks or (None, None)
    sides = [run_side(program, side, rows=rows, recompute=recompute, mask=True, state=True) for side in SIDES]
    assert_equal(*sides)


BACKENDS = ["numpy"] + (["fast"] if fast.unavailable_reason() is None else [])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("name", sorted(EXAMPLES) + sorted(LINEAR))
@pytest.mark.parametrize("blocks", [None, (1, False), (7, True)], ids=["one-block", "K=1", "K=3+recompute"])
def test_each_side_equals_the_autograd_reference(name, side, backend, blocks):
    """Each side alone against autograd (float64, ≤ 1e-10): loss, every gradient, final states and
    the evaluation NLL, masked and with a carried state, in time blocks, recompute forced on."""
    program = EXAMPLES.get(name) or program_of(LINEAR[name])
    rows, recompute = blocks or (None, None)
    setup = dict(mask=True, state=True, seed=3)
    assert_equal(run_side(program, side, rows=rows, recompute=recompute, backend=backend, **setup),
                 run_side(program, side, reference=True, **setup))


@pytest.mark.parametrize("T", [1, 2, 64])
def test_both_sides_agree_at_other_lengths(T):
    program = EXAMPLES["mingru"]
    assert_equal(*[run_side(program, side, T=T, seed=T, mask=True, state=True) for side in SIDES])


@st.composite
def linear_specs(draw):
    """1-2 states, each h' = a ⊙ h + b with a, b from the inputs: a gate, 1 − a gate, a constant."""
    kind = draw(st.sampled_from(["binary", "real", "token"]))
    lines = [f"input x : {kind}[{draw(st.integers(2, 5))}]",
             f"output y : {draw(st.sampled_from(['binary', 'real', 'token']))}[{draw(st.integers(2, 4))}]"]
    outs = []
    for i in range(draw(st.integers(1, 2))):
        w = draw(st.integers(2, 4))
        f = draw(st.sampled_from(["tanh", "linear"]))
        lines += [f"state h{i} : {w}", f"a{i} : {w} = MLP[sigmoid](x)", f"b{i} : {w} = MLP[{f}](x)"]
        update = draw(st.sampled_from(["a{i} * h{i} + b{i}", "(1 - a{i}) * h{i} + a{i} * b{i}",
                                       "0.7 * h{i} + b{i}", "h{i} * a{i} - 0.25 * h{i}", "b{i}"]))
        lines.append(f"h{i}' = {update.format(i=i)}")
        outs.append(f"h{i}'")
    head = " ⊕ ".join(outs)
    with_input = f"({head} ⊕ x)" if kind != "token" else head  # a token input cannot join ⊕
    lines.append(f"y = ▷ {draw(st.sampled_from([head, f'MLP[tanh 3]({head})', with_input]))}")
    return "\n".join(lines) + "\n"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linear_specs(), st.booleans(), st.sampled_from([None, (1, False), (4, True)]))
def test_random_linear_specs_agree_on_both_sides(text, mask, blocks):
    program = rnnalg.check(rnnalg.parse(text, "linear.rnn"))
    assert parallel_states(program), text
    rows, recompute = blocks or (None, None)
    sides = [run_side(program, side, T=6, B=2, rows=rows, recompute=recompute, mask=mask, state=True)
             for side in SIDES]
    assert_equal(*sides)


@pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_fast_backend_runs_both_sides(name):
    """The fast backend compiles the loop side's kernels (the scan side has none): both sides, and
    the numpy backend, agree."""
    program = EXAMPLES[name]
    numpy_loop = run_side(program, "loop", mask=True, state=True)
    for side in SIDES:
        assert_equal(run_side(program, side, backend="fast", mask=True, state=True), numpy_loop)
        assert_equal(run_side(program, side, backend="fast", rows=7, recompute=True, mask=True, state=True),
                     numpy_loop)


def test_the_parallel_scan_bench_prints_the_auto_column_and_the_fit(capsys, monkeypatch):
    """bench/parallel_scan.py (bench/README.md's commands) on a tiny grid: a row per size with what
    the rule chose and auto's ratio to the better side, the worst ratio, and the fitted constants.
    Its gc.collect() before each timed call is a no-op here: in the suite's process (torch, JAX,
    numba loaded) each took ~0.2-1 s, 28 of them, and the timings' steadiness is not checked."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_parallel_scan", ROOT / "bench" / "parallel_scan.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "gc", SimpleNamespace(collect=lambda: 0))
    assert bench.main(["-H", "4", "-B", "1", "2", "-T", "3", "8", "--repeats", "1", "--clock", "cpu", "--fit"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in out if line.split()[:1] == ["4"]]
    assert [(r[1], r[2]) for r in rows] == [("1", "3"), ("1", "8"), ("2", "3"), ("2", "8")]
    assert all(r[10] == ("scan" if prelude._use_scan(int(r[2]), int(r[1]), 4, 4) else "loop") for r in rows)
    assert out[-2].startswith("worst auto/best f+b over the grid: ") and out[-1].startswith("fit: LOOP_STEP_US = ")
    # times made by the model itself (2 µs per loop step, 0.2 ns per byte per pass): the fit gives them back
    rows = []
    for T, nbytes in [(100, 32), (1000, 32), (100, 4096), (4000, 512), (1000, 20000)]:
        scan = 0.5 + 1e-6 * T * nbytes
        rows.append((T, nbytes, scan, scan + T * (2.0 - nbytes * 0.2 * (T - 1).bit_length() / 1e3) / 1e3))
    assert np.allclose(bench.fit(rows), (2.0, 0.2))
