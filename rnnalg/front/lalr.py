"""The LALR parser of `grammar/rnnalg.lark`: lark trees and lark exceptions, no messages.

    grammar()        -> the lark.Lark parser (built once; contextual lexer, positions propagated)
    raw_parse(text)  -> the lark Tree of `text`; lark's UnexpectedInput escapes

Shared by `parser` (text -> syntax records) and `parser_errors` (which matches error states
against its examples), so the imports go one way: lalr <- parser_errors <- parser.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark, Tree


def _grammar_text() -> str:
    """The grammar file, from the source tree or from the installed `rnnalg.grammar` package."""
    path = Path(__file__).resolve().parents[2] / "grammar" / "rnnalg.lark"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    from importlib.resources import files  # installed: grammar/ ships as rnnalg.grammar

    return files("rnnalg.grammar").joinpath("rnnalg.lark").read_text(encoding="utf-8")


class _Continuation:
    """Post-lexer: drop newlines inside ( ) and [ ] so expressions may span lines."""

    always_accept = ("_NL", "NEXT_NAME")  # NEXT_NAME: so `state h' : H` lexes h' (and is refused)

    def process(self, stream):
        depth = 0
        for tok in stream:
            if tok.type == "_NL":
                if depth:
                    continue
            elif tok.value in ("(", "["):
                depth += 1
            elif tok.value in (")", "]"):
                depth = max(0, depth - 1)
            yield tok


@lru_cache(maxsize=None)
def grammar() -> Lark:
    """The LALR parser (built once)."""
    return Lark(_grammar_text(), parser="lalr", lexer="contextual", postlex=_Continuation(),
                propagate_positions=True, maybe_placeholders=True)


def raw_parse(text: str) -> Tree:
    """The lark tree of `text` (lark exceptions escape: for internal use and error matching)."""
    return grammar().parse(text + "\n")
