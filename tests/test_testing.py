"""`rnnalg.testing`, the checker users run on their own specs: yes to correct models at full
size, no to a wrong gradient (the finite-difference check on its own, without autograd)."""
from pathlib import Path

import pytest

import rnnalg
from rnnalg import testing
from rnnalg.lower import rules
from rnnalg.testing import FD_TOL, finite_difference_errors

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name, sizes", [("dots", None), ("char_dots", {"H": 150})])
def test_main_says_yes_to_examples_at_full_size(name, sizes, capsys):
    """These failed with finite-difference errors of 8e-5 and 3e-4 (threshold 1e-5)."""
    assert testing.main(str(ROOT / "examples" / f"{name}.rnn"), sizes) == 0
    assert "finite differences" in capsys.readouterr().out


def test_a_wrong_vjp_rule_is_caught(monkeypatch, capsys):
    """tanh' taken as 1 − tanh instead of 1 − tanh²."""
    monkeypatch.setitem(rules.vjp_rules, "tanh", lambda s: f"{s.g} * (1 - {s.out})")
    monkeypatch.setitem(rules.deriv_rules, "tanh", lambda s: f"1 - {s.out}")
    program = rnnalg.load_program(ROOT / "examples/dots.rnn")
    assert max(finite_difference_errors(program)) > 100 * FD_TOL
    assert testing.main(str(ROOT / "examples/dots.rnn")) == 1
    assert "finite differences" in capsys.readouterr().out


class ScaledGradient(testing.Model):
    """The compiled model with one parameter's gradient `factor` times too large."""

    name, factor = "h'.b", 1.01

    def loss_and_grad(self, *args, **kwargs):
        loss, grads, final = super().loss_and_grad(*args, **kwargs)
        grads[self.name] = grads[self.name] * self.factor
        return loss, grads, final


@pytest.mark.parametrize("name", ["h'.b", "z.W_h"])
def test_a_gradient_one_percent_off_in_one_array_is_caught(monkeypatch, name):
    monkeypatch.setattr(ScaledGradient, "name", name)
    monkeypatch.setattr(testing, "Model", ScaledGradient)
    program = rnnalg.load_program(ROOT / "examples/dots.rnn")
    errors = finite_difference_errors(program)
    assert max(errors) > 10 * FD_TOL, errors


def test_the_checks_pass_the_same_model_unbroken(monkeypatch):
    """The broken-gradient class with factor 1 passes: what is caught above is the error."""
    monkeypatch.setattr(ScaledGradient, "factor", 1.0)
    monkeypatch.setattr(testing, "Model", ScaledGradient)
    program = rnnalg.load_program(ROOT / "examples/dots.rnn")
    assert max(finite_difference_errors(program)) < FD_TOL
