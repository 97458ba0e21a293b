"""Text -> `syntax.Spec`: the lark grammar `grammar/rnnalg.lark` plus a transformer.

    parse("input x : binary[88]\\n...", file="dots.rnn") -> Spec(items=(Decl(...), ...))
    load("examples/dots.rnn")                           -> the same, read from a file

Every record carries a `Span` (file, 1-based line and column, exclusive end, the
source line).  No lark exception or traceback leaves this module: every problem
becomes an `errors.SpecError` whose diagnostic codes are

    syntax           the text does not follow the grammar (friendly message, located); after
                     a mistake the parser skips its statement and goes on, so independent
                     mistakes in several statements are reported together; a control
                     character (NUL, ESC, …) anywhere, even in a comment, is one too
    too-deep         expressions nested more than MAX_DEPTH levels
    unreadable-file  `load` could not read the file
    too-large        the file is larger than MAX_SPEC_BYTES (not a spec; /dev/zero)
    encoding         the file is not UTF-8 (located at the first bad byte)

The LALR parser itself is `rnnalg/front/lalr.py`; the friendly syntax messages are tables in
`rnnalg/front/parser_errors.py`.
"""
from __future__ import annotations

import math
import re

from lark import Token, Transformer_NonRecursive, Tree, v_args
from lark.exceptions import LarkError, UnexpectedInput, VisitError

from ..errors import Diagnostic, Span, SpecError
from . import syntax as S
from .lalr import raw_parse
from .parser_errors import explain, mixed_plus_error

MAX_DEPTH = 100  # nesting levels of one statement's parse tree
MAX_SPEC_BYTES = 2**20  # a spec is a few lines; a bigger file is a mistake (or /dev/zero)
MAX_SYNTAX_ERRORS = 50  # statements skipped after a mistake before the parser gives up
# C0 controls and DEL other than tab, newline, carriage return and form feed: invisible in an
# editor, and the emitted module repeats the spec (comments too) where Python refuses a NUL
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
KEYWORDS = frozenset({"let", "input", "output", "state", "MLP", "real", "binary", "token"})


# ---------------------------------------------------------------- tree -> records

_INT = re.compile(r"[+-]?\d+")


class _Locator:
    """Makes Spans for one text."""

    def __init__(self, text: str, file: str):
        self.file, self.text, self.lines = file, text, text.split("\n")

    def line_text(self, line: int) -> str:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return text.rstrip("\r")  # a CRLF file's line, without its CR

    def span(self, line, col, end_line, end_col) -> Span:
        return Span(self.file, line, col, end_line, end_col, self.line_text(line))

    def of_meta(self, meta) -> Span:
        return self.span(meta.line, meta.column, meta.end_line, meta.end_column)

    def of_token(self, tok: Token) -> Span:
        line, col = tok.line or 1, tok.column or 1
        end_line = tok.end_line or line
        end_col = tok.end_column if tok.end_column and end_line == line else col + max(1, len(tok))
        return self.span(line, col, end_line, end_col)


def _error(code: str, message: str, span: Span) -> SpecError:
    return SpecError(Diagnostic(code, message, span))


@v_args(meta=True)
class _ToSyntax(Transformer_NonRecursive):
    """One method per grammar rule (or alias), each building the syntax record of that name."""

    def __init__(self, loc: _Locator):
        super().__init__()
        self.loc = loc
        self.grouped = set()  # ids of the records written in ( ): `(x ⊕ h) + 1` may mix ⊕ and +
        self.op_tokens = {}  # id of a BinOp -> its operator token (for the readings of `x ⊕ h + 1`)
        self.extent = {}  # id of a BinOp -> (start, end) offsets in the text

    def _number(self, tok: Token):
        text = str(tok)
        try:
            value = int(text) if _INT.fullmatch(text) else float(text)
        except ValueError:  # more digits than Python converts
            raise _error("syntax", f"number too long: {text[:20]}...", self.loc.of_token(tok)) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise _error("syntax", f"number out of range: {text}", self.loc.of_token(tok))
        return value

    def _ident(self, tok: Token) -> str:
        """A name; keywords are reserved everywhere, even where lark could tell them apart."""
        if str(tok).rstrip("'") in KEYWORDS:
            raise _error("syntax", f"'{tok.rstrip(chr(39))}' is a keyword and cannot be used as a name",
                         self.loc.of_token(tok))
        return str(tok)

    def start(self, meta, items):
        return tuple(items)

    def let(self, meta, c):
        return S.Let(self._ident(c[0]), self._number(c[1]), self.loc.of_meta(meta))

    def role(self, meta, c):
        return str(c[0])

    kind = role

    def decl(self, meta, c):
        tied = None if c[4] is None else self._ident(c[4])
        return S.Decl(c[0], self._ident(c[1]), c[2], self.loc.of_meta(meta), tied, c[3] is not None)

    def type(self, meta, c):
        return S.Type(c[0], c[1][0], self.loc.of_meta(meta))

    def real_type(self, meta, c):
        return S.Type("real", c[0][0], self.loc.of_meta(meta))

    def size(self, meta, c):
        """(the size, its span): the span is kept where an error may point at the size."""
        tok = c[0]
        if tok.type == "NAME":
            return self._ident(tok), self.loc.of_token(tok)
        value = self._number(tok)
        if not isinstance(value, int):
            raise _error("syntax", f"a size must be a whole number or a `let` name, not {tok}",
                         self.loc.of_token(tok))
        return value, self.loc.of_token(tok)

    def equation(self, meta, c):
        width, width_span = c[1] or (None, None)
        return S.Equation(self._ident(c[0]), width, c[2], self.loc.of_meta(meta), width_span)

    def predict(self, meta, c):
        return S.Predict(c[1], self.loc.of_meta(meta))

    def plus(self, meta, c):
        operands = tuple(x for x in c if not (isinstance(x, Token) and x.type == "PLUS"))
        for i, op in enumerate(operands):
            if self._ungrouped_sum(op):
                first = op
                while self._ungrouped_sum(first.left):
                    first = first.left
                raise mixed_plus_error(self.loc, (meta.start_pos, meta.end_pos), self.extent[id(op)],
                                       i, len(operands), self.op_tokens[id(first)], self.op_tokens[id(op)])
        return S.Plus(operands, self.loc.of_meta(meta))

    def _ungrouped_sum(self, e) -> bool:
        return isinstance(e, S.BinOp) and e.op in "+-" and id(e) not in self.grouped

    def _binop(self, meta, c):
        left, op, right = c
        record = S.BinOp(str(op), left, right, self.loc.of_meta(meta))
        self.op_tokens[id(record)] = op
        self.extent[id(record)] = (meta.start_pos, meta.end_pos)
        return record

    add = sub = mul = _binop

    def neg(self, meta, c):
        e = c[1]
        if isinstance(e, S.Const) and id(e) not in self.grouped:  # `-2` is the number -2
            return S.Const(-e.value, self.loc.of_meta(meta))
        return S.Neg(e, self.loc.of_meta(meta))

    def number(self, meta, c):
        return S.Const(self._number(c[0]), self.loc.of_meta(meta))

    def group(self, meta, c):
        self.grouped.add(id(c[0]))
        return c[0]

    def signed(self, meta, c):
        sign, tok = c
        if sign is None:
            return tok
        return Token("NUMBER", "-" + tok, start_pos=sign.start_pos, line=sign.line, column=sign.column,
                     end_line=tok.end_line, end_column=tok.end_column, end_pos=tok.end_pos)

    def name(self, meta, c):
        return S.Name(self._ident(c[0]), self.loc.of_meta(meta))

    def call(self, meta, c):
        return S.Call(self._ident(c[0]), c[1] or (), c[2], self.loc.of_meta(meta))

    def mlp(self, meta, c):
        return S.MLP(c[0], c[1], self.loc.of_meta(meta))

    def args(self, meta, c):
        return tuple(self._number(tok) for tok in c)

    def layers(self, meta, c):
        return tuple(c)

    def layer(self, meta, c):
        return S.Layer(self._ident(c[0]), c[1] or (), c[2] and c[2][0], self.loc.of_meta(meta))


def _check_depth(tree: Tree, loc: _Locator) -> None:
    """Refuse absurdly nested statements before anything recursive (==, repr, checker) sees them."""
    depth = {id(tree): 0}
    for sub in tree.iter_subtrees_topdown():
        for child in sub.children:
            if isinstance(child, Tree):
                depth[id(child)] = depth[id(sub)] + (sub.data != "group")  # ( ) leave no record
                if depth[id(child)] > MAX_DEPTH:
                    raise _error("too-deep", f"expression nested more than {MAX_DEPTH} levels deep",
                                 loc.of_meta(child.meta))


# ---------------------------------------------------------------- entry points

def parse(text: str, file: str = "<spec>") -> S.Spec:
    """Parse spec text into a `syntax.Spec`; raise `SpecError` (code 'syntax', ...) if malformed."""
    if not isinstance(text, str):
        raise TypeError(f"parse() takes the spec text as a str, not {type(text).__name__}")
    loc = _Locator(text, file)
    _refuse_control_characters(text, loc)
    tree = _parse_tree(text, loc)
    _check_depth(tree, loc)
    try:
        items = _ToSyntax(loc).transform(tree)
    except VisitError as err:
        if isinstance(err.orig_exc, SpecError):
            raise err.orig_exc from None
        raise _error("syntax", f"cannot parse: {err.orig_exc}", loc.of_meta(err.obj.meta)) from None
    return S.Spec(items, file=file, text=text)


def _parse_tree(text: str, loc: _Locator) -> Tree:
    """The lark tree, or a SpecError with the syntax errors of every statement that has one.

    After an error the statement holding it is blanked (its lines kept, so positions stay)
    and the text parsed again, up to MAX_SYNTAX_ERRORS times.
    """
    diagnostics = []
    for _ in range(MAX_SYNTAX_ERRORS):
        try:
            tree = raw_parse(text)
        except UnexpectedInput as err:
            diagnostics += explain(err, text, loc).diagnostics
        except LarkError as err:  # not expected from LALR, but never let one out
            diagnostics.append(Diagnostic("syntax", f"cannot parse: {err}", loc.span(1, 1, 1, 2)))
        else:
            if diagnostics:
                break
            return tree
        text = blank_statement(text, diagnostics[-1].span.line)
        if text is None:
            break
    raise SpecError(sorted(diagnostics, key=lambda d: (d.span.line, d.span.col))) from None


def _refuse_control_characters(text: str, loc: _Locator) -> None:
    m = _CONTROL.search(text)
    if m is None:
        return
    line = text.count("\n", 0, m.start()) + 1
    col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    shown = _CONTROL.sub("\ufffd", loc.line_text(line))  # not sent raw to a terminal
    where = " in a comment" if "#" in shown[:col - 1] else ""
    raise _error("syntax", f"control character U+{ord(m.group()):04X}{where}: a spec is plain text",
                 Span(loc.file, line, col, line, col + 1, shown))


def blank_statement(text: str, line: int) -> str | None:
    """`text` with the statement that holds `line` replaced by blank lines, or None if that
    blanks nothing more (a statement runs on while a ( or [ is open, as in the grammar)."""
    lines = text.split("\n")
    first = last = 0  # the statement [first, last] (0-based lines) being scanned
    depth = 0
    for i, content in enumerate(lines):
        if depth == 0:
            first = i
        depth = _depth_after(content, depth)
        last = i
        if depth == 0 and i >= line - 1:
            break
    if first > line - 1 or not any(x.strip() for x in lines[first:last + 1]):
        return None
    return "\n".join(lines[:first] + [""] * (last + 1 - first) + lines[last + 1:])


def _depth_after(line: str, depth: int) -> int:
    """Bracket depth at the end of `line` (comments ignored, never below 0)."""
    for ch in line:
        if ch == "#":
            break
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
    return depth


def load(path) -> S.Spec:
    """Read and parse a spec file (UTF-8).  Codes: 'unreadable-file', 'too-large', 'encoding',
    'syntax'."""
    name = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SPEC_BYTES + 1)
    except (OSError, ValueError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise _error("unreadable-file", f"cannot read spec file {name}: {reason}", None) from None
    return parse_bytes(data, name)


def parse_bytes(data: bytes, file: str) -> S.Spec:
    """Decode `data` (UTF-8, an optional byte-order mark) and parse it; what `load` does after
    reading, for specs from elsewhere (standard input)."""
    if len(data) > MAX_SPEC_BYTES:
        raise _error("too-large", f"{file} is larger than {MAX_SPEC_BYTES // 2**20} MiB: not a spec", None)
    name = file
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _encoding_error(data, err.start, name) from None
    if text.startswith("\ufeff"):  # a UTF-8 byte-order mark is not part of the spec
        text = text[1:]
    return parse(text, file=name)


def _encoding_error(data: bytes, offset: int, file: str) -> SpecError:
    before = data[:offset]
    line = before.count(b"\n") + 1
    line_start = before.rfind(b"\n") + 1
    col = len(before[line_start:].decode("utf-8", errors="replace")) + 1
    line_end = data.find(b"\n", offset)
    raw_line = data[line_start:line_end if line_end >= 0 else len(data)]
    text = raw_line.decode("utf-8", errors="replace")
    span = Span(file, line, col, line, col + 1, text)
    return _error("encoding", f"the spec is not valid UTF-8 (byte 0x{data[offset]:02x})", span)
