"""Syntax errors: each friendly message, its code, line and column (1-based)."""
import pytest

from rnnalg.errors import SpecError
from rnnalg.front.parser import parse
from rnnalg.front.parser_errors import EXAMPLES

HEAD = "let H = 4\ninput x : binary[3]\n"  # errors below are on line 3

# (name, text on line 3, column, end column, words the message contains)
CASES = [
    ("dangling plus", "h' = tanh(x ⊕ )", 15, 16, "'⊕' needs an expression on each side"),
    ("dangling plus at end of line", "h' = x ⊕ h ⊕", 13, 14, "'⊕' needs an expression on each side"),
    ("leading plus", "h' = ⊕ x", 6, 7, "'⊕' needs an expression on each side"),
    ("doubled plus", "h' = x <+> <+> h", 12, 15, "'⊕' needs an expression on each side"),
    ("missing equals", "h' tanh(x ⊕ h)", 4, 8, "expected '='"),
    ("missing equals after width", "z : H tanh(x)", 7, 11, "expected '='"),
    ("missing equals at end of line", "z", 2, 3, "expected '='"),
    ("unclosed parenthesis", "h' = tanh(x ⊕ h", 10, 11, "'(' is never closed"),
    ("unopened parenthesis", "y = ▷ h')", 9, 10, "')' has no matching '('"),
    ("mismatched brackets", "h' = maxout[2)(x)", 14, 15, "')' closes the '[' opened at 3:12"),
    ("unknown character", "h' = tanh(x @ h)", 13, 14, "unknown character '@'"),
    ("plus written <+ ", "h' = tanh(x <+ h)", 13, 14, "write ⊕ or <+>"),
    ("⊕ then + unparenthesised", "h' = x ⊕ h + 1", 12, 13,
     "'⊕' and '+' do not mix without parentheses: write (x ⊕ h) + 1 or x ⊕ (h + 1)"),
    ("+ then ⊕ unparenthesised", "h' = x - h <+> z", 8, 9,
     "'⊕' and '-' do not mix without parentheses: write x - (h <+> z) or (x - h) <+> z"),
    ("⊕ on both sides of a sum", "h' = a ⊕ b - c * d + e ⊕ f", 12, 13,
     "write (a ⊕ b) - c * d + (e ⊕ f) or a ⊕ (b - c * d + e) ⊕ f"),
    ("readings keep inner parentheses", "h' = tanh((a ⊕ b) ⊕ c + 1)", 23, 24,
     "write ((a ⊕ b) ⊕ c) + 1 or (a ⊕ b) ⊕ (c + 1)"),
    ("prime written apart", "h ' = x", 3, 4, "a prime follows its name directly"),
    ("primed name in a declaration", "state h' : H", 7, 9, "h' is the state's next value"),
    ("missing type", "state h", 8, 9, "a declaration needs a type"),
    ("missing type after colon", "output y :", 11, 12, "a declaration needs a type"),
    ("missing colon", "state h H", 9, 10, "a declaration needs a type"),
    ("missing role", "h : real[4]", 9, 10, "a declaration starts with its role"),
    ("predict inside plus", "y = x ⊕ ▷ h", 9, 10, "'▷' starts an expression"),
    ("generic: operator instead of expression", "y = * x", 5, 6, "unexpected '*'; expected an expression"),
    ("generic: doubled operator", "y = x ++ h", 8, 9, "unexpected '+'; expected an expression"),
    ("generic: empty arguments", "y = lp[](x)", 8, 9, "unexpected ']'; expected a number"),
    ("generic: missing let value", "let K =", 8, 9, "unexpected end of line; expected a number"),
    ("generic: a primed name is quoted whole", "y = x h'", 7, 9, 'unexpected "h\'";'),  # not 'h''
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_friendly_message_code_and_position(case):
    _, line3, col, end_col, words = case
    with pytest.raises(SpecError) as info:
        parse(HEAD + line3 + "\nstate h : H\n", "e.rnn")
    d = info.value.first
    assert d.code == "syntax"
    assert (d.span.file, d.span.line, d.span.col, d.span.end_col) == ("e.rnn", 3, col, end_col)
    assert words in d.message
    assert d.span.line_text == line3
    assert len(info.value.diagnostics) == 1
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_error_on_last_line_without_newline():
    with pytest.raises(SpecError) as info:
        parse("h' = tanh(x ⊕", "e.rnn")
    d = info.value.first
    assert (d.span.line, d.span.col) == (1, 10) and "never closed" in d.message


def test_readings_of_a_mixed_sum_span_lines_and_drop_comments():
    with pytest.raises(SpecError) as info:
        parse("h' = tanh(x ⊕   # the input\n  h -\n 1)\n", "e.rnn")
    d = info.value.first
    assert (d.span.line, d.span.col) == (2, 5)
    assert "write (x ⊕ h) - 1 or x ⊕ (h - 1)" in d.message


def test_every_example_of_a_mistake_is_a_mistake():
    for _, _, examples in EXAMPLES:
        for text in examples:
            with pytest.raises(SpecError):
                parse(text)


@pytest.mark.parametrize("text", ["\x00", "h' = tanh(x ⊕ h)\x0b", "y = ▷\u2028h", "\ufeffh' = x",
                                  "h' = x ⊕ h''", "]]]]", "((((", "let", "let H", "MLP", "y = MLP[",
                                  "y = MLP[tanh 4 4](x)", "input x : binary[]", "h'' = x", "'", "\\"])
def test_odd_inputs_give_spec_errors(text):
    with pytest.raises(SpecError) as info:
        parse(text)
    assert info.value.first.code == "syntax"
    assert info.value.first.span.line >= 1 and info.value.first.span.col >= 1


# --- several mistakes, numbers, control characters ----------------------------------------

def _syntax_errors(text):
    with pytest.raises(SpecError) as info:
        parse(text, "e.rnn")
    assert {d.code for d in info.value.diagnostics} == {"syntax"}
    return [(d.span.line, d.span.col, d.message) for d in info.value.diagnostics]


def test_mistakes_in_two_statements_are_both_reported_in_order():
    errors = _syntax_errors(HEAD + "h' = tanh(x ⊕ ⊕ h)\ny = ▷ (h'\n")  # before: only line 4's
    assert [(line, col) for line, col, _ in errors] == [(3, 15), (4, 7)]
    assert "'⊕' needs an expression" in errors[0][2] and "never closed" in errors[1][2]
    errors = _syntax_errors(HEAD + "h' tanh(x)\nstate h : H\ny = h' ▷ x\nz : 3 = tanh(x @ h)\n")
    assert [(line, col) for line, col, _ in errors] == [(3, 4), (5, 8), (6, 16)]
    assert "'▷' starts an expression" in errors[1][2]


def test_a_statement_spanning_lines_is_skipped_whole_after_a_mistake():
    errors = _syntax_errors(HEAD + "h' = MLP[tanh 4 4,\n  tanh](x ⊕ ⊕ h)\nz = tanh(x ⊕ )\n")
    assert [line for line, _, _ in errors] == [3, 5]  # one per statement: line 4 is not re-reported


def test_recovery_gives_up_after_a_bounded_number_of_mistakes():
    from rnnalg.front.parser import MAX_SYNTAX_ERRORS
    errors = _syntax_errors("h' tanh(x)\n" * (3 * MAX_SYNTAX_ERRORS))
    assert len(errors) == MAX_SYNTAX_ERRORS and errors[-1][0] == MAX_SYNTAX_ERRORS


@pytest.mark.parametrize("line3, col, word", [
    ("state h : 0x8", 11, "0x8"),          # before: "expected '='"
    ("let K = 4k", 9, "4k"),
    ("h' = maxout[1.2.3](x)", 13, "1.2.3"),
    ("z : 3x = tanh(x)", 5, "3x"),
    ("h' = lp[1e-3x, 2](x)", 9, "1e-3x"),
])
def test_a_number_run_into_letters_is_named_whole(line3, col, word):
    [(line, c, message)] = _syntax_errors(HEAD + line3 + "\n")
    assert (line, c) == (3, col)
    assert message.startswith(f"'{word}' is not a number")


@pytest.mark.parametrize("text, col, where", [
    ("input x : binary[3]  # a\x00b\n", 25, " in a comment"),  # before: accepted, then an
    ("input x : binary[3]\x1b[31m\n", 20, ""),                # emitted module Python refuses
])
def test_control_characters_are_located_errors(text, col, where):
    [(line, c, message)] = _syntax_errors(text)
    assert (line, c) == (1, col)
    assert message == f"control character U+{ord(text[col - 1]):04X}{where}: a spec is plain text"
    with pytest.raises(SpecError) as info:
        parse(text, "e.rnn")
    assert not any(ch in str(info.value) for ch in "\x00\x1b")  # never printed raw


def test_tab_form_feed_and_crlf_are_still_fine():
    parse("let H = 4\t# tab\r\n\x0c\ninput x : 3\n")
