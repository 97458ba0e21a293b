"""Recurrent regularisers (issue 20, item 2): variational dropout `vdropout[r]` (one mask per
sequence) and zoneout `h' = zoneout[r](…)` (a unit keeps h_{t-1} with probability r in training,
the expectation at evaluation): checked, lowered (numpy, fast) equal to the autograd reference."""
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg import fast
from rnnalg.errors import SpecError
from rnnalg.reference import reference_forward
from rnnalg.testing import compare_with_reference, finite_difference_errors, random_batch

ROOT = Path(__file__).resolve().parents[1]
HEAD = "input x : real[3]\noutput y : binary[2]\nstate h : 4\n"
BACKENDS = ["numpy"] + (["fast"] if fast.unavailable_reason() is None else [])
SPECS = {
    "zoneout": "h' = zoneout[0.3](tanh(x ⊕ h))\ny = ▷ h'",
    "zoneout-of-a-sum": "g = sigmoid(x ⊕ h)\nh' = zoneout[0.5](g * h + (1 - g) * tanh(x ⊕ h))\ny = ▷ (h' ⊕ h)",
    "vdropout-scan-post": "h' = vdropout[0.4](tanh(x ⊕ h))\no : 3 = vdropout[0.2](relu(h' ⊕ x))\ny = ▷ o",
    "vdropout-pre": "u : 5 = vdropout[0.5](MLP[tanh](x))\nh' = zoneout[0.1](tanh(u ⊕ h))\ny = ▷ h'",
}


def program_of(body):
    return rnnalg.check(rnnalg.parse(HEAD + body, "noise.rnn"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("noise", [True, False])
@pytest.mark.parametrize("name", SPECS)
def test_noise_ops_match_autograd(name, noise, backend):
    """Training (masks drawn) and evaluation (None), with padding and a carried state."""
    errors = compare_with_reference(program_of(SPECS[name]), T=5, B=3, dropout=noise, backend=backend)
    assert max(errors.values()) < 1e-10, errors


def test_lstm_zoneout_example_matches_finite_differences():
    program = rnnalg.load_program(ROOT / "examples" / "lstm_zoneout.rnn", {"H": 3})
    assert [e.op for e in program.eqns if e.op in ("zoneout", "vdropout")] == ["zoneout", "zoneout", "vdropout"]
    assert max(finite_difference_errors(program, probes=2, T=4, B=2)) < 1e-6


def test_variational_masks_are_one_per_sequence_and_seeded():
    model = rnnalg.compile(program_of(SPECS["vdropout-scan-post"]), np.float64)
    noise = model.draw_noise(np.random.default_rng(7), 6, 5)
    for name, rate in (("h'", 0.4), ("o", 0.2)):
        mask = noise[name]
        assert mask.shape[:2] == (6, 5) and np.all(mask == mask[:1])  # the same at every step
        assert set(np.unique(mask)) <= {0.0, 1.0 / (1.0 - rate)}
        assert not np.all(mask[0] == mask[0, :1])  # but not the same for every sequence
    again = model.draw_noise(np.random.default_rng(7), 6, 5)
    assert all(np.array_equal(noise[k], again[k]) for k in noise)  # a resumed run draws them again


def test_zoneout_keeps_units_in_training_and_takes_the_expectation_in_evaluation():
    program = program_of("h' = zoneout[0.25](tanh(x ⊕ h))\ny = ▷ h'")
    model = rnnalg.compile(program, np.float64)
    rng = np.random.default_rng(0)
    params = model.init_params(rng)
    batch = random_batch(program, 4, 3, rng, mask=False)
    state = {"h": rng.normal(size=(3, 4))}
    noise = model.draw_noise(rng, 4, 3)
    keep = noise["h'"] == 0
    assert 0 < keep.mean() < 0.6 and set(np.unique(noise["h'"])) <= {0.0, 1.0}
    _, _, final, _ = model.forward(params, batch, state, noise)
    h = state["h"]
    for t in range(4):  # by hand: h_t = h_{t-1} where the mask keeps it, else tanh(…)
        new = np.tanh(batch["x"][t] @ params["h'.1.W_x"] + h @ params["h'.1.W_h"] + params["h'.1.b"])
        h = np.where(keep[t], h, new)
    assert np.allclose(final["h"], h, rtol=1e-12)
    _, _, final_eval, _ = model.forward(params, batch, state, None)
    _, ref = reference_forward(program, params, batch, state, None)
    h = state["h"]
    for t in range(4):
        h = 0.25 * h + 0.75 * np.tanh(batch["x"][t] @ params["h'.1.W_x"] + h @ params["h'.1.W_h"] + params["h'.1.b"])
    assert np.allclose(final_eval["h"], h, rtol=1e-12) and np.allclose(ref["h"], h, rtol=1e-12)


@pytest.mark.parametrize("body", ["h' = tanh(zoneout[0.1](x ⊕ h))\ny = ▷ h'",
                                  "z : 4 = zoneout[0.1](tanh(x ⊕ h))\nh' = z\ny = ▷ h'"])
def test_zoneout_is_refused_outside_a_whole_state_update(body):
    with pytest.raises(SpecError, match=r"zoneout\[r\] mixes a state's new value with its previous one: it must "
                                        r"be the whole update of a state"):
        program_of(body)


@pytest.mark.parametrize("fn", ["zoneout[1.5]", "vdropout[-0.1]", "zoneout"])
def test_bad_rates_are_refused(fn):
    with pytest.raises(SpecError, match=fn.split("[")[0]):
        program_of(f"h' = {fn}(tanh(x ⊕ h))\ny = ▷ h'")


def test_a_dropout_whose_argument_has_another_reader_sums_both_gradients():
    """Regression: `g = g + (rule)`; unparenthesised, the conditional rule of dropout swallowed the
    sum (`g + x if mask is None else x * mask`) and dropped the other reader's gradient (0.5
    relative error on main before issue 20's change)."""
    program = program_of("h' = tanh(x ⊕ h)\no = dropout[0.5](h') * h'\ny = ▷ o")
    assert max(compare_with_reference(program, T=5, B=3, dropout=True).values()) < 1e-10
