"""A scan's step products by a weight packed once (rnnalg/fast/numba_packed.py): the micro-kernels
against numpy's @ in float64 over awkward shapes and layouts, the rule that picks them, and the
kernel rewrite that packs each step weight before the loops."""
import numpy as np
import pytest

from rnnalg import fast

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")

# (M, K, N): one row, rows that are not a multiple of the 8/4/2/1 blocks, odd K, N not a multiple
# of a panel's 32 (float32) or 16 (float64) columns, N under one panel, and the LSTM's shapes
SHAPES = [(1, 7, 5), (2, 3, 1), (3, 13, 33), (7, 1, 17), (9, 31, 16), (15, 200, 800), (16, 800, 200),
          (23, 5, 70), (64, 40, 96)]


@pytest.fixture(scope="module")
def steps():
    from numba import njit

    from rnnalg.fast.numba_packed import _pack_step_weight, _packed_dot_into, _packed_weight, _step_dot_into, _step_matmul

    @njit
    def run(a, w, out, rows):
        """(a · w as the rule picks for `rows`, into out and new; a · w by the micro-kernels always)"""
        packed = _pack_step_weight(w, rows)
        _step_dot_into(a, w, packed, out)
        always = np.empty((a.shape[0], w.shape[1]), a.dtype)
        panels, scratch = _packed_weight(w)
        _packed_dot_into(a, panels, scratch, always)
        return _step_matmul(a, w, packed), always
    return run


def views(x):
    """x as rows of a wider array and as the transpose of such (read in place, non-contiguous: numba
    compiles `run` once per dtype)."""
    rows, cols = x.shape
    wide = np.zeros((rows, cols + 3), x.dtype)
    wide[:, 1:1 + cols] = x
    tall = np.zeros((cols, rows + 3), x.dtype)
    tall[:, 1:1 + rows] = x.T
    return [wide[:, 1:1 + cols], tall[:, 1:1 + rows].T]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_packed_products_match_numpy(steps, shape, dtype):
    m, k, n = shape
    rng = np.random.default_rng(m * 1000 + k)
    A, W = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    expected = A.astype(np.float64) @ W.astype(np.float64)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    scale = max(1.0, np.abs(expected).max())
    for a in views(A):
        for w in views(W):
            out = np.full((m + 1, n + 2), np.nan, dtype)[1:, 1:1 + n]  # rows of a wider array
            into_fortran = np.full((n + 1, m + 1), np.nan, dtype)[1:, 1:].T  # rows not contiguous: the BLAS
            for rows in (m, 16):  # as the rule picks for these rows, and for 16 (the LSTM's shapes: packed)
                new, always = steps(a, w, out, rows)
                steps(a, w, into_fortran, rows)
                for got in (out, new, always, into_fortran):
                    assert got.dtype == dtype and got.shape == (m, n)
                    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)


def test_packed_sum_runs_in_k_order_like_a_row_of_fmas(steps):
    """out[r, c] = fma(a[r, K-1], W[K-1, c], … fma(a[r, 0], W[0, c], 0)): in float32 exactly the
    float32 sum in k order (float64 products, rounded at each fma)."""
    rng = np.random.default_rng(3)
    a, w = rng.standard_normal((5, 37)).astype(np.float32), rng.standard_normal((37, 45)).astype(np.float32)
    _, out = steps(a[:, :], w[:, :], np.empty((5, 45), np.float32)[:, :], 16)
    acc = np.zeros((5, 45), np.float32)
    for k in range(37):
        acc = (a[:, k, None].astype(np.float64) * w[k].astype(np.float64) + acc).astype(np.float32)
    np.testing.assert_array_equal(out, acc)


def test_panels_hold_the_weight_and_zeros_past_it():
    from rnnalg.fast.numba_packed import _pack_panels
    w = np.arange(3 * 40, dtype=np.float32).reshape(3, 40)
    packed = _pack_panels(w.T.copy().T)  # a transposed view
    assert packed.shape == (2, 3, 32)
    np.testing.assert_array_equal(packed[0], w[:, :32])
    np.testing.assert_array_equal(packed[1, :, :8], w[:, 32:])
    assert not packed[1, :, 8:].any()


@pytest.mark.parametrize("rows, inner, cols, packed", [
    (1, 200, 800, False),    # one row: gemv
    (8, 800, 200, False),    # under 16 rows
    (16, 200, 200, False),   # a 160 KB weight (the RNN's, a GRU gate's)
    (16, 200, 800, True),    # LSTM forward, B = 16
    (32, 200, 800, True),    # B = 32, 64: an L2-sized weight too (its packing per call is short)
    (16, 800, 200, True),    # the backward's Wᵀ (K > N)
    (64, 800, 200, True),    # the backward's, packed per time block
    (64, 400, 1600, True),   # the char LSTM's forward: 2.5 MB, beyond L2
])
def test_rule_by_shape(rows, inner, cols, packed):
    from rnnalg.fast.numba_packed import _pack_step_weight, use_packed
    assert use_packed(rows, inner, cols, 4) is packed
    assert (_pack_step_weight(np.zeros((inner, cols), np.float32), rows)[0].shape[0] > 0) is packed


def test_kernel_text_packs_each_step_weight_before_the_loop():
    from rnnalg.fast.backend import kernel_module_text
    source = ("def _scan_forward(T, B, h, W, V, out, G):\n"
              "    U = V\n"
              "    np.dot(h, V, out)\n"
              "    for t in range(T):\n"
              "        np.dot(h, W, out)\n"
              "        g = G[t] @ W.T + np.dot(h, W) + h @ U\n")
    body = kernel_module_text(source).split("def _scan_forward")[1]
    lines = [line.strip() for line in body.splitlines()]
    assert lines[1] == "_packed_W = _pack_step_weight(W, B)"
    assert "_step_dot_into(h, W, _packed_W, out)" in body
    assert "_step_matmul(h, W, _packed_W)" in body
    assert "_dot_into(h, V, out)" in lines  # outside the loop: the BLAS
    assert "_matmul(G[t], W.T)" in body and "_matmul(h, U)" in body  # not a name, or assigned: the BLAS
    assert body.count("_pack_step_weight") == 1


@pytest.mark.parametrize("B, T", [(16, 3), (64, 40)])  # B = 64: the reverse scan in 3 time blocks of 16 steps
def test_an_lstm_whose_step_products_run_packed_equals_numpy_in_float64(B, T):
    """H = 128, float64: W_h 128 × 512 and Wᵀ 512 × 128 are 512 KB, B = 16 or 64 rows: both packed (the
    rule; Wᵀ once per time block), and the fast backend's loss, gradients and final states are the numpy
    module's."""
    from pathlib import Path

    import rnnalg
    from rnnalg.fast.numba_packed import use_packed
    from rnnalg.testing import random_setup
    assert use_packed(B, 128, 512, 8) and use_packed(B, 512, 128, 8)
    program = rnnalg.load_program(Path(__file__).resolve().parents[1] / "examples" / "lstm.rnn", {"H": 128})
    results = []
    for backend in ("fast", "numpy"):
        model, params, batch, state, noise = random_setup(program, T=T, B=B, backend=backend)
        model.batch_threads = 1
        results.append(model.loss_and_grad(params, batch, state, noise))
    (lf, gf, sf), (ln, gn, sn) = results

    def rel(a, b):
        return float(np.max(np.abs(np.asarray(a) - b)) / max(np.max(np.abs(b)), 1e-300))
    errors = {"loss": rel(lf, ln), **{k: rel(gf[k], gn[k]) for k in gn}, **{k: rel(sf[k], sn[k]) for k in sn}}
    assert max(errors.values()) <= 1e-12, errors


@pytest.mark.parametrize("features, packed_from", [
    ({"avx512f", "avx512bw", "avx2", "fma"}, (16, 1 << 19)),  # Zen 4, where the thresholds were measured
    ({"avx2", "fma", "avx"}, None),                           # AVX2: LLVM splits each 16-lane vector
    ({"avx512f"}, None),                                      # no FMA: llvm.fma a library call per lane
    ({"sse2"}, None),
    (set(), None),
])
def test_rule_by_cpu_features(features, packed_from):
    from rnnalg.fast.numba_packed import NEVER, thresholds_for
    rule = thresholds_for(features)
    assert (rule is NEVER) is (packed_from is None)
    if packed_from is not None:
        assert (rule.min_rows, rule.min_bytes) == packed_from


def test_rule_follows_the_features_numba_compiles_for():
    """This machine's rule is the row of its features; a CPU without FMA ($NUMBA_CPU_FEATURES) packs nothing."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from rnnalg.fast import numba_packed
    here = numba_packed.thresholds_for(numba_packed.compiled_features())
    assert (numba_packed.MIN_ROWS, numba_packed.MIN_BYTES) == tuple(here)
    if {"avx512f", "fma"} <= numba_packed.compiled_features():  # the machine the rule was measured on
        assert numba_packed.use_packed(16, 200, 800, 4)
    env = dict(os.environ, NUMBA_CPU_NAME="x86-64", NUMBA_CPU_FEATURES="+sse,+sse2,+avx,+avx2")
    code = ("from rnnalg.fast import numba_packed as p; "
            "print(p.thresholds_for(p.compiled_features()) is p.NEVER, p.MIN_ROWS > 1 << 40)")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert run.stdout.split() == ["True", "True"], run.stderr
