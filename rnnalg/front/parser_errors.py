"""Friendly messages for lark parse errors (used only by `rnnalg.front.parser`).

    explain(lark_error, text, locator) -> SpecError(code 'syntax', located at the bad token)

Four layers, most specific first:
1. an unknown character gets a hint (`<` -> "write ⊕ or <+>"), table `CHAR_HINTS`;
2. unbalanced ( ) [ ] are found by a bracket scan, located at the bracket at fault;
3. a number run into a name or another number (`0x8`, `4k`, `1.2.3`) is named whole;
4. a wrong token is matched against `EXAMPLES` of common mistakes by LALR state and
   token type (in the spirit of lark's `match_examples`), else a generic
   "unexpected X; expected Y" built from the parser's expected terminals.
"""
from __future__ import annotations

import re
from functools import lru_cache

from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ..errors import Diagnostic, Span, SpecError, quote
from .lalr import grammar, raw_parse

CHAR_HINTS = {
    "<": "write ⊕ or <+> for plus",
    "|": "write ▷ or |> for predict",
    ">": "write ▷ or |> for predict",
    "'": "a prime follows its name directly, as in h'",
    "’": "a prime is written ', directly after the name, as in h'",
    "′": "a prime is written ', directly after the name, as in h'",
    ";": "statements are separated by newlines",
    "{": "use ( ) to group and [ ] for arguments",
    "}": "use ( ) to group and [ ] for arguments",
}

PLUS_SIDES = "'⊕' needs an expression on each side"
EQUALS = "expected '=' in this equation: write `name = expr` or `name : size = expr`"
TYPE = "a declaration needs a type after its name, e.g. `input x : binary[88]` or `state h : H`"

# (message, token_specific, examples).  Each example fails at the mistake it illustrates; a
# failing input matches an example with the same LALR state and token type, or (when
# token_specific is False) any example with the same state.  Earlier rows win.
EXAMPLES = [
    ("'▷' starts an expression and binds loosest: write `▷ (a ⊕ b)`, or parenthesise `(▷ e)`",
     True, ["h' = x ⊕ ▷ h", "y = x ▷ h", "y = h' ▷ x", "y = tanh(x) ▷ h", "y = (x) ▷ h"]),
    (PLUS_SIDES, False, ["h' = tanh(x ⊕ )", "h' = x ⊕", "h' = x ⊕ h ⊕", "h' = (x ⊕ h) ⊕"]),
    (PLUS_SIDES, True, ["h' = ⊕ x", "h' = tanh(⊕ x)", "y = ▷ ⊕ x", "h' = (⊕ x)", "h' = MLP(⊕ x)",
                        "h' = maxout[2](⊕ x)", "h' = MLP[tanh](⊕ x)", "h' = x ⊕ h ⊕ ⊕ z",
                        "h' = tanh(x) ⊕ ⊕ h", "h' = (x) ⊕ ⊕ h"]),
    ("a declaration starts with its role: `input x : …`, `output y : …` or `state h : …`",
     True, ["x : real[3]", "x : binary[3]", "x : token[3]", "x : 3[3]"]),
    ("a declaration names the value itself (`state h : H`); h' is the state's next value, "
     "bound by an equation `h' = …`", True, ["state h' : H", "input x' : 3", "output y' : 3"]),
    (TYPE, False, ["input x", "state h H", "output y = 3", "input x :", "input x : )"]),
    (EQUALS, False, ["h' tanh(x)", "z tanh(x)", "z : H tanh(x)", "z : 3 tanh(x)", "h'", "z"]),
]

# How the generic message names terminals; an anonymous terminal is named by its text.
TERMINAL_NAMES = {"NAME": "a name", "NEXT_NAME": "a next-state name like h'",
                  "NUMBER": "a number", "PLUS": "'⊕'", "PREDICT": "'▷'",
                  "_NL": "end of line", "$END": "end of file"}
EXPRESSION_START = {"NAME", "NEXT_NAME", "LPAR", "MLP", "PREDICT", "NUMBER", "SUB"}


def explain(err: UnexpectedInput, text: str, loc) -> SpecError:
    """The SpecError for a lark error on `text` (spans made by `loc`, a parser._Locator)."""
    if isinstance(err, UnexpectedCharacters):
        return _unknown_character(err, text, loc)
    unbalanced = _unbalanced_brackets(text, loc)
    if unbalanced is not None:
        return unbalanced
    if isinstance(err, UnexpectedToken):
        malformed = _malformed_number(err.token, text, loc)
        if malformed is not None:
            return malformed
        span = _token_span(err.token, text, loc)
        message = _matching_example(err) or _generic(err)
        return SpecError(Diagnostic("syntax", message, span))
    line, col = getattr(err, "line", 1) or 1, getattr(err, "column", 1) or 1
    return SpecError(Diagnostic("syntax", "unexpected end of the spec", loc.span(line, col, line, col + 1)))


def mixed_plus_error(loc, plus, chain, index: int, count: int, first_op, last_op) -> SpecError:
    """`x ⊕ h + 1`: ⊕ and +/- mixed without parentheses; the message shows both readings.

    `plus` and `chain` are the (start, end) offsets of the whole ⊕ expression and of its
    operand number `index` (of `count`), an unparenthesised sum or difference whose leftmost
    and rightmost operator tokens are `first_op` and `last_op`.
    """
    text, (start, end), (chain_start, chain_end) = loc.text, plus, chain
    left = _flat(text[start:first_op.start_pos])
    middle = _flat(text[first_op.start_pos:last_op.end_pos])
    right = _flat(text[last_op.end_pos:end])
    plus_first = " ".join([f"({left})" if index > 0 else left, middle,
                           f"({right})" if index < count - 1 else right])
    sum_first = " ".join(part for part in (_flat(text[start:chain_start]),
                                           f"({_flat(text[chain_start:chain_end])})",
                                           _flat(text[chain_end:end])) if part)
    tok = last_op if index == 0 else first_op  # the sign next to a ⊕
    message = f"'⊕' and '{tok}' do not mix without parentheses: write {plus_first} or {sum_first}"
    return SpecError(Diagnostic("syntax", message, loc.of_token(tok)))


def _flat(text: str) -> str:
    """Source text on one line: comments dropped, runs of blanks as one space."""
    return " ".join(re.sub(r"#[^\n]*", "", text).split())


def _unknown_character(err: UnexpectedCharacters, text: str, loc) -> SpecError:
    pos = err.pos_in_stream
    char = text[pos] if 0 <= pos < len(text) else "?"
    shown = repr(char) if not char.isprintable() or char.isspace() else f"'{char}'"
    hint = CHAR_HINTS.get(char)
    message = f"unknown character {shown}" + (f" ({hint})" if hint else "")
    return SpecError(Diagnostic("syntax", message, loc.span(err.line, err.column, err.line, err.column + 1)))


def _unbalanced_brackets(text: str, loc) -> SpecError | None:
    """The first bracket that is never closed, closes nothing, or closes the wrong kind."""
    pairs = {")": "(", "]": "["}
    stack = []  # (bracket, line, col) of the open brackets
    line, col, in_comment = 1, 0, False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, in_comment = line + 1, 0, False
        elif in_comment:
            continue
        elif ch == "#":
            in_comment = True
        elif ch in "([":
            stack.append((ch, line, col))
        elif ch in ")]":
            if not stack:
                return _bracket_error(f"unbalanced brackets: '{ch}' has no matching '{pairs[ch]}'",
                                      loc, line, col)
            opened, oline, ocol = stack.pop()
            if opened != pairs[ch]:
                return _bracket_error(f"unbalanced brackets: '{ch}' closes the '{opened}' "
                                      f"opened at {oline}:{ocol}", loc, line, col)
    if stack:
        opened, oline, ocol = stack[-1]
        closer = ")" if opened == "(" else "]"
        return _bracket_error(f"unbalanced brackets: this '{opened}' is never closed by '{closer}'",
                              loc, oline, ocol)
    return None


def _malformed_number(tok, text: str, loc) -> SpecError | None:
    """`0x8`, `4k`, `1.2.3`: a number directly followed by a name or another number."""
    pos = getattr(tok, "start_pos", None)
    if tok.type not in ("NAME", "NEXT_NAME", "NUMBER") or not pos or text[pos - 1] not in "0123456789.":
        return None
    start = pos
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "."
                         or (text[start - 1] in "+-" and text[start - 2:start - 1] in ("e", "E"))):
        start -= 1  # back over the number (an exponent's sign included)
    word = text[start:tok.end_pos]
    col = tok.column - (pos - start)
    return SpecError(Diagnostic("syntax", f"'{word}' is not a number: sizes and arguments are "
                                "decimal numbers like 8, 0.5 or 1e-3, or `let` names",
                                loc.span(tok.line, col, tok.line, col + len(word))))


def _bracket_error(message, loc, line, col) -> SpecError:
    return SpecError(Diagnostic("syntax", message, loc.span(line, col, line, col + 1)))


def _token_span(tok, text: str, loc) -> Span:
    if tok.type == "$END" or tok.line is None:
        lines = text.split("\n")
        return loc.span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
    if tok.type == "_NL":
        return loc.span(tok.line, tok.column, tok.line, tok.column + 1)
    return loc.of_token(tok)


def _state(err) -> int | None:
    """The LALR state number (lexer-raised errors carry a ParserState instead)."""
    state = err.state
    return getattr(state, "position", state)


@lru_cache(maxsize=None)
def _example_tables():
    """({(state, token type): message}, {state: message}) from `EXAMPLES`."""
    exact, by_state = {}, {}
    for message, token_specific, examples in EXAMPLES:
        for example in examples:
            try:
                raw_parse(example)
            except UnexpectedToken as err:
                exact.setdefault((_state(err), err.token.type), message)
                if not token_specific:
                    by_state.setdefault(_state(err), message)
            except UnexpectedInput:
                pass
    return exact, by_state


def _matching_example(err: UnexpectedToken) -> str | None:
    exact, by_state = _example_tables()
    state = _state(err)
    return exact.get((state, err.token.type)) or by_state.get(state)


def _describe_token(tok) -> str:
    if tok.type in ("_NL", "$END"):
        return TERMINAL_NAMES[tok.type]
    if tok.type == "NAME":
        return f"name '{tok}'"
    if tok.type == "NUMBER":
        return f"number {tok}"
    return quote(str(tok))


def _describe_terminal(name: str) -> str:
    if name in TERMINAL_NAMES:
        return TERMINAL_NAMES[name]
    try:
        pattern = grammar().get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'" if pattern.type == "str" else name


def _expected(err: UnexpectedToken) -> set:
    """Terminals the parser accepts here (a lexer-raised error's own set includes always-accepted ones)."""
    state = err.state
    conf = getattr(state, "parse_conf", None)
    if conf is not None:
        expected = conf.parse_table.states[state.position]
    else:
        expected = err.expected or ()
    return {name for name in expected if name == name.upper()}  # terminals, not rules


def _generic(err: UnexpectedToken) -> str:
    expected = _expected(err)
    words = []
    if EXPRESSION_START <= expected | {"PREDICT"} and {"NAME", "LPAR"} <= expected:
        expected -= EXPRESSION_START
        words.append("an expression")
    if "NUMBER" in expected:
        expected.discard("SUB")  # "a number" includes its sign
    words += sorted(_describe_terminal(name) for name in expected)
    wanted = ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)
    found = _describe_token(err.token)
    return f"unexpected {found}; expected {wanted}" if wanted else f"unexpected {found}"
