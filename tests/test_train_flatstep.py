"""FlatStep's buffers: aligned views, copies of the caller's arrays, and where it steps aside."""
import numpy as np

from rnnalg.train.flatstep import ALIGN, FlatStep
from rnnalg.train.optim import adam_init, adam_update, sgd_init, sgd_update

ROLES = {"W": "weight", "b": "bias", "E": "embedding"}


def _params(dtype=np.float32):
    rng = np.random.default_rng(0)
    return {"W": rng.standard_normal((5, 3)).astype(dtype), "b": np.zeros(3, dtype),
            "E": rng.standard_normal((7, 2)).astype(dtype)}


def test_views_are_aligned_copies_in_the_callers_order():
    params = _params()
    opt = adam_init(params)
    step = FlatStep.of(params, opt, ROLES, adam_update)
    assert list(step.params) == list(params) and list(step.opt_state) == list(opt)
    for name, view in {**step.params, **step.opt_state}.items():
        if view.ndim:
            assert view.ctypes.data % ALIGN == 0 and view.flags.c_contiguous, name
    for k in params:
        np.testing.assert_array_equal(step.params[k], params[k])
        assert not np.shares_memory(step.params[k], params[k])
    assert step.linked(step.params, step.opt_state)
    assert not step.linked({**step.params, "W": step.params["W"].copy()}, step.opt_state)


def test_noise_leaves_biases_and_the_clean_parameters_alone():
    step = FlatStep.of(_params(), sgd_init(_params()), ROLES, sgd_update)
    clean = {k: v.copy() for k, v in step.params.items()}
    noisy = step.add_weight_noise(0.1, np.random.default_rng(1))
    assert noisy["b"] is step.params["b"]
    assert not np.array_equal(noisy["W"], clean["W"]) and not np.array_equal(noisy["E"], clean["E"])
    for k in clean:
        np.testing.assert_array_equal(step.params[k], clean[k])


def test_steps_aside_for_other_updates_mixed_dtypes_and_odd_states():
    params = _params()
    assert FlatStep.of(params, adam_init(params), ROLES, lambda *a, **k: None) is None
    mixed = {**params, "b": params["b"].astype(np.float64)}
    assert FlatStep.of(mixed, adam_init(mixed), ROLES, adam_update) is None
    wide_moments = {k: v.astype(np.float64) for k, v in adam_init(params).items()}
    assert FlatStep.of(params, wide_moments, ROLES, adam_update) is None
    assert FlatStep.of(params, sgd_init(params), ROLES, adam_update) is None  # SGD's state for Adam
    assert FlatStep.of(params, adam_init(params), ROLES, sgd_update) is None


def test_python_numbers_only():
    step = FlatStep.of(_params(), adam_init(_params()), ROLES, adam_update)
    assert step.can_update(1e-3, 0.9) and step.can_update(1, 0)
    assert not step.can_update(np.float64(1e-3)) and not step.can_update(1e-3, np.float32(0.9))
