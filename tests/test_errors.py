"""Every checker error code, located: code, message, line and column, from spec text."""
import pytest

from rnnalg.checking import check
from rnnalg.errors import SpecError
from rnnalg.front.parser import parse

HEAD = """\
let H = 20
input  x : binary[8]
output y : binary[8]
state  h : H
"""  # the equations below start on line 5

RNN = "h' = tanh(x ⊕ h)\ny = ▷ h'\n"


def diagnostics(text: str):
    with pytest.raises(SpecError) as err:
        check(parse(text, file="bad.rnn"))
    return err.value.diagnostics


def only(text: str):
    ds = diagnostics(text)
    assert len(ds) == 1, [d.format() for d in ds]
    return ds[0]


# (id, spec text, code, message substring, line, column)
CASES = [
    ("unknown-function", HEAD + "h' = tanhh(x ⊕ h)\ny = ▷ h'\n",
     "unknown-function", "unknown function 'tanhh' (known: tanh, sigmoid", 5, 6),
    ("unknown-function-layer", HEAD + "h' = MLP[tanh 30, tahn](x ⊕ h)\ny = ▷ h'\n",
     "unknown-function", "did you mean", 5, 19),
    ("unbound-name", HEAD + "h' = tanh(q ⊕ h)\ny = ▷ h'\n", "unbound-name", "unbound name 'q'", 5, 11),
    ("unbound-name-typo", HEAD + "z : H = tanh(x ⊕ h)\nh' = tanh(zz ⊕ h)\ny = ▷ h'\n",
     "unbound-name", "did you mean 'z'?", 6, 11),
    ("unbound-size-as-value", HEAD + "h' = tanh(H ⊕ h)\ny = ▷ h'\n",
     "unbound-name", "'H' is a size, not a value", 5, 11),
    ("bound-twice", HEAD + RNN + "h' = tanh(x ⊕ h)\n", "bound-twice", "\"h'\" is bound twice (first at line 5)",
     7, 1),
    ("declared-twice", HEAD + "input x : 3\n" + RNN, "bound-twice", "'x' is declared twice", 5, 1),
    ("input-bound", HEAD + RNN + "x = tanh(h)\n", "bound-twice", "'x' is already declared as an input", 7, 1),
    ("state-without-update", HEAD + "y = ▷ h\n", "state-without-update", "state 'h' has no update", 4, 1),
    ("output-not-predicted", HEAD + "h' = tanh(x ⊕ h)\n", "output-not-predicted",
     "output 'y' is never predicted", 3, 1),
    ("output-bound-without-predict", HEAD + "h' = tanh(x ⊕ h)\ny = tanh(h')\n", "output-not-predicted",
     "output 'y' must be predicted", 6, 5),
    ("predict-non-output", HEAD + RNN + "z : 4 = ▷ h'\n", "predict-non-output",
     "'z' is not a declared output", 7, 9),
    ("predict-nested", HEAD + "h' = tanh(▷ (x ⊕ h))\ny = ▷ h'\n", "predict-non-output",
     "▷ cannot be nested", 5, 11),
    ("cycle", HEAD + "z : H = tanh(h' ⊕ x)\nh' = tanh(z ⊕ h)\ny = ▷ h'\n", "cycle",
     "cycle within a step: z → h' → z", 5, 1),
    ("self-cycle", HEAD + "h' = tanh(x ⊕ h')\ny = ▷ h'\n", "cycle", "cycle within a step: h' → h'", 5, 1),
    ("width-mismatch-name", HEAD + "z : 10 = tanh(h)\nh' = tanh(x ⊕ z)\ny = ▷ h'\n", "width-mismatch",
     "width mismatch: 'h' has width 20, but 10 is needed (z : 10)", 5, 15),
    ("width-mismatch-state", HEAD + "h' : 30 = tanh(x ⊕ h)\ny = ▷ h'\n", "width-mismatch",
     "h' : 30 conflicts with state h : 20", 5, 6),
    ("width-mismatch-output", HEAD + RNN.replace("y = ", "y : 9 = "), "width-mismatch",
     "y : 9 conflicts with output y : binary[8]", 6, 5),
    ("width-mismatch-mlp", HEAD + "h' = MLP[tanh 30, tanh 40](x ⊕ h)\ny = ▷ h'\n", "width-mismatch",
     "last layer has width 40, but 20 is needed (state h : 20)", 5, 19),
    ("width-mismatch-maxout", HEAD + "h' = maxout[3](h)\ny = ▷ h'\n", "width-mismatch",
     "'h' has width 20, but 60 is needed (maxout[3] giving 20)", 5, 16),
    ("width-not-inferable", HEAD + "z = tanh(x ⊕ h)\nh' = tanh(z ⊕ h)\ny = ▷ h'\n", "width-not-inferable",
     "cannot infer the width of this ⊕", 5, 10),
    ("width-not-inferable-predict", HEAD + "h' = tanh(x ⊕ h)\ny = ▷ tanh(h' ⊕ x)\n", "width-not-inferable",
     "for a deep output write y = ▷ MLP[tanh N](…)", 6, 12),
    ("group-size", HEAD + "z : 7 = x ⊕ h\nu = maxout[2](z)\nh' = tanh(u ⊕ h)\ny = ▷ h'\n", "group-size",
     "maxout[2] needs a width divisible by 2, but its argument has width 7", 6, 5),
    ("group-size-lp", HEAD + "u = lp[2, 3](h)\nh' = tanh(u ⊕ x)\ny = ▷ h'\n", "group-size",
     "lp[2, 3] needs a width divisible by 3, but its argument has width 20", 5, 5),
    ("token-as-dense", "input c : token[50]\noutput y : token[50]\nstate h : 10\nh' = tanh(c)\ny = ▷ h'\n",
     "token-as-dense", "'c' is a token[50]; a token can only be an operand of ⊕", 4, 11),
    ("token-state", "input x : 3\noutput y : 3\nstate h : token[10]\nh' = tanh(x ⊕ h)\ny = ▷ h'\n",
     "token-as-dense", "state 'h' is a token", 3, 11),
    ("bad-let-zero", HEAD.replace("H = 20", "H = 0") + RNN, "bad-let",
     "let H = 0: a size must be a positive integer", 1, 1),
    ("bad-let-float", HEAD.replace("H = 20", "H = 2.5") + RNN, "bad-let", "let H = 2.5", 1, 1),
    ("unknown-size", HEAD.replace("state  h : H", "state  h : Q") + RNN, "unknown-size",
     "unknown size 'Q' (the spec defines: H)", 4, 12),
    ("unknown-size-width", HEAD + "z : W = tanh(x ⊕ h)\nh' = tanh(z ⊕ h)\ny = ▷ h'\n", "unknown-size",
     "unknown size 'W'", 5, 5),  # at the size, not the equation
    ("bad-type", HEAD.replace("binary[8]\noutput", "binary[0]\noutput") + RNN, "bad-type",
     "the size of x must be a positive integer, got 0", 2, 12),
    ("bad-type-binary-state", HEAD.replace("state  h : H", "state  h : binary[H]") + RNN, "bad-type",
     "state 'h' must be real[N]", 4, 12),
    ("read-output", HEAD + "h' = tanh(x ⊕ h ⊕ y)\ny = ▷ h'\n", "read-output", "output 'y' cannot be read",
     5, 19),
    ("duplicate-operand", HEAD + "h' = tanh(x ⊕ h ⊕ x)\ny = ▷ h'\n", "duplicate-operand",
     "'x' appears twice in one ⊕", 5, 19),
    ("duplicate-operand-nested", HEAD + "h' = tanh(x ⊕ (h ⊕ x))\ny = ▷ h'\n", "duplicate-operand",
     "'x' appears twice", 5, 20),
    ("bad-argument-maxout", HEAD + "h' = maxout[0](x ⊕ h)\ny = ▷ h'\n", "bad-argument",
     "bad argument to maxout[k]: the group size k must be an integer >= 1, got 0", 5, 6),
    ("bad-argument-maxout-float", HEAD + "h' = maxout[1.5](x ⊕ h)\ny = ▷ h'\n", "bad-argument",
     "k must be an integer >= 1, got 1.5", 5, 6),
    ("bad-argument-lp", HEAD + "h' = lp[0.5, 2](x ⊕ h)\ny = ▷ h'\n", "bad-argument",
     "bad argument to lp[p, k]: the exponent p must be >= 1, got 0.5", 5, 6),
    ("bad-argument-dropout", HEAD + "h' = tanh(x ⊕ h)\ny = ▷ MLP[dropout[1.0] 30](h')\n", "bad-argument",
     "the dropout rate must be in [0, 1), got 1.0", 6, 11),
    ("bad-argument-count", HEAD + "h' = maxout(x ⊕ h)\ny = ▷ h'\n", "bad-argument",
     "maxout takes 1 argument (maxout[k]), got 0", 5, 6),
    ("bad-argument-elementwise", HEAD + "h' = tanh[2](x ⊕ h)\ny = ▷ h'\n", "bad-argument",
     "tanh takes no arguments, got 1", 5, 6),
    ("not-a-state", HEAD + RNN + "x' = tanh(h)\n", "not-a-state", "\"x'\" updates 'x', which is not a declared state",
     7, 1),
]


@pytest.mark.parametrize("text, code, message, line, col", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_is_located(text, code, message, line, col):
    d = only(text)
    assert (d.code, d.span.line, d.span.col) == (code, line, col), d.format()
    assert message in d.message
    assert d.severity == "error"
    assert d.span.file == "bad.rnn"


def test_every_required_code_is_covered():
    required = {"unknown-function", "unbound-name", "bound-twice", "state-without-update",
                "output-not-predicted", "predict-non-output", "cycle", "width-mismatch",
                "width-not-inferable", "group-size", "token-as-dense", "bad-let", "unknown-size",
                "bad-type", "read-output", "duplicate-operand", "bad-argument"}
    assert required <= {c[2] for c in CASES}


def test_several_independent_errors_are_reported_together():
    text = HEAD + (
        "z : H = tanhh(x ⊕ h)\n"      # 5: unknown function
        "h' = tanh(q ⊕ h)\n"          # 6: unbound name
        "o : 9 = tanh(h)\n"           # 7: width mismatch (h is 20)
        "y = ▷ (o ⊕ o)\n"             # 8: duplicate operand
    )
    ds = diagnostics(text)
    assert [(d.code, d.span.line, d.span.col) for d in ds] == [
        ("unknown-function", 5, 9), ("unbound-name", 6, 11), ("width-mismatch", 7, 14),
        ("duplicate-operand", 8, 12)]


def test_errors_depending_on_a_bad_equation_are_not_repeated():
    # z is bad; h' and y read it (directly or not) but only z's error is reported
    text = HEAD + "z = tanh(x ⊕ h)\nh' = tanh(z ⊕ h)\nu : H = tanh(h' ⊕ x)\ny = ▷ u\n"
    assert [d.code for d in diagnostics(text)] == ["width-not-inferable"]


def test_message_has_file_line_col_and_caret():
    err = pytest.raises(SpecError, check, parse(HEAD + "h' = tanh(q ⊕ h)\ny = ▷ h'\n", file="bad.rnn"))
    text = str(err.value)
    assert text.splitlines() == [
        "bad.rnn:5:11: error: unbound name 'q'",
        "    h' = tanh(q ⊕ h)",
        "              ^",
    ]


def test_cycle_span_caret_covers_the_equation():
    d = only(HEAD + "z : H = tanh(h' ⊕ x)\nh' = tanh(z ⊕ h)\ny = ▷ h'\n")
    assert d.format().splitlines()[-1] == "    " + "^" * len("z : H = tanh(h' ⊕ x)")


def test_warnings_are_located():
    text = HEAD.replace("let H = 20", "let H = 20\nlet E = 4") + "input u : 3\n" + RNN
    program = check(parse(text, file="w.rnn"))
    assert [(w.code, w.severity, w.span.line, w.span.col) for w in program.warnings] == [
        ("unused", "warning", 2, 1), ("unused", "warning", 6, 1)]
    assert "size 'E' is never used" in program.warnings[0].message
    assert program.warnings[0].format().startswith("w.rnn:2:1: warning: size 'E' is never used")


def test_a_spec_without_output_is_an_error_that_names_the_file():
    ds = diagnostics("input x : 3\nstate h : 4\nh' = tanh(x ⊕ h)\n")
    assert [(d.code, str(d.span)) for d in ds] == [("no-output", "bad.rnn:1:1")]
    assert ds[0].format().startswith("bad.rnn:1:1: error: the spec predicts nothing")
    empty = diagnostics("")
    assert [d.code for d in empty] == ["no-output", "no-input"]
    assert all(d.format().startswith("bad.rnn:1:1: error: ") for d in empty)


def test_a_spec_without_input_is_an_error_not_a_compile_crash():
    ds = diagnostics("output y : binary[8]\nstate h : 4\nh' = tanh(h)\ny = ▷ h'\n")
    assert [(d.code, str(d.span)) for d in ds] == [("no-input", "bad.rnn:1:1")]
    assert "the spec reads no input" in ds[0].message


def test_a_stray_record_is_bad_type_not_a_traceback():
    from rnnalg.front.syntax import Name, Spec
    spec = parse(HEAD + RNN, file="ok.rnn")
    with pytest.raises(SpecError) as err:
        check(Spec(spec.items + (Name("x"),)))
    assert [d.code for d in err.value.diagnostics] == ["bad-type"]


# --- many errors, long lines ----------------------------------------------------------------

def test_at_most_fifty_errors_are_printed_then_counted():
    names = " ⊕ ".join(f"a{i}" for i in range(300))  # 300 unbound names on one 2,000-char line
    ds = diagnostics(HEAD + f"h' = tanh(x ⊕ {names})\ny = ▷ h'\n")
    assert len(ds) == 300  # all found, ...
    message = str(SpecError(ds))
    assert message.count(": error: unbound name") == 50  # ... the first 50 printed
    assert message.endswith("\n… and 250 more errors")
    assert max(len(line) for line in message.splitlines()) < 150  # not the whole line each time


def test_a_long_line_is_clipped_around_the_caret():
    from rnnalg.errors import Span
    text = "h' = tanh(" + " ⊕ ".join(f"a{i}" for i in range(100)) + ")"
    col = text.index("a50") + 1
    shown, caret = Span("f", 1, col, 1, col + 3, text).caret().splitlines()
    assert shown.startswith("    …") and shown.endswith("…") and "a50" in shown
    assert shown[caret.index("^"):caret.index("^") + 3] == "a50" and caret.endswith("^^^")
    assert len(shown) < 130
    short = Span("f", 1, 6, 1, 10, "h' = tanh(x)").caret()
    assert short == "    h' = tanh(x)\n         ^^^^"  # short lines are shown whole


def test_a_long_cycle_is_named_once():
    n = 2000  # z1 reads zn: the cycle search was quadratic in the equations on it
    eqs = "".join(f"z{i} : 4 = tanh(z{i - 1 if i > 1 else n} ⊕ x)\n" for i in range(1, n + 1))
    [d] = diagnostics(HEAD + eqs + "h' = tanh(z1 ⊕ h)\ny = ▷ h'\n")
    assert d.code == "cycle" and d.span.line == 5
    assert d.message.startswith("cycle within a step: z1 → z2000 → z1999 → z1998 → z1997 → "
                                "… (1,991 more) … → z5 → z4 → z3 → z2 → z1 (read h")


# --- state warnings ---------------------------------------------------------------------------

def _warnings(text):
    return [(w.code, w.span.line, w.message) for w in check(parse(text, file="w.rnn")).warnings]


def test_a_state_read_only_as_h_prime_is_not_recurrent():
    assert _warnings(HEAD + "h' = MLP(x)\ny = ▷ h'\n") == [
        ("not-recurrent", 4, "state 'h' is never read as h, its previous value, so nothing is "
         "carried from one step to the next (read h in h' = …)")]
    assert _warnings(HEAD + RNN) == []


def test_a_state_no_output_depends_on_is_reported():
    text = HEAD + "state g : 5\ng' = tanh(x ⊕ g)\n" + RNN
    assert _warnings(text) == [("no-effect", 5, "state 'g' reaches no output: no ▷ depends on g or \"g'\"")]
    # read only through another state that does reach y: no warning
    chained = HEAD + "state g : 5\ng' = tanh(x ⊕ g)\nh' = tanh(g ⊕ h)\ny = ▷ h'\n"
    assert _warnings(chained) == []
    # read by the output only one step later (through h): still reaches
    later = HEAD + "z : H = tanh(h)\nh' = tanh(x ⊕ h)\ny = ▷ z\n"
    assert _warnings(later) == []
