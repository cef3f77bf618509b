"""Diagnostics: plain data that the engine collects and the server encodes.

A diagnostic has a Title-Case summary, a detail that says what was being done and
what to do, and optionally the attribute path it is about (Terraform then points
at that line of the configuration).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

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

    def detach(self, hidden: Callable[[AttributePath], bool]) -> int:
        """Drop the path of every diagnostic whose path is ``hidden``; how many were.

        Terraform prints the configuration line a diagnostic's path points at, so a
        diagnostic about a sensitive attribute would print its value (a password in the
        .tf file). Without a path it is shown against the whole block instead.
        """
        count = 0
        for i, d in enumerate(self._items):
            if d.path is not None and hidden(d.path):
                self._items[i] = replace(d, path=None)
                count += 1
        return count

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
