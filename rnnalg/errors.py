"""The error vocabulary of rnnalg.

Every error a user can cause is one of the classes below.  Spec errors carry a
`Span` (file, line, column, the source line) so they print as::

    dots.rnn:7:12: error: unbound name 'q'
        h' = tanh(q ⊕ h)
                  ^

The CLI catches `RnnalgError`; nothing else should ever reach a user.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_SHOWN = 50  # diagnostics printed in full; the rest are counted ("… and N more errors")
CARET_CONTEXT = 40  # characters shown either side of a caret on a long source line


def quote(name: str) -> str:
    """A name quoted for a message: 'h', and "h'" (a prime inside '…' would read as a quote)."""
    return f'"{name}"' if "'" in name else f"'{name}'"


@dataclass(frozen=True)
class Span:
    """A region of source text; lines and columns are 1-based, `end_col` exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int
    line_text: str = field(default="", compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def caret(self) -> str:
        """The source line and a caret line under the span (empty without text)."""
        if not self.line_text:
            return ""
        text = self.line_text.rstrip("\n")
        col = self.col
        width = (self.end_col - col) if self.end_line == self.line else len(text) - col + 1
        width = max(1, width)
        if len(text) > 3 * CARET_CONTEXT:  # a long line: a window around the caret, marked …
            shown = 2 * CARET_CONTEXT + min(width, CARET_CONTEXT)
            start = max(0, min(col - 1 - CARET_CONTEXT, len(text) - shown))
            end = min(len(text), start + shown)
            width = max(1, min(width, end - (col - 1)))
            text = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
            col = col - start + (1 if start else 0)
        pad = "".join(ch if ch == "\t" else " " for ch in text[: col - 1])
        return f"    {visible(text)}\n    {pad}{'^' * width}"


def visible(text: str) -> str:
    """`text` with each unprintable character but tab (a binary file's NUL, ESC, …) as U+FFFD,
    one for one: no escape sequence reaches the terminal, and the caret stays under its column
    (the parser shows a control character in a valid spec alike)."""
    return "".join(ch if ch == "\t" or ch.isprintable() else "\ufffd" for ch in text)


class RnnalgError(Exception):
    """Base of every error meant for a user; `str(err)` is the full message."""

    exit_code = 1


class UsageError(RnnalgError):
    """A bad command line (unknown flag value, unknown `--set` size, ...)."""

    exit_code = 2


@dataclass
class Diagnostic:
    """One located message about a spec; `code` is a stable short name for tests."""

    code: str
    message: str
    span: Span | None = None
    severity: str = "error"  # "error" | "warning"

    def format(self) -> str:
        where = f"{self.span}: " if self.span else ""
        head = f"{where}{self.severity}: {self.message}"
        caret = self.span.caret() if self.span else ""
        return f"{head}\n{caret}" if caret else head


class SpecError(RnnalgError):
    """One or more errors in a spec (several independent ones are reported together)."""

    def __init__(self, diagnostics):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__(format_diagnostics(self.diagnostics))

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]


def format_diagnostics(diagnostics) -> str:
    """The first MAX_SHOWN diagnostics in full, then one line counting the rest."""
    shown = [d.format() for d in diagnostics[:MAX_SHOWN]]
    rest = diagnostics[MAX_SHOWN:]
    if rest:
        kinds = {d.severity for d in rest}
        noun = kinds.pop() if len(kinds) == 1 else "diagnostic"
        shown.append(f"… and {len(rest)} more {noun}{'s' if len(rest) > 1 else ''}")
    return "\n".join(shown)


def spec_error(code: str, message: str, span: Span | None = None) -> SpecError:
    return SpecError(Diagnostic(code, message, span))


class DataError(RnnalgError):
    """A data file that cannot be used; `where` is e.g. 'line 3' or 'train[12][40]'."""

    def __init__(self, file: str, message: str, where: str | None = None):
        self.file, self.where, self.message = str(file), where, message
        loc = f"{file}: {where}" if where else f"{file}"
        super().__init__(f"{loc}: error: {message}")


class CheckpointError(DataError):
    """A checkpoint that is corrupt, incomplete or belongs to another spec."""


class TrainingError(RnnalgError):
    """Training cannot go on (NaN or Inf in the loss or gradients, ...)."""


class ResourceError(RnnalgError):
    """The machine cannot run what was asked (a model larger than its memory, ...)."""


class SweepError(DataError):
    """A sweep file that cannot be used; `where` is the key, e.g. 'model.dots.set.H', and its line
    once `rnnalg sweep` has found it ('line 9: model.dots.set.H', sweep/keyline.py)."""


class SweepRunError(RnnalgError):
    """Ray could not be started or reached (rnnalg sweep)."""
