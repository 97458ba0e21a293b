"""L_p pooling, y = (ε^p + mean_k |a|^p)^(1/p) − ε: the forward rule, the VJP rule and the autograd
reference agree, for large p, large inputs and all-zero groups, in float32 and float64."""
import numpy as np
import pytest
from autograd import grad

import rnnalg
from rnnalg.lower import prelude
from rnnalg.reference import reference_rules
from rnnalg.testing import compare_with_reference, finite_difference_errors

P_VALUES = [1.0, 2.0, 3.0, 60.0]


def inputs(dtype, scale=1.0, k=2, groups=6, seed=0):
    """(3, groups·k) values: random, with one all-zero group and one group holding a single zero."""
    a = np.random.default_rng(seed).normal(0.0, scale, size=(3, groups * k))
    a[0, :k] = 0.0
    a[1, k] = 0.0
    return a.astype(dtype)


def reference(a, p, k):
    return reference_rules["lp"](a, {"p": p, "k": k}, None)


def naive(a, p, k):
    """The textbook formula in extended precision, for inputs where it neither overflows nor underflows."""
    g = np.abs(a.astype(np.longdouble)).reshape(a.shape[:-1] + (-1, k))
    eps = np.longdouble(prelude.LP_EPS)
    return (eps ** p + (g ** p).mean(axis=-1)) ** (1 / np.longdouble(p)) - eps


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [2.0, 60.0])
def test_lp_of_a_zero_group_is_zero_with_a_finite_gradient(dtype, p):
    a = np.zeros((2, 4), dtype=dtype)
    y = prelude._lp(a, p, 2)
    assert y.dtype == dtype and np.all(np.abs(y) < 1e-9)  # was 0.79 at p = 60
    assert np.array_equal(prelude._lp_grad(a, np.ones_like(y), p, 2), np.zeros_like(a))
    assert np.all(np.abs(reference(a.astype(np.float64), p, 2)) < 1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", P_VALUES)
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e4], ids=["small", "unit", "large"])
def test_lp_forward_matches_the_formula(dtype, p, scale):
    a = inputs(dtype, scale)
    y = prelude._lp(a, p, 2)
    assert y.dtype == dtype and np.all(np.isfinite(y))  # (1e4)^60 overflowed float32 (and float64)
    want = np.asarray(naive(a, p, 2), dtype=np.float64)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(y, want, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(reference(a.astype(np.float64), p, 2), want, rtol=1e-13, atol=1e-13 * scale)


@pytest.mark.parametrize("p", P_VALUES)
@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e4], ids=["about-eps", "unit", "large"])
def test_lp_vjp_matches_autograd_and_finite_differences(p, scale):
    a = inputs(np.float64, scale, k=3, seed=1)
    g = np.random.default_rng(2).normal(size=(3, a.shape[1] // 3))
    vjp = prelude._lp_grad(a, g, p, 3)
    auto = grad(lambda v: np.sum(reference(v, p, 3) * g))(a)
    np.testing.assert_allclose(vjp, auto, rtol=1e-10, atol=1e-12)
    assert np.all(np.abs(vjp) <= np.abs(g).max() * 3 ** (-1 / p) + 1e-12)  # the bound in _lp_grad
    d = np.random.default_rng(3).normal(size=a.shape)
    d[0, :3] = 0.0  # |a| is not differentiable at the zero group: probe elsewhere
    h = 1e-6 * scale
    numeric = (np.sum(prelude._lp(a + h * d, p, 3) * g) - np.sum(prelude._lp(a - h * d, p, 3) * g)) / (2 * h)
    rounding = 1e-16 * np.abs(prelude._lp(a, p, 3) + prelude.LP_EPS).max() / h  # in the differences
    assert abs(numeric - np.sum(vjp * d)) < (1e-6 * np.linalg.norm(vjp) + 10 * rounding) * np.linalg.norm(d)


@pytest.mark.parametrize("p", [2.0, 60.0])
def test_lp_vjp_in_float32_matches_float64(p):
    a = inputs(np.float64, 1e4, seed=4)
    g = np.random.default_rng(5).normal(size=(3, a.shape[1] // 2))
    want = prelude._lp_grad(a, g, p, 2)
    got = prelude._lp_grad(a.astype(np.float32), g.astype(np.float32), p, 2)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


LP60 = """
let H = 6
input  x : binary[5]
output y : binary[5]
state  h : H
z : H = lp[60, 2](x ⊕ h)
h' = lp[60, 3](z ⊕ h)
y = ▷ (h' ⊕ z)
"""


def test_large_p_spec_matches_the_reference_and_finite_differences():
    program = rnnalg.check(rnnalg.parse(LP60, "lp60.rnn"))
    assert max(compare_with_reference(program).values()) < 1e-6
    assert max(finite_difference_errors(program)) < 1e-5


def test_large_p_spec_with_large_weights_runs_in_float32():
    """Weights ×1000: the pooled values are ~1e3–1e6 and |a|^60 would overflow float32."""
    program = rnnalg.check(rnnalg.parse(LP60, "lp60.rnn"))
    rng = np.random.default_rng(0)
    model64, model32 = rnnalg.compile(program, np.float64), rnnalg.compile(program, np.float32)
    params = {k: 1e3 * v for k, v in model64.init_params(rng).items()}
    batch = {"x": (rng.random((4, 2, 5)) < 0.5).astype(float), "y": (rng.random((4, 2, 5)) < 0.5).astype(float)}
    loss64, grads64, _ = model64.loss_and_grad(params, batch)
    loss32, grads32, _ = model32.loss_and_grad({k: v.astype(np.float32) for k, v in params.items()}, batch)
    assert np.isfinite(loss32) and abs(loss32 - loss64) < 1e-4 * abs(loss64)
    for name, g in grads64.items():
        assert np.all(np.isfinite(grads32[name])), name
        np.testing.assert_allclose(grads32[name], g, atol=1e-3 * max(np.abs(g).max(), 1e-3), err_msg=name)
