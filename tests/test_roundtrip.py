"""Property tests: unparse -> parse round-trips, and parse() never raises anything but SpecError."""
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnalg.front import syntax as S
from rnnalg.errors import SpecError
from rnnalg.front.parser import KEYWORDS, parse
from rnnalg.front.unparse import unparse

EXAMPLE_TEXTS = [p.read_text(encoding="utf-8")
                 for p in sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.rnn"))]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- valid specs

idents = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True).filter(lambda s: s not in KEYWORDS)
names = idents | idents.map(lambda s: s + "'")
sizes = st.integers(-3, 10**6) | idents
numbers = st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
args = st.lists(numbers, max_size=3).map(tuple)
layers = st.builds(S.Layer, idents, args, st.none() | sizes)
exprs = st.recursive(
    names.map(S.Name) | numbers.map(S.Const),
    lambda child: st.one_of(
        st.lists(child, min_size=2, max_size=4).map(lambda ops: S.Plus(tuple(ops))),
        child.map(S.Predict),
        st.builds(S.Call, idents, args, child),
        st.builds(S.MLP, st.none() | st.lists(layers, min_size=1, max_size=3).map(tuple), child),
        st.builds(S.BinOp, st.sampled_from(S.ARITH_OPS), child, child),
        child.map(S.Neg),
    ),
    max_leaves=10,
)
types = st.builds(S.Type, st.sampled_from(["real", "binary", "token"]), sizes)
items = st.one_of(
    st.builds(S.Let, idents, numbers),
    st.builds(S.Decl, st.sampled_from(["input", "output", "state"]), idents, types),
    st.builds(S.Equation, names, st.none() | sizes, exprs),
)
specs = st.lists(items, max_size=8).map(lambda xs: S.Spec(tuple(xs)))


@FAST
@given(specs, st.booleans())
def test_unparse_then_parse_gives_the_same_spec(spec, ascii):
    text = unparse(spec, ascii=ascii)
    assert parse(text) == spec
    assert unparse(parse(text), ascii=ascii) == text  # canonical: a fixed point


# ---------------------------------------------------------------- arbitrary text

TOKENS = ["let", "input", "output", "state", "MLP", "real", "binary", "token", "x", "h", "h'", "y",
          "z", "H", "tanh", "maxout", "lp", "dropout", "⊕", "<+>", "▷", "|>", "(", ")", "[", "]", ",",
          ":", "=", "'", "0", "2", "0.5", "-1", "1e3", "400", "#", "\n", "\n", " ", "\t", "@", "+",
          "<", "|", ">", "*", "-", "- ", "\r", "\x00", "é", "\ufeff", "1e999", "9" * 30]


def _parses_or_spec_error(text):
    """parse(text) succeeds (and round-trips) or raises a located SpecError; nothing else."""
    try:
        spec = parse(text, "fuzz.rnn")
    except SpecError as err:
        n_lines = len(text.split("\n"))
        for d in err.diagnostics:
            assert d.code in {"syntax", "too-deep"}
            assert d.span is not None and d.span.file == "fuzz.rnn"
            assert 1 <= d.span.line <= n_lines and d.span.col >= 1, (d.span, text)
        assert str(err)
        return
    assert parse(unparse(spec)) == spec


@FAST
@given(st.text(max_size=80))
def test_random_text_never_raises_anything_but_spec_error(text):
    _parses_or_spec_error(text)


@FAST
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join))
def test_random_token_soup_never_raises_anything_but_spec_error(text):
    _parses_or_spec_error(text)


@st.composite
def mutated_examples(draw):
    text = draw(st.sampled_from(EXAMPLE_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 12)))
        edit = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        piece = draw(st.sampled_from(TOKENS)) if edit in ("insert", "replace") else ""
        if edit == "duplicate":
            piece = text[i:j] * 2
        text = text[:i] + piece + text[j if edit != "insert" else i:]
    return text


@FAST
@given(mutated_examples())
def test_mutated_examples_never_raise_anything_but_spec_error(text):
    _parses_or_spec_error(text)
