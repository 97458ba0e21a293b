"""The parser: examples, records and their spans, the ASCII spelling, load() errors."""
from pathlib import Path

import pytest

from rnnalg.front import syntax as S
from rnnalg.errors import SpecError
from rnnalg.front.parser import MAX_DEPTH, load, parse

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.rnn"))
EXPECTED_EXAMPLES = {
    "rnn", "deep_input", "dt", "dts", "do", "dot", "dots", "dots_star", "srnn2",
    "char_rnn", "char_dts", "char_dots", "char_srnn2", "word_rnn", "word_dts", "word_dots", "word_srnn2",
    "lstm", "gru", "dt_lstm", "char_lstm", "word_lstm",
    "ln_lstm", "mingru", "word_lstm_tied", "lstm_zoneout", "lstm_conditioned",  # issue 20: cells beyond the paper
    "char_gru", "char_mingru", "char_ln_lstm",  # issue 20's PTB character rows
}

DOTS = """\
# dots.rnn
let H = 400

input  x : binary[88]
output y : binary[88]
state  h : H

z  : H = tanh(x ⊕ h)
h'     = tanh(z ⊕ h)
o  : H = tanh(h' ⊕ x)
y      = ▷ (o ⊕ h')
"""


def n(name):
    return S.Name(name)


def test_every_paper_variant_has_an_example():
    assert {p.stem for p in EXAMPLE_FILES} == EXPECTED_EXAMPLES


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_parses_with_a_header_comment_and_lets(path):
    spec = load(path)
    assert path.read_text(encoding="utf-8").startswith(f"# {path.stem}.rnn")
    assert spec.file == str(path)
    assert [let.name for let in spec.lets] == ["H"]
    roles = [(d.role, d.name) for d in spec.decls]
    assert ("input", "x") in roles and ("output", "y") in roles
    kind = "binary" if not path.stem.startswith(("char", "word")) else "token"
    assert {d.type.kind for d in spec.decls if d.name in "xy"} == {kind}
    assert spec.equations[-1] == S.Equation("y", None, spec.equations[-1].expr)


def test_dots_records():
    spec = parse(DOTS, "dots.rnn")
    assert spec.items == (
        S.Let("H", 400),
        S.Decl("input", "x", S.Type("binary", 88)),
        S.Decl("output", "y", S.Type("binary", 88)),
        S.Decl("state", "h", S.Type("real", "H")),
        S.Equation("z", "H", S.Call("tanh", (), S.Plus((n("x"), n("h"))))),
        S.Equation("h'", None, S.Call("tanh", (), S.Plus((n("z"), n("h"))))),
        S.Equation("o", "H", S.Call("tanh", (), S.Plus((n("h'"), n("x"))))),
        S.Equation("y", None, S.Predict(S.Plus((n("o"), n("h'"))))),
    )
    assert spec.file == "dots.rnn" and spec.text == DOTS


def _walk(obj):
    yield obj
    for value in vars(obj).values():
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if hasattr(v, "span"):
                yield from _walk(v)


def test_every_record_has_a_span_with_its_line_text():
    spec = parse(DOTS, "dots.rnn")
    lines = DOTS.split("\n")
    records = [r for item in spec.items for r in _walk(item)]
    assert len(records) == 27  # 1 let, 3 decls + types, 4 equations of 5 records
    for r in records:
        assert r.span is not None and r.span.file == "dots.rnn", r
        assert r.span.line_text == lines[r.span.line - 1]


def test_spans_point_at_the_source():
    spec = parse(DOTS, "dots.rnn")
    z = spec.equations[0]
    plus = z.expr.expr
    # line 8 is `z  : H = tanh(x ⊕ h)`; columns are 1-based, end exclusive
    assert (z.span.line, z.span.col, z.span.end_col) == (8, 1, 21)
    assert (z.expr.span.col, z.expr.span.end_col) == (10, 21)
    assert (plus.span.col, plus.span.end_col) == (15, 20)
    assert (plus.operands[1].span.col, plus.operands[1].span.end_col) == (19, 20)
    assert spec.decls[2].type.span.col == 12  # the bare `H` of `state  h : H`


def test_ascii_spelling_is_the_same_language():
    ascii_text = DOTS.replace("⊕", "<+>").replace("▷", "|>")
    assert parse(ascii_text) == parse(DOTS)


def test_sum_is_one_plus_and_parenthesised_plus_nests():
    eq = parse("a = x ⊕ h ⊕ z\nb = (x ⊕ h) ⊕ z\nc = ((x))").equations
    assert eq[0].expr == S.Plus((n("x"), n("h"), n("z")))
    assert eq[1].expr == S.Plus((S.Plus((n("x"), n("h"))), n("z")))
    assert eq[2].expr == n("x")


def test_predict_binds_loosest_and_application_binds_tightest():
    eq = parse("y = ▷ tanh(x) ⊕ h'").equations[0]
    assert eq.expr == S.Predict(S.Plus((S.Call("tanh", (), n("x")), n("h'"))))


def test_calls_arguments_and_mlps():
    eqs = parse(
        "a = maxout[2](x)\n"
        "b = lp[2, 3](x)\n"
        "c = dropout[0.5](x)\n"
        "d = MLP(x ⊕ h)\n"
        "e = MLP[tanh 400, maxout[2] H, tanh](x)\n"
        "f = lp[2.0, 1e-3](x)\n"
    ).equations
    assert eqs[0].expr == S.Call("maxout", (2,), n("x"))
    assert eqs[1].expr == S.Call("lp", (2, 3), n("x"))
    assert eqs[2].expr == S.Call("dropout", (0.5,), n("x"))
    assert eqs[3].expr == S.MLP(None, S.Plus((n("x"), n("h"))))
    assert eqs[4].expr == S.MLP((S.Layer("tanh", (), 400), S.Layer("maxout", (2,), "H"),
                                 S.Layer("tanh", (), None)), n("x"))
    assert eqs[5].expr.args == (2.0, 0.001) and isinstance(eqs[5].expr.args[0], float)
    assert isinstance(eqs[0].expr.args[0], int)


def test_types_and_sizes():
    decls = parse("input a : real[3]\ninput b : binary[N]\ninput c : token[50]\nstate d : 7\nstate e : N").decls
    assert [d.type for d in decls] == [S.Type("real", 3), S.Type("binary", "N"), S.Type("token", 50),
                                       S.Type("real", 7), S.Type("real", "N")]


def test_let_keeps_the_value_as_written():
    # the checker, not the parser, rejects non-positive or fractional sizes
    assert [x.value for x in parse("let A = 4\nlet B = 0.5\nlet C = -3").lets] == [4, 0.5, -3]


def test_layout_comments_blank_lines_and_continuation():
    text = "\n\n  # only a comment\nlet H = 4   # trailing\n\r\nh' = tanh(x ⊕\n          h)\nz = MLP[tanh 4,\n  tanh](x)"
    spec = parse(text)
    assert [type(i).__name__ for i in spec.items] == ["Let", "Equation", "Equation"]
    assert spec.equations[0].expr == S.Call("tanh", (), S.Plus((n("x"), n("h"))))
    assert spec.equations[0].span.end_line == 7


def test_empty_spec():
    assert parse("").items == () and parse("# nothing\n\n").items == ()


def test_keywords_cannot_be_names():
    for text, col in [("let let = 3", 5), ("y = tanh(real)", 10), ("state' = x", 1), ("input x : token", None)]:
        with pytest.raises(SpecError) as info:
            parse(text)
        assert info.value.first.code == "syntax"
        if col is not None:
            assert info.value.first.span.col == col
            assert "keyword" in info.value.first.message


def test_fractional_size_is_a_syntax_error():
    with pytest.raises(SpecError) as info:
        parse("input x : real[2.5]", "t.rnn")
    d = info.value.first
    assert (d.code, d.span.line, d.span.col, d.span.end_col) == ("syntax", 1, 16, 19)
    assert "whole number" in d.message


def test_non_finite_and_huge_numbers_are_refused():
    for text in ["let H = 1e999", "y = dropout[1e400](x)", "let H = " + "9" * 5000]:
        with pytest.raises(SpecError) as info:
            parse(text)
        assert info.value.first.code == "syntax"


def test_deep_nesting_is_refused_without_recursion_error():
    deep = "y = " + "tanh(" * (MAX_DEPTH + 5) + "x" + ")" * (MAX_DEPTH + 5)
    with pytest.raises(SpecError) as info:
        parse(deep)
    assert info.value.first.code == "too-deep"
    assert parse("y = " + "(" * 5000 + "x" + ")" * 5000).equations[0].expr == n("x")
    with pytest.raises(SpecError):
        parse("y = " + "▷ " * 20000 + "x")


def test_error_message_has_file_line_col_and_caret():
    with pytest.raises(SpecError) as info:
        parse("let H = 4\nh' = tanh(x ⊕ )\n", "m.rnn")
    assert str(info.value) == (
        "m.rnn:2:15: error: '⊕' needs an expression on each side\n"
        "    h' = tanh(x ⊕ )\n"
        "                  ^"
    )


def test_parse_refuses_bytes_with_type_error():
    with pytest.raises(TypeError):
        parse(b"let H = 3")


# ---------------------------------------------------------------- load()

def test_load_missing_file(tmp_path):
    missing = tmp_path / "nope.rnn"
    with pytest.raises(SpecError) as info:
        load(missing)
    assert info.value.first.code == "unreadable-file"
    assert str(missing) in str(info.value)


def test_load_directory(tmp_path):
    with pytest.raises(SpecError) as info:
        load(tmp_path)
    assert info.value.first.code == "unreadable-file"


def test_load_non_utf8_points_at_the_first_bad_byte(tmp_path):
    path = tmp_path / "latin1.rnn"
    path.write_bytes("let H = 4\n# caf\u00e9 is fine in UTF-8\n".encode("utf-8") + b"h' = tanh(x \xe9 h)\n")
    with pytest.raises(SpecError) as info:
        load(path)
    d = info.value.first
    assert d.code == "encoding"
    assert (d.span.file, d.span.line, d.span.col) == (str(path), 3, 13)
    assert "0xe9" in d.message


def test_load_strips_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.rnn"
    path.write_bytes(b"\xef\xbb\xbf" + DOTS.encode("utf-8"))
    assert load(path) == parse(DOTS)


def test_elementwise_precedence_and_associativity():
    e = lambda t: parse("a = " + t).equations[0].expr  # noqa: E731
    x, h, r = n("x"), n("h"), n("r")
    assert e("x ⊕ r * h") == S.Plus((x, S.BinOp("*", r, h)))
    assert e("x * h + r") == S.BinOp("+", S.BinOp("*", x, h), r)
    assert e("x + h * r") == S.BinOp("+", x, S.BinOp("*", h, r))
    assert e("x - h - r") == S.BinOp("-", S.BinOp("-", x, h), r)
    assert e("x * h * r") == S.BinOp("*", S.BinOp("*", x, h), r)
    assert e("(x ⊕ h) + 1") == S.BinOp("+", S.Plus((x, h)), S.Const(1))
    assert e("x ⊕ (h - 1)") == S.Plus((x, S.BinOp("-", h, S.Const(1))))
    assert e("▷ h * 2") == S.Predict(S.BinOp("*", h, S.Const(2)))
    assert e("tanh(x) * -h") == S.BinOp("*", S.Call("tanh", (), x), S.Neg(h))
    assert e("--h") == S.Neg(S.Neg(h))


def test_the_sign_is_grammar_so_spacing_never_changes_the_meaning():
    e = lambda t: parse("a = " + t).equations[0].expr  # noqa: E731
    assert e("h-1") == e("h - 1") == e("h -1") == S.BinOp("-", n("h"), S.Const(1))
    assert e("h-1e-3") == S.BinOp("-", n("h"), S.Const(0.001))
    assert e("-2") == S.Const(-2) and e("- 2.5") == S.Const(-2.5)
    assert e("-(2)") == S.Neg(S.Const(2))  # written with parentheses: kept apart
    assert e("1 - -2 * h") == S.BinOp("-", S.Const(1), S.BinOp("*", S.Const(-2), n("h")))
    spec = parse("let A = -3\ninput x : real[- 2]\ny = maxout[-2](x)")
    assert spec.lets[0].value == -3 and spec.decls[0].type.size == -2
    assert spec.equations[0].expr.args == (-2,)


def test_spans_of_elementwise_records():
    eq = parse("c' = f * c + 1").equations[0]
    assert (eq.expr.span.col, eq.expr.span.end_col) == (6, 15)
    assert (eq.expr.left.span.col, eq.expr.left.span.end_col) == (6, 11)
    assert (eq.expr.right.span.col, eq.expr.right.span.end_col) == (14, 15)
