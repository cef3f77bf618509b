"""Diagnostics: plain data that the engine collects and the server encodes.

A diagnostic has a Title-Case summary, a detail that says what was being done and
what to do, and optionally the attribute path it is about (Terraform then points
at that line of the configuration).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .cty.path import AttributePath


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    summary: str
    detail: str = ""
    path: AttributePath | None = None


class Diagnostics:
    """An ordered collection of diagnostics with convenience constructors."""

    def __init__(self, items: Iterable[Diagnostic] = ()) -> None:
        self._items: list[Diagnostic] = list(items)

    def add(self, diag: Diagnostic) -> None:
        self._items.append(diag)

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self._items.extend(other)

    def add_error(self, summary: str, detail: str = "", path: AttributePath | None = None) -> None:
        self._items.append(Diagnostic(Severity.ERROR, summary, detail, path))

    def add_warning(
        self, summary: str, detail: str = "", path: AttributePath | None = None
    ) -> None:
        self._items.append(Diagnostic(Severity.WARNING, summary, detail, path))

    def has_error(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self._items)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __repr__(self) -> str:
        return f"Diagnostics({self._items!r})"


class DiagnosticError(Exception):
    """Raised by resource code to stop an operation with one error diagnostic.

    The engine turns it into a diagnostic; resources never build protobuf.
    """

    def __init__(self, summary: str, detail: str = "", path: AttributePath | None = None) -> None:
        super().__init__(f"{summary}: {detail}" if detail else summary)
        self.summary = summary
        self.detail = detail
        self.path = path

    def to_diagnostic(self) -> Diagnostic:
        return Diagnostic(Severity.ERROR, self.summary, self.detail, self.path)
