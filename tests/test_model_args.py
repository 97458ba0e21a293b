"""The Python API refuses what it cannot run, naming the parameter, input or state and the shape
it expects, before anything is computed (issue 17, item 13; rnnalg/model_args.py)."""
import numpy as np
import pytest

import rnnalg

MUSIC = """\
input  x : binary[5]
output y : binary[5]
state  h : 4
h' = tanh(x ⊕ h)
y  = ▷ h'
"""


@pytest.fixture
def setup():
    program = rnnalg.check(rnnalg.parse(MUSIC, "m.rnn"))
    model = rnnalg.compile(program)
    params = model.init_params(np.random.default_rng(0))
    rng = np.random.default_rng(1)
    batch = {"x": (rng.random((6, 3, 5)) < 0.3).astype(np.float32),
             "y": (rng.random((6, 3, 5)) < 0.3).astype(np.float32)}
    state = {"h": np.zeros((3, 4), np.float32)}

    def nothing_may_run(*args, **kwargs):
        raise AssertionError("the model ran on arguments it should have refused")

    for name in ("loss_and_grad", "forward"):
        model._module[name] = nothing_may_run
    return model, params, batch, state


CALLS = {
    "loss_and_grad": lambda m, p, b, s: m.loss_and_grad(p, b, s),
    "evaluate": lambda m, p, b, s: m.evaluate(p, b, s),
    "forward": lambda m, p, b, s: m.forward(p, b, s),
}


def _refused(setup, error, message, params=None, batch=None, state=None):
    model, good_params, good_batch, good_state = setup
    args = (params or good_params, batch or good_batch, state or good_state)
    for name, call in CALLS.items():
        with pytest.raises(error, match=message):
            call(model, *args)


def test_compile_of_an_unchecked_spec_or_none_says_what_it_takes():
    spec = rnnalg.parse(MUSIC, "m.rnn")
    with pytest.raises(TypeError, match=r"takes a checked program, not a parsed Spec.*rnnalg\.check\(spec"):
        rnnalg.compile(spec)
    with pytest.raises(TypeError, match="takes a checked program .* got NoneType"):
        rnnalg.compile(None)
    with pytest.raises(TypeError, match="dtype int32 cannot hold a model's values"):
        rnnalg.compile(rnnalg.check(spec), dtype=np.int32)


def test_compile_takes_a_path_as_its_docstring_says(tmp_path):
    path = tmp_path / "m.rnn"
    path.write_text(MUSIC, encoding="utf-8")
    assert rnnalg.compile(str(path)).param_shapes["h'.W_h"] == (4, 4)


def test_a_missing_parameter_is_named_with_its_shape(setup):
    params = dict(setup[1])
    del params["h'.W_h"]
    _refused(setup, ValueError, r"params has no \"h'.W_h\" \(shape \(4, 4\)\)", params=params)


def test_a_misspelt_parameter_is_refused_not_ignored(setup):
    params = dict(setup[1])
    params["h'.W_hh"] = params.pop("h'.W_h")  # a misspelling replaces the real one: missing
    _refused(setup, ValueError, r"did you mean", params=params)
    params = dict(setup[1], **{"y.bias": np.zeros(5, np.float32)})  # an extra key beside all the right ones
    _refused(setup, ValueError, r"params has 'y.bias', which is not a parameter of m.rnn "
                                r"\(did you mean 'y.b'\?\)", params=params)


def test_a_parameter_of_the_wrong_shape_or_dtype(setup):
    params = dict(setup[1], **{"y.b": np.zeros((5, 1), np.float32)})
    _refused(setup, ValueError, r"params\['y.b'\] has shape \(5, 1\), expected \(5,\)", params=params)
    params = dict(setup[1], **{"y.b": np.zeros(5, np.int64)})
    _refused(setup, TypeError, r"params\['y.b'\] holds int64 values; expected a floating-point array "
                               r"of shape \(5,\)", params=params)
    params = dict(setup[1], **{"y.b": np.zeros(5, bool)})
    _refused(setup, TypeError, r"params\['y.b'\] holds bool values", params=params)
    _refused(setup, TypeError, "params must be a dict", params=[1, 2])


def test_a_state_of_the_wrong_shape_name_or_dtype(setup):
    _refused(setup, ValueError, r"state\['h'\] has shape \(4, 3\), expected \(3, 4\)",
             state={"h": np.zeros((4, 3), np.float32)})
    _refused(setup, ValueError, r"state\['h'\] has shape \(2, 4\), expected \(3, 4\)",
             state={"h": np.zeros((2, 4), np.float32)})
    _refused(setup, ValueError, r"state has 'hh', which is not a state of m.rnn \(did you mean 'h'\?\)",
             state={"hh": np.zeros((3, 4), np.float32)})
    _refused(setup, TypeError, r"state\['h'\] holds int64 values; expected a floating-point array of "
                               r"shape \(3, 4\)", state={"h": np.zeros((3, 4), np.int64)})
    _refused(setup, ValueError, r"state\['h'\]\[1, 2\] = nan", state={"h": np.where(
        np.arange(12).reshape(3, 4) == 6, np.nan, 0).astype(np.float32)})


def test_a_mask_of_the_wrong_shape_or_values(setup):
    batch = dict(setup[2], mask=np.ones((3, 6), np.float32))
    _refused(setup, ValueError, r"batch\['mask'\] has shape \(3, 6\), expected \(T, B\) = \(6, 3\)", batch=batch)
    batch = dict(setup[2], mask=np.full((6, 3), 2.0))
    _refused(setup, ValueError, r"batch\['mask'\]\[0, 0\] = 2.0; values must lie in \[0, 1\]", batch=batch)


def test_targets_of_a_binary_output_lie_in_0_1_and_inputs_are_finite(setup):
    y = setup[2]["y"].copy()
    y[2, 1, 3] = 3.0
    _refused(setup, ValueError, r"batch\['y'\] \(targets of y : binary\[5\]\)\[2, 1, 3\] = 3.0; "
                                r"values must lie in \[0, 1\]", batch=dict(setup[2], y=y))
    x = setup[2]["x"].copy()
    x[4, 0, 1] = np.nan
    _refused(setup, ValueError, r"batch\['x'\]\[4, 0, 1\] = nan; inputs, targets, masks and states "
                                "must be finite", batch=dict(setup[2], x=x))


def test_soft_binary_targets_and_integer_piano_rolls_are_accepted():
    program = rnnalg.check(rnnalg.parse(MUSIC, "m.rnn"))
    model = rnnalg.compile(program)
    params = model.init_params(np.random.default_rng(0))
    rng = np.random.default_rng(1)
    rolls = (rng.random((6, 3, 5)) < 0.3).astype(np.uint8)
    loss, _, _ = model.loss_and_grad(params, {"x": rolls, "y": rolls.astype(bool)})
    soft, _, _ = model.loss_and_grad(params, {"x": rolls, "y": np.full((6, 3, 5), 0.25)})
    assert np.isfinite(loss) and np.isfinite(soft) and loss != soft
