"""The compiled numpy forward + BPTT against the autograd reference and finite differences."""
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg.testing import compare_with_reference, finite_difference_errors, random_batch

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.rnn"))
TOL = 1e-6


def program_of(text, **sizes):
    return rnnalg.check(rnnalg.parse(text, "test.rnn"), sizes or None)


def small(path):
    return rnnalg.load_program(path, {"H": 6})


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("variant", [
    dict(mask=True, state=True, dropout=True),
    dict(mask=False, state=False, dropout=False),
], ids=["mask+state+dropout", "plain"])
def test_example_matches_autograd(path, variant):
    errors = compare_with_reference(small(path), **variant)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_matches_finite_differences(path):
    assert max(finite_difference_errors(small(path))) < 1e-5


DECLS = """
let H = 6
input  x : {inp}
output y : {out}
state  h : H
"""

# one spec per op and per input/output kind: the op sits in the recurrent transition
OP_SPECS = {
    "tanh": "h' = tanh(x ⊕ h)\ny = ▷ h'",
    "sigmoid": "h' = sigmoid(x ⊕ h)\ny = ▷ h'",
    "relu": "h' = relu(x ⊕ h)\ny = ▷ h'",
    "linear": "h' = linear(x ⊕ h)\ny = ▷ h'",
    "maxout": "h' = maxout[3](x ⊕ h)\ny = ▷ h'",
    "lp2": "h' = lp[2, 2](x ⊕ h)\ny = ▷ h'",
    "lp3": "h' = lp[3, 3](x ⊕ h)\ny = ▷ h'",
    "dropout-scan": "h' = dropout[0.3](tanh(x ⊕ h))\ny = ▷ h'",
    "dropout-post": "h' = tanh(x ⊕ h)\no : 5 = dropout[0.5](relu(h' ⊕ x))\ny = ▷ o",
    "bare-affine-state": "h' = x ⊕ h\ny = ▷ h'",
    "copied-state": "z : 6 = tanh(x ⊕ h)\nh' = z\ny = ▷ (h' ⊕ z)",
    "state-from-inputs-only": "u : 6 = MLP[tanh](x)\nh' = dropout[0.2](sigmoid(u))\ny = ▷ (h' ⊕ h)",
    "deep-input": "u : 4 = MLP[relu 4, sigmoid](x)\nh' = tanh(u ⊕ h)\ny = ▷ h'",
    "prev-state-in-post": "h' = tanh(x ⊕ h)\ny = ▷ (h' ⊕ h ⊕ x)",
    "deep-output-maxout": "h' = tanh(x ⊕ h)\ny = ▷ MLP[maxout[2] 4, tanh 3](h')",
    # elementwise ops (gates) in every phase, with numbers, on pre values and states
    "mul-scan": "h' = sigmoid(x ⊕ h) * tanh(x ⊕ h)\ny = ▷ h'",
    "gru": "z = sigmoid(x ⊕ h)\nr = sigmoid(x ⊕ h)\nh' = (1 - z) * h + z * tanh(x ⊕ r * h)\ny = ▷ h'",
    "sub-neg-shift": "h' = tanh((x ⊕ h) + 1) - 0.5 * h - -sigmoid(x ⊕ h)\ny = ▷ h'",
    "state-times-state": "h' = tanh(x ⊕ h) * h * h - h\ny = ▷ h'",
    "elementwise-pre": "u : 6 = MLP[tanh](x) * MLP[sigmoid](x) + 1\nh' = tanh(u ⊕ h)\ny = ▷ h'",
    "pre-times-state": "u : 6 = MLP[sigmoid](x)\nh' = u * h + (1 - u) * tanh(x ⊕ h)\ny = ▷ h'",
    "elementwise-post": "h' = tanh(x ⊕ h)\no : 5 = tanh(h' ⊕ x) * sigmoid(h' ⊕ x) - 1\ny = ▷ (o ⊕ x)",
    "post-reads-prev-state": "h' = tanh(x ⊕ h)\no = h' * h + h\ny = ▷ (o ⊕ x)",
    "mul-dropout": "h' = dropout[0.3](tanh(x ⊕ h)) * sigmoid(x ⊕ h)\ny = ▷ h'",
    # three affines read h and nothing else of the scan (one fused backward), their other operands differ
    "fused-mixed-operands": "u : 6 = MLP[tanh](x)\ng = sigmoid(x ⊕ h ⊕ u)\n"
                            "h' = g * tanh(h ⊕ x) + (1 - g) * relu(u ⊕ h)\ny = ▷ h'",
    # one joint input array for the gates (a shift folded into its bias), σ of adjacent gates in one call
    # layernorm (own gain and bias per unit) in every phase, and as an MLP layer
    "layernorm-scan": "h' = tanh(layernorm(x ⊕ h))\ny = ▷ h'",
    "layernorm-gates": "c = sigmoid(layernorm(x ⊕ h) + 1)\nh' = c * h + (1 - c) * layernorm(h)\ny = ▷ h'",
    "layernorm-pre-post": "u : 6 = layernorm(MLP[tanh](x))\nh' = tanh(u ⊕ h)\ny = ▷ MLP[layernorm 4](h' ⊕ u)",
    "joint-gates-shift": "h' = sigmoid(x ⊕ h) * sigmoid((x ⊕ h) + 2) * sigmoid(x ⊕ h) + tanh((x ⊕ h) - 1)\ny = ▷ h'",
    "joint-gates-no-inputs": "h' = MLP[sigmoid](h) * MLP[sigmoid](h) - h\ny = ▷ (h' ⊕ x)",
    "shift-read-twice": "a = (x ⊕ h) + 1\nh' = sigmoid(a) * tanh(x ⊕ h) + a\ny = ▷ h'",
    # two affines read h, one of them also a scan value: not fused backward
    "fan-out-not-fused": "z : 6 = tanh(x ⊕ h)\nh' = sigmoid(x ⊕ h) * tanh(z ⊕ h)\ny = ▷ h'",
}
KINDS = [("binary[5]", "binary[5]"), ("token[7]", "token[7]"), ("real[4]", "real[3]")]


@pytest.mark.parametrize("kinds", KINDS, ids=lambda k: f"{k[0]}->{k[1]}")
@pytest.mark.parametrize("op", OP_SPECS)
def test_op_matches_autograd(op, kinds):
    program = program_of(DECLS.format(inp=kinds[0], out=kinds[1]) + OP_SPECS[op])
    errors = compare_with_reference(program, T=4, B=3)
    assert max(errors.values()) < TOL, errors


def test_stacked_states_read_within_the_step():
    text = DECLS.format(inp="binary[5]", out="binary[5]").replace("state  h : H", "state h : H\nstate g : 4")
    text += "h' = tanh(x ⊕ h)\ng' = maxout[2](h' ⊕ g ⊕ h)\ny = ▷ (g' ⊕ h')"
    errors = compare_with_reference(program_of(text))
    assert max(errors.values()) < TOL, errors


def _model_and_batch(path="examples/dots.rnn", T=7, B=3, dtype=np.float64, mask=True):
    program = rnnalg.load_program(Path(__file__).resolve().parents[1] / path, {"H": 8})
    model = rnnalg.compile(program, dtype)
    rng = np.random.default_rng(3)
    return model, model.init_params(rng, "gaussian", 0.3), random_batch(program, T, B, rng, mask)


@pytest.mark.parametrize("path", ["examples/dots.rnn", "examples/lstm.rnn"])
def test_padded_steps_keep_the_state_and_add_no_loss(path):
    model, params, batch = _model_and_batch(path)
    nll, count, final = model.evaluate(params, batch)
    lengths = batch["mask"].sum(0).astype(int)
    assert count == lengths.sum()
    for b, n in enumerate(lengths):  # each sequence run alone, unpadded, to its own length
        alone = {k: v[:n, b:b + 1] for k, v in batch.items() if k != "mask"}
        _, _, final_b = model.evaluate(params, alone)
        for name in final:
            np.testing.assert_allclose(final_b[name][0], final[name][b], rtol=1e-12)


@pytest.mark.parametrize("path", ["examples/dots.rnn", "examples/lstm.rnn"])
def test_carried_state_splits_a_sequence_exactly(path):
    model, params, batch = _model_and_batch(path, mask=False)
    whole, count, final = model.evaluate(params, batch)
    first = {k: v[:3] for k, v in batch.items()}
    second = {k: v[3:] for k, v in batch.items()}
    nll1, c1, mid = model.evaluate(params, first)
    nll2, c2, end = model.evaluate(params, second, mid)
    assert c1 + c2 == count
    np.testing.assert_allclose(nll1 + nll2, whole, rtol=1e-12)
    for name in final:
        np.testing.assert_allclose(end[name], final[name], rtol=1e-12)


def test_float32_by_default_and_close_to_float64():
    model64, params, batch = _model_and_batch()
    model32 = rnnalg.compile(model64.program)
    params32 = {k: v.astype(np.float32) for k, v in params.items()}
    loss32, grads32, _ = model32.loss_and_grad(params32, batch)
    loss64, grads64, _ = model64.loss_and_grad(params, batch)
    assert all(g.dtype == np.float32 for g in grads32.values())
    assert abs(loss32 - loss64) < 1e-4 * abs(loss64)
    for k in grads64:
        np.testing.assert_allclose(grads32[k], grads64[k], atol=1e-4 * np.abs(grads64[k]).max() + 1e-7)


def test_evaluate_agrees_with_loss_and_step_with_evaluate():
    model, params, batch = _model_and_batch(T=5, B=2, mask=False)
    loss, _, final = model.loss_and_grad(params, batch)
    nll, count, final_eval = model.evaluate(params, batch)
    assert abs(loss - nll / count) < 1e-12
    state, total = None, 0.0
    for t in range(5):  # one step at a time, as sampling does
        probs, state = model.step(params, {"x": batch["x"][t]}, state)
        p = np.clip(probs["y"], 1e-300, 1)
        y = batch["y"][t]
        total -= np.sum(y * np.log(p) + (1 - y) * np.log1p(-np.clip(p, 0, 1 - 1e-16)))
    np.testing.assert_allclose(total, nll, rtol=1e-9)
    np.testing.assert_allclose(state["h"], final_eval["h"], rtol=1e-12)


@pytest.mark.parametrize("rate", [0.5, 0.2])
def test_dropout_is_seeded_and_inverted(rate):
    """Through the whole model, not just the masks: y = ▷ dropout[r](x) with an identity predict
    and x = 1 gives logits that are the applied mask: 0, or 1/(1 − r) on a fraction 1 − r
    (rate 0.2: {0, 1.25}, 80 % kept; at 0.5 keep/drop and their swap look alike)."""
    program = program_of(f"input x : 8\noutput y : real[8]\no : 8 = dropout[{rate}](x)\ny = ▷ o")
    model = rnnalg.compile(program, np.float64)
    params = {"y.W_o": np.eye(8), "y.b": np.zeros(8)}
    batch = {"x": np.ones((100, 50, 8))}

    def logits(noise):
        return model.forward(params, batch, None, noise)[3]["y"]

    drawn = logits(model.draw_noise(np.random.default_rng(5), 100, 50))
    assert np.array_equal(drawn, logits(model.draw_noise(np.random.default_rng(5), 100, 50)))
    assert not np.array_equal(drawn, logits(model.draw_noise(np.random.default_rng(6), 100, 50)))
    np.testing.assert_allclose(np.unique(drawn), [0.0, 1.0 / (1.0 - rate)])
    assert abs((drawn > 0).mean() - (1.0 - rate)) < 0.01  # 40,000 units: std 0.0025
    assert abs(drawn.mean() - 1.0) < 0.02  # inverted: the expected value is kept
    assert np.array_equal(logits(None), batch["x"])  # evaluation: no dropout
    assert rnnalg.compile(small(EXAMPLES[0])).draw_noise(np.random.default_rng(0), 3, 2) is None


def test_unknown_init_scheme_is_a_clear_error():
    model = rnnalg.compile(small(EXAMPLES[0]))
    with pytest.raises(ValueError, match="unknown init scheme 'xavier'"):
        model.init_params(np.random.default_rng(0), "xavier")


def test_bad_batch_names_the_array():
    model, params, batch = _model_and_batch()
    with pytest.raises(ValueError, match=r"batch\['x'\] has shape \(7, 3, 5\), expected \(T, B, 88\)"):
        model.loss_and_grad(params, dict(batch, x=batch["x"][:, :, :5]))
    with pytest.raises(ValueError, match="batch has no array for 'y'"):
        model.loss_and_grad(params, {"x": batch["x"]})


TOKENS = """\
input  x : token[6]
output y : token[6]
state  h : 4
h' = tanh(x ⊕ h)
y  = ▷ h'
"""


def test_token_ids_must_be_integers_in_range():
    model = rnnalg.compile(program_of(TOKENS))
    params = model.init_params(np.random.default_rng(0))
    ids = np.random.default_rng(1).integers(0, 6, size=(5, 3))
    good = {"x": ids, "y": ids[::-1].copy()}
    model.loss_and_grad(params, good)
    bad_cases = [  # (batch, message)
        (dict(good, x=np.where(ids == ids[2, 1], -1, ids)) , r"batch\['x'\]\[\d, \d\] = -1 is not a token id "
                                                               r"of x : token\[6\] \(ids are 0\.\.5\)"),
        (dict(good, y=np.full((5, 3), 6)), r"batch\['y'\]\[0, 0\] = 6 is not a token id of y : token\[6\]"),
        (dict(good, x=ids + 0.5), r"batch\['x'\] holds float64 values; token ids of x : token\[6\] "
                                  r"must be integers in 0\.\.5"),
        (dict(good, x=ids.astype(np.float32)), "holds float32 values"),  # even whole-valued floats
    ]
    for batch, message in bad_cases:
        for call in (lambda b: model.loss_and_grad(params, b), lambda b: model.evaluate(params, b)):
            with pytest.raises(ValueError, match=message):
                call(batch)
    with pytest.raises(ValueError, match=r"batch\['x'\]\[0, 1\] = -1 is not a token id"):
        model.step(params, {"x": np.array([2, -1, 0])})
    with pytest.raises(ValueError, match="holds float64 values"):
        model.step(params, {"x": np.array([2.0, 1.0, 0.0])})
    probs, _ = model.step(params, {"x": np.array([2, 5, 0], dtype=np.uint8)})
    assert probs["y"].shape == (3, 6)
