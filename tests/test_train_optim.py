"""Optimiser maths against hand-computed references, on tiny problems."""
import io

import numpy as np
import pytest

from rnnalg.train.optim import (OPTIMIZERS, adam_init, adam_update, clip_by_global_norm, global_norm,
                                sgd_init, sgd_update)


def _p(*values):
    return {"w": np.array(values, dtype=np.float64)}


def test_plain_sgd_is_gradient_step():
    params, grads = _p(1.0, -2.0), _p(0.5, 4.0)
    new, _ = sgd_update(params, grads, sgd_init(params), lr=0.1, momentum=0.0)
    np.testing.assert_allclose(new["w"], [0.95, -2.4])
    np.testing.assert_array_equal(params["w"], [1.0, -2.0])  # inputs are not mutated


def test_momentum_two_steps_by_hand():
    params, state = _p(1.0), sgd_init(_p(1.0))
    g1, g2 = _p(2.0), _p(-1.0)
    params, state = sgd_update(params, g1, state, lr=0.1, momentum=0.9)
    # v1 = -0.2, θ1 = 0.8
    np.testing.assert_allclose(params["w"], [0.8])
    params, state = sgd_update(params, g2, state, lr=0.1, momentum=0.9)
    # v2 = 0.9 * -0.2 + 0.1 = -0.08, θ2 = 0.72
    np.testing.assert_allclose(state["v/w"], [-0.08])
    np.testing.assert_allclose(params["w"], [0.72])


def test_nesterov_two_steps_by_hand():
    params, state = _p(1.0), sgd_init(_p(1.0))
    params, state = sgd_update(params, _p(2.0), state, lr=0.1, momentum=0.9, nesterov=True)
    # v1 = -0.2; θ1 = 1 + 0.9 * -0.2 - 0.2 = 0.62
    np.testing.assert_allclose(params["w"], [0.62])
    params, state = sgd_update(params, _p(-1.0), state, lr=0.1, momentum=0.9, nesterov=True)
    # v2 = -0.08; θ2 = 0.62 + 0.9 * -0.08 + 0.1 = 0.648
    np.testing.assert_allclose(params["w"], [0.648])


def _adam_reference(theta, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return theta


def test_adam_matches_reference_over_three_steps():
    seq = [np.array([0.3, -2.0]), np.array([0.1, 1.0]), np.array([-0.5, 0.25])]
    params, state = _p(1.0, 1.0), adam_init(_p(1.0, 1.0))
    for g in seq:
        params, state = adam_update(params, {"w": g}, state, lr=0.01)
    np.testing.assert_allclose(params["w"], _adam_reference(np.array([1.0, 1.0]), seq, 0.01), rtol=1e-12)
    assert int(state["t"]) == 3


def test_adam_first_step_is_lr_times_sign():
    params = _p(0.0, 0.0)
    new, _ = adam_update(params, _p(3.0, -1e-3), adam_init(params), lr=0.1)
    np.testing.assert_allclose(new["w"], [-0.1, 0.1], rtol=1e-4)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimisers_minimise_a_quadratic(name):
    init, update, lr = OPTIMIZERS[name]
    target = np.array([3.0, -1.0, 0.5])
    params = {"w": np.zeros(3)}
    state = init(params)
    for _ in range(2000):
        params, state = update(params, {"w": params["w"] - target}, state, lr * 10, momentum=0.9)
    np.testing.assert_allclose(params["w"], target, atol=1e-3)


def test_clip_scales_to_the_global_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert global_norm(grads) == pytest.approx(5.0)
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    assert global_norm(clipped) == pytest.approx(1.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
    np.testing.assert_allclose(clipped["b"], [[0.8]])
    same, _ = clip_by_global_norm(grads, 10.0)
    assert same is grads
    off, _ = clip_by_global_norm(grads, 0)
    assert off is grads


def test_clip_reports_non_finite_norm():
    _, norm = clip_by_global_norm({"a": np.array([np.nan, 1.0])}, 1.0)
    assert not np.isfinite(norm)


def test_clip_keeps_float32():
    clipped, _ = clip_by_global_norm({"a": np.full(4, 10, np.float32)}, 1.0)
    assert clipped["a"].dtype == np.float32


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_round_trips_through_npz_without_pickle(name):
    init, update, lr = OPTIMIZERS[name]
    params = {"h'.W_x": np.ones((2, 3), np.float32), "y.b": np.zeros(3, np.float32)}
    _, state = update(params, {k: np.full_like(v, 0.5) for k, v in params.items()}, init(params), lr)
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        loaded = {k: z[k] for k in z.files}
    assert loaded.keys() == state.keys()
    for k in state:
        np.testing.assert_array_equal(loaded[k], state[k])
        assert loaded[k].dtype == state[k].dtype
