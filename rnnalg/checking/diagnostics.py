"""Collect located diagnostics so that independent errors are reported together."""
from __future__ import annotations

from ..errors import Diagnostic, SpecError


class Poison(Exception):
    """Abandon the current equation: its error is recorded (or it depends on one that is)."""


class Diagnostics:
    """A list of `Diagnostic`s; `fail` records an error and returns a `Poison` to raise."""

    def __init__(self):
        self.items: list[Diagnostic] = []

    def error(self, code: str, message: str, span=None) -> None:
        self.items.append(Diagnostic(code, message, span, "error"))

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
