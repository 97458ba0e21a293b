"""Fused elementwise runs of the scan kernels (rnnalg/fast/fusion.py): the fused loops run (their
fallback made to raise) and give numpy's results — the LSTM and GRU examples, masked, float64
to 1e-12 and float32 to rounding; in-place writes, aliases, values read after the run or in the
next step, constants in float32; and the statements as they were where a check fails (an
operand broadcast or overlapping another)."""
import ast
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg import fast
from rnnalg.fast import fusion

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def strict(monkeypatch):
    """Every fused run's fallback raises: a test passing under it ran the fused loops only."""
    real = fusion.fuse_kernel

    def fuse(fn):
        fn = real(fn)
        for node in ast.walk(fn):
            if getattr(node, fusion.MARK, False):
                node.orelse = ast.parse("raise RuntimeError('fused run fell back')").body
        return fn
    monkeypatch.setattr(fusion, "fuse_kernel", fuse)


def _runs(source, name):
    fn = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name)
    return [n for n in ast.walk(fusion.fuse_kernel(fn)) if getattr(n, fusion.MARK, False)]


@pytest.mark.parametrize("stem", ["lstm", "gru"])
@pytest.mark.parametrize("dtype,mask", [(np.float64, True), (np.float64, False), (np.float32, True)])
def test_examples_run_fused_and_equal_numpy(stem, dtype, mask, strict):
    assert_example_fast_equals_numpy(stem, dtype, mask)


def assert_example_fast_equals_numpy(stem, dtype, mask):
    """examples/<stem>.rnn at H=5, T=6, B=3: loss, gradients and final states of the fast backend
    equal the numpy backend's (float64 to 1e-12, float32 to 2e-5, relative to the largest value)."""
    from rnnalg.testing import random_setup
    program = rnnalg.load_program(EXAMPLES / f"{stem}.rnn", {"H": 5})
    _, params, batch, state, _ = random_setup(program, T=6, B=3, backend="numpy", dropout=False, mask=mask)
    results = []
    for backend in ("fast", "numpy"):
        model = rnnalg.compile(program, dtype, backend)
        cast = {k: v.astype(dtype) for k, v in params.items()}
        data = {k: (v if v.dtype.kind in "iu" else v.astype(dtype)) for k, v in batch.items()}
        results.append(model.loss_and_grad(cast, data, {k: v.astype(dtype) for k, v in state.items()}))
    (lf, gf, sf), (ln, gn, sn) = results
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert abs(lf - ln) <= tol * abs(ln)
    for name in gn:
        assert np.max(np.abs(gf[name] - gn[name])) <= tol * np.max(np.abs(gn[name])), name
    for name in sn:
        assert np.max(np.abs(sf[name] - sn[name])) <= tol * np.max(np.abs(sn[name])), name


def test_lstm_step_fuses_the_gates_and_the_cell_update():
    from rnnalg.lower import emit_module
    source = emit_module(rnnalg.load_program(EXAMPLES / "lstm.rnn"))
    # forward: σ over the 600 i/f/o columns, g's tanh with the cell update, tanh(c') with h',
    # and the two masked state holds; backward: the whole elementwise step, masked and not
    assert len(_runs(source, "_scan_forward")) == 5
    assert len(_runs(source, "_scan_backward")) == 2


# a kernel of the lowering's forms: an alias, in place through it, a value read after the run
# (y) and in the next step (carry), a float32 constant (0.1 is not exact), the mask column
KERNEL = '''
def _scan_k(T, B, A, C, O, carry, mk):
    for t in range(T):
        a = A[t]
        x = a * C[t] + carry
        x *= 0.1
        np.tanh(x, O[t])
        y = (1 - mk[t]) * x + 3 * carry
        O[t] -= y
        carry = y
        a2 = O[t]
        np.multiply(a2, -0.5, O[t])
    return carry, y
'''


def _numpy_kernel(source):
    namespace = {"np": np}
    exec(source, namespace)
    return namespace["_scan_k"]


def _arguments(dtype, T=4, B=3, n=7, seed=0):
    rng = np.random.default_rng(seed)
    wide = rng.standard_normal((T, B, 2 * n)).astype(dtype)
    return (T, B, wide[:, :, n:], rng.standard_normal((T, B, n)).astype(dtype), np.zeros((T, B, n), dtype),
            rng.standard_normal((B, n)).astype(dtype), (rng.random((T, B, 1)) < 0.5).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_fused_kernel_equals_the_unfused_one_bit_for_bit_and_numpy_to_rounding(dtype, strict, monkeypatch):
    assert len(_runs(KERNEL, "_scan_k")) == 1
    fused = fast.load_kernels(KERNEL)["_scan_k"]
    monkeypatch.setattr(fusion, "fuse_kernel", lambda fn: fn)
    unfused = fast.load_kernels(KERNEL)["_scan_k"]
    runs = {}
    for name, kernel in (("fused", fused), ("unfused", unfused), ("numpy", _numpy_kernel(KERNEL))):
        args = _arguments(dtype)
        runs[name] = (*kernel(*args), args[4])
    for got, same, near in zip(runs["fused"], runs["unfused"], runs["numpy"]):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, same)  # the same operations in the same order
        # numpy's own tanh differs from the kernels' in the last bits (float32: ≤ 6 ulp, numba_prelude)
        np.testing.assert_allclose(got, near, rtol=1e-12 if dtype == np.float64 else 1e-5, atol=1e-6 if dtype == np.float32 else 0)


@pytest.mark.parametrize("case", ["broadcast", "overlap"])
def test_a_failed_check_runs_the_statements_as_they_were(case):
    """C[t] broadcast (B, 1) (not the mask), or O[t] overlapping A[t] one column on (element j
    writes what j + 1 reads): a fused loop would be wrong, the checks send it to the statements."""
    compiled = fast.load_kernels(KERNEL)["_scan_k"]
    T, B, A, C, O, carry, mk = _arguments(np.float64)
    if case == "broadcast":
        C = np.ascontiguousarray(C[:, :, :1])
        other = A.copy()
    else:
        shared = np.zeros((T, B, A.shape[2] + 1))
        shared[:, :, :-1] = A
        A, O = shared[:, :, :-1], shared[:, :, 1:]  # a fused loop would read what it wrote
        other = shared.copy()
        A_other, O_other = other[:, :, :-1], other[:, :, 1:]
    if case == "broadcast":
        A_other, O_other = other, np.zeros_like(O)
    expected = _numpy_kernel(KERNEL)(T, B, A_other, C, O_other, carry.copy(), mk)
    got = compiled(T, B, A, C, O, carry.copy(), mk)
    for g, e in zip((*got, O), (*expected, O_other)):  # numpy's tanh: within its last bits
        np.testing.assert_allclose(g, e, rtol=1e-12)


# f'(a) from a stored output (lower/rules.step_deriv_rules), in a run: fusion.DERIVS in the loop,
# numba_prelude's helpers in the fallback, lower/prelude's in numpy
DERIV_KERNEL = '''
def _scan_k(T, B, A, C, O, carry, mk):
    for t in range(T):
        x = carry * _tanh_deriv(A[t]) + _sigmoid_deriv(C[t])
        np.multiply(x, _sigmoid_deriv(A[t] * 0.5), O[t])
        carry = x
    return carry, x
'''


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_f_prime_in_a_fused_run_equals_the_helpers_bit_for_bit(dtype, strict, monkeypatch):
    from rnnalg.lower import prelude
    assert len(_runs(DERIV_KERNEL, "_scan_k")) == 1
    fused = fast.load_kernels(DERIV_KERNEL)["_scan_k"]
    monkeypatch.setattr(fusion, "fuse_kernel", lambda fn: fn)
    unfused = fast.load_kernels(DERIV_KERNEL)["_scan_k"]  # numba_prelude's _tanh_deriv, _sigmoid_deriv
    namespace = {"np": np, "_tanh_deriv": prelude._tanh_deriv, "_sigmoid_deriv": prelude._sigmoid_deriv}
    exec(DERIV_KERNEL, namespace)
    runs = {}
    for name, kernel in (("fused", fused), ("unfused", unfused), ("numpy", namespace["_scan_k"])):
        args = _arguments(dtype)
        runs[name] = (*kernel(*args), args[4])
    for got, same, numpy in zip(runs["fused"], runs["unfused"], runs["numpy"]):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, same)
        np.testing.assert_array_equal(got, numpy)  # no tanh here: numpy's numbers exactly
