"""The reverse scan's step products G[t] @ Wᵀ against a C-ordered copy of Wᵀ from STEP_WT_COPY_ROWS rows
on (prelude `_step_weight_T`, issue 21: bench/gemm_layouts.py): the same numbers as the transposed
view (today's layout below the threshold) on every example, autograd's gradients, the fast backend's."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg import fast
from rnnalg.lower import prelude
from rnnalg.testing import compare_with_reference, random_setup

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.rnn"))
ROWS = prelude.STEP_WT_COPY_ROWS  # B at which the copy starts
TOL = 1e-12


def small(path):
    return rnnalg.load_program(path, {"H": 6})


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def test_the_rule_copies_from_its_rows_on_and_views_below():
    w = np.arange(12.0).reshape(3, 4)
    below, above = prelude._step_weight_T(w, ROWS - 1), prelude._step_weight_T(w, ROWS)
    assert np.shares_memory(below, w) and below.flags.f_contiguous and not below.flags.c_contiguous
    assert not np.shares_memory(above, w) and above.flags.c_contiguous
    np.testing.assert_array_equal(below, w.T)
    np.testing.assert_array_equal(above, w.T)


def _run(model, setup, copy_rows):
    """loss_and_grad of the model's emitted numpy module with STEP_WT_COPY_ROWS = copy_rows."""
    namespace = {"__name__": "rnnalg_step_layout"}
    exec(compile(model.source, "<model>", "exec"), namespace)
    namespace["STEP_WT_COPY_ROWS"] = copy_rows
    return namespace["loss_and_grad"](*setup)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_gives_the_same_numbers_in_either_layout(path):
    """float64, padded batch, initial states, dropout: the copy (B = ROWS) against the view (today's)."""
    model, params, batch, state, noise = random_setup(small(path), T=4, B=ROWS, backend="numpy")
    (l1, g1, s1), (l0, g0, s0) = (_run(model, (params, batch, state, noise), rows) for rows in (ROWS, 10 ** 9))
    errors = {"loss": _rel(l1, l0), **{k: _rel(g1[k], g0[k]) for k in g0}, **{k: _rel(s1[k], s0[k]) for k in s0}}
    assert max(errors.values()) <= TOL, errors


@pytest.mark.parametrize("stem", ["lstm", "gru", "rnn", "dots"])
def test_the_copied_layout_matches_autograd(stem):
    errors = compare_with_reference(small(ROOT / "examples" / f"{stem}.rnn"), T=4, B=ROWS, backend="numpy")
    assert max(errors.values()) < 1e-9, errors


@pytest.fixture(scope="module")
def floor():
    spec = importlib.util.spec_from_file_location("bench_floor_layout", ROOT / "bench" / "floor.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_floor_layout"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_floor_layout", None)


@pytest.mark.parametrize("B, layout", [(ROWS - 1, "T"), (ROWS, "N"), (64, "N")])
def test_the_traced_backward_step_products_take_the_layout_of_the_rule(floor, B, layout):
    """LSTM H=8: the T reverse-step products (B×4H)·(4H×H) read Wᵀ as BLAS's 'T' (the view) below
    ROWS rows and row-major 'N' (the copy) from there on."""
    T, H = 3, 8
    model, params, batch = floor.model_setup(rnnalg.load_program(ROOT / "examples" / "lstm.rnn", {"H": H}), T, B)
    steps = [p for p in floor.trace_products(model.source, params, batch) if p.text().startswith(f"({B}×{4 * H})")]
    assert len(steps) == T and {p.b.shape for p in steps} == {(4 * H, H)}
    assert {p.b.layout for p in steps} == {layout}


@pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")
@pytest.mark.parametrize("stem", ["lstm", "gru"])
def test_the_fast_backend_takes_the_copy_alike(stem):
    """The compiled kernels at B = ROWS (Wᵀ C-ordered: numpy's gemm 'N'), float64, against the numpy module."""
    program = small(ROOT / "examples" / f"{stem}.rnn")
    results = []
    for backend in ("fast", "numpy"):
        model, params, batch, state, noise = random_setup(program, T=4, B=ROWS, backend=backend)
        assert model.backend == backend
        results.append(model.loss_and_grad(params, batch, state, noise))
    (lf, gf, sf), (ln, gn, sn) = results
    errors = {"loss": _rel(lf, ln), **{k: _rel(gf[k], gn[k]) for k in gn}, **{k: _rel(sf[k], sn[k]) for k in sn}}
    assert max(errors.values()) <= TOL, errors
