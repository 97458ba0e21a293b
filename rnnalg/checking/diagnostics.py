"""Collect located diagnostics so that independent errors are reported together."""
from __future__ import annotations

from ..errors import MAX_SHOWN, Diagnostic, SpecError


class Poison(Exception):
    """Abandon the current equation: its error is recorded (or it depends on one that is)."""


class Diagnostics:
    """A list of `Diagnostic`s; `fail` records an error and returns a `Poison` to raise."""

    def __init__(self):
        self.items: list[Diagnostic] = []
        self.error_count = 0  # len(self.errors), kept so that asking is O(1)

    def error(self, code: str, message: str, span=None) -> None:
        self.items.append(Diagnostic(code, message, span, "error"))
        self.error_count += 1

    @property
    def many(self) -> bool:
        """More errors than are printed in full: optional work (suggestions) can be skipped."""
        return self.error_count >= MAX_SHOWN

    def warn(self, code: str, message: str, span=None) -> None:
        self.items.append(Diagnostic(code, message, span, "warning"))

    def fail(self, code: str, message: str, span=None) -> Poison:
        self.error(code, message, span)
        return Poison(code)

    @property
    def errors(self) -> list:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list:
        return _in_source_order([d for d in self.items if d.severity == "warning"])

    def raise_if_errors(self) -> None:
        errors = self.errors
        if errors:
            raise SpecError(_in_source_order(errors))


def _in_source_order(diagnostics: list) -> list:
    """Sort by position; diagnostics without a span keep their order, after the others."""
    def key(d):
        s = d.span
        return (0, s.line, s.col) if s is not None else (1, 0, 0)
    return sorted(diagnostics, key=key)
