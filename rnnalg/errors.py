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
        width = (self.end_col - self.col) if self.end_line == self.line else len(text) - self.col + 1
        width = max(1, width)
        pad = "".join(ch if ch == "\t" else " " for ch in text[: self.col - 1])
        return f"    {text}\n    {pad}{'^' * width}"


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
        super().__init__("\n".join(d.format() for d in self.diagnostics))

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]


def spec_error(code: str, message: str, span: Span | None = None) -> SpecError:
    return SpecError(Diagnostic(code, message, span))


class DataError(RnnalgError):
    """A data file that cannot be used; `where` is e.g. 'line 3' or 'train[12][40]'."""

    def __init__(self, file: str, message: str, where: str | None = None):
        self.file, self.where = str(file), where
        loc = f"{file}: {where}" if where else f"{file}"
        super().__init__(f"{loc}: error: {message}")


class CheckpointError(DataError):
    """A checkpoint that is corrupt, incomplete or belongs to another spec."""


class TrainingError(RnnalgError):
    """Training cannot go on (NaN or Inf in the loss or gradients, ...)."""


class ResourceError(RnnalgError):
    """The machine cannot run what was asked (a model larger than its memory, ...)."""


class SweepError(DataError):
    """A sweep file that cannot be used; `where` is the key, e.g. 'model.dots.set.H'."""


class SweepRunError(RnnalgError):
    """Ray could not be started or reached (rnnalg sweep)."""
