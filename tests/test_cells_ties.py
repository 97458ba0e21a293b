"""Weight tying (issue 20, item 3): `output y : token[V] tied x` makes y's softmax weights the
transpose of x's one embedding table; checked, counted once, gradients equal to the reference."""
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg import fast
from rnnalg.cli import main
from rnnalg.errors import SpecError
from rnnalg.front.unparse import unparse
from rnnalg.testing import compare_with_reference, finite_difference_errors

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["numpy"] + (["fast"] if fast.unavailable_reason() is None else [])
TIED = """\
input x : token[7]
output y : token[7] tied x
state h : 3
e : 3 = MLP[linear](x)
h' = tanh(e ⊕ h)
y = ▷ h'
"""


def program_of(text):
    return rnnalg.check(rnnalg.parse(text, "tied.rnn"))


def test_the_tied_weight_is_the_embedding_counted_once(capsys):
    program = program_of(TIED)
    untied = program_of(TIED.replace(" tied x", ""))
    assert program.ties == (("y.W_h'", "e.1.W_x"),)
    assert "y.W_h'" not in {p.name for p in program.params}
    assert program.param_count == untied.param_count - 3 * 7
    assert program.param("y.W_h'").shape == (3, 7)  # the equations still show its shape
    params = rnnalg.compile(program).init_params(np.random.default_rng(0))
    assert set(params) == {p.name for p in program.params}
    path = ROOT / "examples" / "word_lstm_tied.rnn"
    assert main(["compile", str(path)]) == 0
    out = capsys.readouterr().out
    assert "tied: y.W_h' = e.1.W_xᵀ (one array, counted once)" in out
    assert "total parameters: 2331000" in out  # 10000×200 once, not twice


def test_the_tie_round_trips_through_the_text():
    spec = rnnalg.parse(TIED, "tied.rnn")
    assert spec.decls[1].tied == "x"
    assert rnnalg.parse(unparse(spec)) == spec


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mask,state", [(True, True), (False, False)])
def test_tied_gradients_match_autograd(backend, mask, state):
    errors = compare_with_reference(program_of(TIED), T=5, B=3, mask=mask, state=state, backend=backend)
    assert max(errors.values()) < 1e-10, errors
    assert "e.1.W_x" in errors and "y.W_h'" not in errors


def test_tied_word_lstm_matches_autograd_and_finite_differences():
    program = rnnalg.load_program(ROOT / "examples" / "word_lstm_tied.rnn", {"H": 3})
    program = program_of(program.text.replace("token[10000]", "token[11]").replace("let H = 200", "let H = 3"))
    assert max(compare_with_reference(program, T=4, B=2).values()) < 1e-10
    assert max(finite_difference_errors(program, probes=2, T=4, B=2)) < 1e-6


def test_a_tied_gradient_is_the_sum_of_both_uses():
    """The tied embedding's gradient is its input gradient plus the softmax gradient, transposed."""
    program, untied = program_of(TIED), program_of(TIED.replace(" tied x", ""))
    tied_model, untied_model = rnnalg.compile(program, np.float64), rnnalg.compile(untied, np.float64)
    rng = np.random.default_rng(0)
    params = untied_model.init_params(rng)
    params["y.W_h'"] = params["e.1.W_x"].T.copy()
    batch = {"x": rng.integers(0, 7, (6, 2)), "y": rng.integers(0, 7, (6, 2))}
    loss_u, grads_u, _ = untied_model.loss_and_grad(params, batch)
    tied_params = {k: v for k, v in params.items() if k != "y.W_h'"}
    loss_t, grads_t, _ = tied_model.loss_and_grad(tied_params, batch)
    assert loss_t == pytest.approx(loss_u, rel=1e-12)
    assert np.allclose(grads_t["e.1.W_x"], grads_u["e.1.W_x"] + grads_u["y.W_h'"].T, rtol=1e-12, atol=1e-14)


BAD = {
    "not-a-token": ("output y : binary[7] tied x", "tying needs two tokens: output y is binary[7]"),
    "vocabularies": ("output y : token[8] tied x", "tied vocabularies differ: output y is token[8], input x is token[7]"),
    "not-an-input": ("output y : token[7] tied q", "'q', which is not a declared input"),
    "widths": ("output y : token[7] tied x\no : 2 = tanh(h' ⊕ e)", "tied widths differ: y is predicted from o of "
               "width 2, but the embedding of x has width 3"),
    "two-tables": ("output y : token[7] tied x\nu : 3 = tanh(x ⊕ e)",
                   "x has 2 embedding tables (e.1.W_x, u.W_x)"),
    "two-operands": ("output y : token[7] tied x\nz : 3 = h' * h", "a tied output is predicted from one value, "
                     "but y = ▷ reads 2 (h', z)"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_ties_are_refused_with_the_reason(name):
    decl, message = BAD[name]
    text = TIED.replace("output y : token[7] tied x", decl)
    if name == "widths":
        text = text.replace("y = ▷ h'", "y = ▷ o")
    if name == "two-tables":
        text = text.replace("y = ▷ h'", "y = ▷ (h' + u)")
    if name == "two-operands":
        text = text.replace("y = ▷ h'", "y = ▷ (h' ⊕ z)")
    with pytest.raises(SpecError) as err:
        program_of(text)
    assert message in str(err.value) and "tied.rnn:2:1: error" in str(err.value)
