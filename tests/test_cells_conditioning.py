"""Conditioning inputs (issue 20, item 4): `input key : real[D] static` is one value per sequence,
(B, D) in a batch, read like any other operand; what depends on it alone runs once per sequence
in the pre phase.  Gradients equal the autograd reference with masks and carried state."""
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg import fast
from rnnalg.cli import main
from rnnalg.errors import SpecError
from rnnalg.lower.emit import emit_module
from rnnalg.model_args import check_batch
from rnnalg.testing import compare_with_reference, finite_difference_errors, random_setup

ROOT = Path(__file__).resolve().parents[1]
HEAD = "input x : binary[5]\ninput key : real[4] static\noutput y : binary[5]\nstate h : 3\n"
BACKENDS = ["numpy"] + (["fast"] if fast.unavailable_reason() is None else [])
SPECS = {
    "pre-scan-post": "u : 3 = MLP[tanh](key)\nh' = tanh(x ⊕ u ⊕ h)\ng = sigmoid(key ⊕ h')\ny = ▷ (g * h' ⊕ u)",
    "token-speaker": "input spk : token[3] static\nh' = tanh(x ⊕ h ⊕ spk)\ny = ▷ h'",
    "gates-from-key": "z = sigmoid(key ⊕ h)\nr = sigmoid(key ⊕ h)\nh' = z * h + (1 - z) * tanh(x ⊕ r * h)\ny = ▷ h'",
    "static-gate-in-scan": "u : 3 = MLP[sigmoid](key)\nh' = u * tanh(x ⊕ h) + layernorm(u)\ny = ▷ h'",
    "linear-scan": "z : 3 = MLP[sigmoid](key)\ng : 3 = MLP[linear](x)\nh' = (1 - z) * h + z * g\ny = ▷ h'",
}


def program_of(body):
    return rnnalg.check(rnnalg.parse(HEAD + body, "cond.rnn"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mask", [True, False])
@pytest.mark.parametrize("name", SPECS)
def test_static_inputs_match_autograd(name, mask, backend):
    program = program_of(SPECS[name])
    assert "key" in program.static_inputs
    errors = compare_with_reference(program, T=5, B=3, mask=mask, state=True, backend=backend)
    assert max(errors.values()) < 1e-10, errors


def test_what_depends_on_static_inputs_alone_runs_once_per_sequence():
    program = program_of(SPECS["pre-scan-post"])
    model = rnnalg.compile(program, np.float64)
    _, params, batch, state, _ = random_setup(program, T=6, B=2, mask=False)
    assert batch["key"].shape == (2, 4) and batch["x"].shape == (6, 2, 5)
    text = emit_module(program)
    assert "key = np.asarray(batch['key'], dtype=dt)[None]" in text  # (1, B, 4)
    namespace = {}
    exec(compile(text.replace("    u = np.tanh(u_1_a)\n", "    u = np.tanh(u_1_a)\n    seen.append(u.shape)\n"),
                 "<cond>", "exec"), namespace)
    namespace["seen"] = []
    namespace["forward"](params, check_batch(program, batch, model.dtype, targets=True))
    assert namespace["seen"] == [(1, 2, 3)]  # tanh ran on one row per sequence, not T of them


def test_conditioned_example_matches_finite_differences_and_compiles(capsys):
    path = ROOT / "examples" / "lstm_conditioned.rnn"
    program = rnnalg.load_program(path, {"H": 3})
    assert program.static_inputs == ("key",)
    assert max(finite_difference_errors(program, probes=2, T=4, B=2)) < 1e-6
    assert main(["compile", str(path), "--set", "H=3"]) == 0
    assert "input    key : real[12]    (static: one value per sequence" in capsys.readouterr().out


def test_a_static_batch_array_must_be_one_row_per_sequence():
    program = program_of(SPECS["pre-scan-post"])
    model = rnnalg.compile(program, np.float64)
    _, params, batch, _, _ = random_setup(program, T=4, B=2, mask=False)
    with pytest.raises(ValueError, match=r"batch\['key'\] has shape \(4, 2, 4\), expected \(B, 4\)"):
        model.loss_and_grad(params, dict(batch, key=np.zeros((4, 2, 4))))
    with pytest.raises(ValueError, match=r"batch\['key'\] has B = 3, others have 2"):
        model.loss_and_grad(params, dict(batch, key=np.zeros((3, 4))))


@pytest.mark.parametrize("text, message", [
    ("input x : binary[5] static\noutput y : binary[5]\nstate h : 3\nh' = tanh(x ⊕ h)\ny = ▷ h'",
     "every input is static: declare one that varies over time"),
    ("input x : binary[5]\noutput y : binary[5] static\nstate h : 3\nh' = tanh(x ⊕ h)\ny = ▷ h'",
     "only an input can be static"),
    (HEAD + "h' = tanh(x ⊕ h)\ny = ▷ key", "output y is predicted from static inputs alone"),
])
def test_bad_static_declarations_are_refused(text, message):
    with pytest.raises(SpecError, match=message):
        rnnalg.check(rnnalg.parse(text, "cond.rnn"))


def test_training_refuses_a_second_input_with_a_clear_message(tmp_path, capsys):
    # a static input trains (tests/test_train_conditioned.py); a second per-step input does not
    text = (ROOT / "examples" / "lstm_conditioned.rnn").read_text().replace(
        "input  key : real[12] static", "input  key : real[12]")
    spec = tmp_path / "two_inputs.rnn"
    spec.write_text(text)
    assert main(["train", str(spec), "--set", "H=4", "--epochs", "1",
                 "--out", str(tmp_path / "run"), "--quiet"]) != 0
    assert "exactly one input" in capsys.readouterr().err
