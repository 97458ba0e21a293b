"""Elementwise `*`, `+`, `-` and numbers in the checker: widths inferred through them, the IR
they build, and a located error for every misuse."""
from pathlib import Path

import pytest

import rnnalg
from rnnalg.errors import SpecError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

HEAD = """let H = 4
input  x : binary[3]
output y : binary[3]
state  h : H
"""


def program(body, head=HEAD):
    return rnnalg.check(rnnalg.parse(head + body, "g.rnn"))


def errors(body, head=HEAD):
    with pytest.raises(SpecError) as info:
        program(body, head)
    return info.value.diagnostics


def ops(p):
    return {e.out.name: (e.op, dict(e.attrs), tuple(a.name for a in e.args), e.out.width) for e in p.eqns}


def test_lstm_gates_take_the_width_of_the_cell_without_annotations():
    p = rnnalg.load_program(EXAMPLES / "lstm.rnn", {"H": 7})
    o = ops(p)
    for gate in "ifog":
        assert o[gate][3] == 7
    assert o["c'"][:3] == ("add", {}, ("c'.1", "c'.2"))
    assert o["c'.1"][:3] == ("mul", {}, ("f", "c")) and o["c'.2"][:3] == ("mul", {}, ("i", "g"))
    assert o["h'"][:3] == ("mul", {}, ("o", "h'.1"))
    assert o["f.1"][:3] == ("shift", {"c": 1.0}, ("f.a",))  # (x ⊕ h) + 1: the ⊕ is f's own affine
    assert [p.param(f"{gate}.W_h").shape for gate in "ifog"] == [(7, 7)] * 4


def test_gru_numbers_and_reset_inside_the_affine():
    p = rnnalg.load_program(EXAMPLES / "gru.rnn", {"H": 5})
    o = ops(p)
    assert o["n.1"][:3] == ("mul", {}, ("r", "h"))  # x ⊕ r * h is x ⊕ (r * h)
    assert p.param("n.W_n.1").shape == (5, 5)
    assert o["h'.3"][:3] == ("scale", {"c": -1.0}, ("z",)) and o["h'.2"][:3] == ("shift", {"c": 1.0}, ("h'.3",))


@pytest.mark.parametrize("rhs, expected", [
    ("h - 2", [("shift", {"c": -2.0})]),
    ("2 + h", [("shift", {"c": 2.0})]),
    ("h * 0.5", [("scale", {"c": 0.5})]),
    ("(1 - 0.5) * h", [("scale", {"c": 0.5})]),  # numbers alone fold into one
    ("-h", [("scale", {"c": -1.0})]),
    ("3 - h", [("scale", {"c": -1.0}), ("shift", {"c": 3.0})]),
    ("h - h", [("sub", {})]),
])
def test_numbers_become_scale_and_shift(rhs, expected):
    p = program(f"h' = {rhs}\ny = ▷ h'\n")
    assert [(e.op, dict(e.attrs)) for e in p.eqns[:-1]] == expected
    assert all(e.out.width == 4 for e in p.eqns[:-1])


def test_a_width_fixed_by_one_side_reaches_the_other_and_the_names_read_there():
    p = program("a = tanh(x ⊕ h)\nb = sigmoid(x ⊕ h)\nh' = h * a + b\ny = ▷ (a ⊕ h')\n")
    assert ops(p)["a"][3] == 4 and ops(p)["b"][3] == 4
    p = program("z : 5 = tanh(x ⊕ h)\ng = sigmoid(x ⊕ h)\nq : 5 = z * g\nh' = tanh(q ⊕ h)\ny = ▷ h'\n")
    assert ops(p)["g"][3] == 5


def _one(diags, code):
    assert [d.code for d in diags] == [code], diags
    return diags[0]


def test_width_mismatch_names_both_sides():
    d = _one(errors("f : 3 = tanh(x ⊕ h)\nh' = f * h\ny = ▷ h'\n"), "width-mismatch")
    assert "'f' has width 3 and 'h' has width 4" in d.message
    assert (d.span.line, d.span.col, d.span.end_col) == (6, 6, 11)


def test_plus_between_values_of_different_widths_suggests_oplus():
    d = _one(errors("h' = x + h\ny = ▷ h'\n"), "width-mismatch")
    assert "'x' has width 3 and 'h' has width 4" in d.message
    assert "did you mean x ⊕ h" in d.message
    assert (d.span.line, d.span.col) == (5, 6)


def test_a_name_fixed_by_two_uses_reports_the_second():
    d = _one(errors("g = sigmoid(x ⊕ h)\nh' = g * h\nz : 3 = g * x\ny = ▷ (h' ⊕ z)\n"), "width-mismatch")
    assert d.span.line == 7 and "'g' has width 4 and 'x' has width 3" in d.message


def test_a_width_the_definition_gives_is_checked_at_the_use():
    d = _one(errors("g = tanh(x)\nh' = g * h\ny = ▷ h'\n"), "width-mismatch")
    assert d.span.line == 6 and "'g' has width 3 and 'h' has width 4" in d.message


@pytest.mark.parametrize("body, line, col", [
    ("h' = 1\ny = ▷ h'\n", 5, 6),
    ("h' = tanh(x ⊕ h)\nz = 1 - 2\ny = ▷ (h' ⊕ z)\n", 6, 5),
    ("h' = tanh(-1)\ny = ▷ h'\n", 5, 11),
    ("h' = tanh(h)\ny = ▷ 2\n", 6, 7),
    ("h' = MLP[tanh](0.5)\ny = ▷ h'\n", 5, 16),
])
def test_a_number_alone_is_not_a_value(body, line, col):
    d = [d for d in errors(body) if d.code == "lone-constant"][0]
    assert (d.span.line, d.span.col) == (line, col)
    assert "a number alone is not a value" in d.message


def test_a_number_is_no_operand_of_oplus():
    d = _one(errors("h' = tanh(x ⊕ h ⊕ 1)\ny = ▷ h'\n"), "lone-constant")
    assert (d.span.line, d.span.col) == (5, 19) and "(x ⊕ h) + 1" in d.message


def test_a_token_cannot_be_multiplied():
    head = HEAD.replace("binary[3]", "token[4]")
    d = _one(errors("h' = x * h\ny = ▷ h'\n", head), "token-as-dense")
    assert (d.span.line, d.span.col) == (5, 6) and "'x' is a token[4]" in d.message
    d = _one(errors("h' = tanh(x ⊕ h) * x\ny = ▷ h'\n", head), "token-as-dense")
    assert d.span.col == 20


def test_an_elementwise_op_of_two_unknown_widths_asks_for_them():
    diags = errors("a = tanh(x ⊕ h)\nb = tanh(x ⊕ h)\nz = a * b\nh' = tanh(z ⊕ h)\ny = ▷ h'\n")
    assert [(d.code, d.span.line) for d in diags] == [("width-not-inferable", 5), ("width-not-inferable", 6)]
    d = _one(errors("h' = tanh(x ⊕ h)\nz = (x ⊕ h) * (h ⊕ x)\ny = ▷ (h' ⊕ z)\n"), "width-not-inferable")
    assert (d.span.line, d.span.col) == (6, 6) and "give it, e.g. z : N" in d.message


def test_elementwise_errors_come_together_with_others():
    diags = errors("h' = x + h\nz = 1\ny = ▷ (h' ⊕ q)\n")
    assert sorted(d.code for d in diags) == ["lone-constant", "unbound-name", "width-mismatch"]


def test_rnnalg_check_prints_both_readings_of_a_mixed_sum(tmp_path, capsys):
    from rnnalg.cli import main

    path = tmp_path / "mixed.rnn"
    path.write_text(HEAD + "h' = tanh(x ⊕ h + 1)\ny = ▷ h'\n", encoding="utf-8")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert (f"{path}:5:17: error: '⊕' and '+' do not mix without parentheses: "
            "write (x ⊕ h) + 1 or x ⊕ (h + 1)") in err
    assert "Traceback" not in err


def test_one_operand_affines_take_their_width_from_the_gate_arithmetic():
    # PyTorch's GRU variant: n = tanh(a + r * b) with a, b affine in x and in h alone
    p = program("r = sigmoid(x ⊕ h)\nz = sigmoid(x ⊕ h)\na = MLP[linear](x)\nb = MLP[linear](h)\n"
                "n = tanh(a + r * b)\nh' = (1 - z) * n + z * h\ny = ▷ h'\n")
    assert p.param("a.1.W_x").shape == (3, 4) and p.param("b.1.W_h").shape == (4, 4)


@pytest.mark.parametrize("body, col, message", [
    ("h' = 1e308 * 1e308 * tanh(x ⊕ h)\n", 6, "the constant 1e308 is outside float32's range (largest 3.4028235e+38)"),
    ("h' = 1e30 * 1e30 * tanh(x ⊕ h)\n", 6, "the constant 1e30 * 1e30 = 1e+60 is outside float32's range"),
    ("h' = tanh(x ⊕ h) - 4e38\n", 20, "the constant 4e38 is outside float32's range"),
    ("h' = 1e-400 * tanh(x ⊕ h)\n", 6, "the constant 1e-400 is too small to be represented and would "
                                       "silently become 0"),
    ("h' = (1e-30 * 1e-30) * tanh(x ⊕ h)\n", 7, "the constant 1e-30 * 1e-30 = 1e-60 is below float32's "
                                                 "smallest number (1.4e-45) and would become 0"),
    ("h' = " + "9" * 400 + " * tanh(x ⊕ h)\n", 6, "is outside float32's range"),
])
def test_constants_outside_float32_are_located_errors(body, col, message):
    diags = errors(body + "y = ▷ h'\n")
    assert {x.code for x in diags} == {"constant-range"}
    d = diags[0]  # 1e308 * 1e308: both literals are reported
    assert (d.span.line, d.span.col) == (5, col)
    assert message in d.message


def test_constants_inside_float32_are_fine():
    program("h' = 3e38 * tanh(x ⊕ h) + 0 * h + 1e-44 * h + 0.0e-5 * h\ny = ▷ h'\n")
