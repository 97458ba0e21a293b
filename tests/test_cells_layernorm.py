"""Layer normalisation (issue 20, item 1): `layernorm(e)` owns a gain and a bias per unit, is
checked, lowered in every phase (numpy and fast backends) equal to the autograd reference and to
finite differences, and the LN-LSTM example trains."""
import json
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg import fast
from rnnalg.cli import main
from rnnalg.errors import SpecError
from rnnalg.lower import prelude
from rnnalg.testing import compare_with_reference, finite_difference_errors

ROOT = Path(__file__).resolve().parents[1]
HEAD = "input x : real[3]\noutput y : binary[2]\nstate h : 4\n"
BACKENDS = ["numpy"] + (["fast"] if fast.unavailable_reason() is None else [])


def program_of(body):
    return rnnalg.check(rnnalg.parse(HEAD + body, "ln.rnn"))


def test_layernorm_owns_a_gain_and_a_bias_per_unit_named_at_its_site():
    program = program_of("h' = tanh(layernorm(x ⊕ h))\ny = ▷ h'")
    (ln,) = [e for e in program.eqns if e.op == "layernorm"]
    assert ln.params == ("h'.1.ln.g", "h'.1.ln.b")
    assert [(program.param(n).shape, program.param(n).role) for n in ln.params] == [((4,), "gain"), ((4,), "bias")]
    assert program.param_count == 3 * 4 + 4 * 4 + 4 + 4 + 4 + 4 * 2 + 2
    params = rnnalg.compile(program).init_params(np.random.default_rng(0))
    assert np.all(params["h'.1.ln.g"] == 1) and np.all(params["h'.1.ln.b"] == 0)


def test_layernorm_normalises_each_position_over_its_units():
    a = np.random.default_rng(0).normal(3.0, 5.0, size=(7, 2, 6))
    out = prelude._layernorm(a, np.ones(6), np.zeros(6))
    assert np.allclose(out.mean(axis=-1), 0, atol=1e-12)
    assert np.allclose(out.var(axis=-1), 1, atol=1e-5)  # ε = 1e-5 against a variance of ~25
    gain, bias = np.arange(1.0, 7.0), np.full(6, 0.5)
    assert np.allclose(prelude._layernorm(a, gain, bias), out * gain + bias)


def test_layernorm_takes_no_arguments():
    with pytest.raises(SpecError, match=r"layernorm takes no arguments, got 1"):
        program_of("h' = tanh(layernorm[2](x ⊕ h))\ny = ▷ h'")


SPECS = {
    "scan": "h' = tanh(layernorm(x ⊕ h))\ny = ▷ h'",
    "of-a-state": "g = sigmoid(x ⊕ h)\nh' = g * layernorm(h) + (1 - g) * tanh(x ⊕ h)\ny = ▷ h'",
    "pre-and-post": "u : 5 = layernorm(MLP[relu](x))\nh' = tanh(u ⊕ h)\no : 3 = layernorm(h' ⊕ u)\ny = ▷ o",
    "mlp-layer": "h' = MLP[layernorm 4, tanh](x ⊕ h)\ny = ▷ MLP[layernorm 3](h')",
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", SPECS)
def test_layernorm_matches_autograd_with_masks_and_carried_state(name, backend):
    program = program_of(SPECS[name])
    errors = compare_with_reference(program, T=5, B=3, mask=True, state=True, backend=backend)
    assert max(errors.values()) < 1e-10, errors
    assert any(e.op == "layernorm" for e in program.eqns)


def test_ln_lstm_gradients_match_autograd_and_finite_differences():
    program = rnnalg.load_program(ROOT / "examples" / "ln_lstm.rnn", {"H": 3})
    assert sum(e.op == "layernorm" for e in program.eqns) == 5
    for backend in BACKENDS:
        errors = compare_with_reference(program, T=4, B=3, backend=backend)
        assert max(errors.values()) < 1e-10, (backend, errors)
    assert max(finite_difference_errors(program, probes=2, T=4, B=3)) < 1e-6


def test_ln_lstm_trains(tmp_path):
    """`rnnalg train examples/ln_lstm.rnn --epochs 3`, at a tiny size: the validation NLL falls."""
    run = tmp_path / "ln"
    args = ["train", str(ROOT / "examples" / "ln_lstm.rnn"), "--set", "H=8", "--epochs", "3",
            "--batch-size", "16", "--lr", "0.01", "--out", str(run), "--quiet"]
    assert main(args) == 0
    valid = [json.loads(line)["valid"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(valid) == 3 and valid[0] > valid[1] > valid[2], valid
