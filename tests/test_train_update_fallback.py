"""The trainer's one update path where FlatStep refuses the arrays (`FlatStep.of` is None: an
optimiser not in optim.py, parameters of mixed dtypes): `DictStep` runs the dict functions, and
the numbers are those of the frozen update of tests/test_train_bitident.py, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

from rnnalg.train.flatstep import DictStep, FlatStep
from test_train_bitident import _check_against_frozen, _trainer


def _wrapped(t):
    """An optimiser not in optim.py (FlatStep.of refuses it): the same update behind a lambda."""
    update = t.update_opt
    t.update_opt = lambda *args, **kw: update(*args, **kw)


def _mixed(t):
    """One bias in float64 in a float32 model (FlatStep.of refuses mixed dtypes)."""
    name = next(k for k in t.params if t.model.param_roles[k] == "bias")
    t.params = {k: v.astype(np.float64) if k == name else v for k, v in t.params.items()}
    t.opt_state = t.init_opt(t.params)


CASES = {
    "adam, another optimiser": (dict(spec="rnn.rnn"), _wrapped),
    "sgd nesterov, another optimiser": (dict(spec="lstm.rnn", optimizer="sgd", lr=0.01, nesterov=True), _wrapped),
    "adam no clip no noise, another optimiser": (dict(spec="rnn.rnn", clip=0.0, weight_noise=0.0), _wrapped),
    "zoneout, another optimiser": (dict(spec="lstm_zoneout.rnn"), _wrapped),
    "adam, mixed dtypes": (dict(spec="rnn.rnn"), _mixed),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_dict_step_gives_the_frozen_numbers(tmp_path, case):
    kw, refuse = CASES[case]
    t = _trainer(tmp_path, **kw)
    refuse(t)
    assert FlatStep.of(t.params, t.opt_state, t.model.param_roles, t.update_opt) is None
    assert isinstance(t._step(), DictStep)
    _check_against_frozen(t)
    assert t._flat is None  # every update ran through the DictStep
    if refuse is _mixed:
        assert {a.dtype for a in t.params.values()} == {np.dtype(np.float32), np.dtype(np.float64)}


def test_a_numpy_lr_steps_through_the_same_flat_buffers(tmp_path):
    """A numpy float lr: FlatStep runs the dict update itself and copies it in; it stays the step."""
    t = _trainer(tmp_path, spec="rnn.rnn")
    t.state.lr = np.float64(t.state.lr)
    first = t._step()
    _check_against_frozen(t)
    assert t._flat is first and first.linked(t.params, t.opt_state)
