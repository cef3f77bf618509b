"""What the plural data sources (`nimble_volumes`, `nimble_snapshots`) share: the name filters,
checked at plan time, and the list-of-objects attribute they report.

Rule: filters the array can apply are sent as query parameters (exact matches, so only
the matching objects cross the wire, page by page); the name filters are applied here, on top,
because the array has no prefix filter and its regular-expression dialect is not documented.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from tfnimble.plugin import Attribute, AttributePath, DataSource, Schema, Value, types
from tfnimble.plugin.diagnostics import Diagnostic, Severity
from tfnimble.plugin.schema import NestedAttributes, Nesting

from . import _fields as f

T = TypeVar("T")


def _regex_rule(value: Any, path: AttributePath) -> Sequence[Diagnostic]:
    """A regular expression that Python's `re` compiles (what the provider matches with)."""
    try:
        re.compile(value)
    except re.error as err:
        return [
            Diagnostic(
                Severity.ERROR,
                "Invalid Regular Expression",
                f"{path} is not a valid regular expression: {err} (in {value!r}). Use Python "
                "`re` syntax, which for common patterns is Terraform's RE2 syntax too, e.g. "
                '"^vm-[0-9]+-boot$"; escape a literal dot as "\\\\.".',
                path,
            )
        ]
    return []


NAME_PREFIX = f.argument(
    types.String,
    "Only objects whose name starts with this text (case-sensitive). Applied by the provider.",
)
NAME_REGEX = f.argument(
    types.String,
    "Only objects whose name matches this regular expression anywhere (Python `re.search`; "
    "anchor it with `^...$` to match whole names). Applied by the provider, after the array's "
    "own filters. An invalid expression is an error at plan time.",
    validators=(_regex_rule,),
)


def name_kept(name: str, prefix: Value[str], regex: Value[str]) -> bool:
    """Whether ``name`` passes the configured name filters (null = no filter)."""
    if isinstance(prefix, str) and not name.startswith(prefix):
        return False
    return not (isinstance(regex, str) and re.search(regex, name) is None)


def kept(
    objects: Iterable[T], name: Callable[[T], str], prefix: Value[str], regex: Value[str]
) -> list[T]:
    """The objects whose names pass the filters, sorted by name (a stable order for plans)."""
    return sorted((o for o in objects if name_kept(name(o), prefix, regex)), key=name)


#: A data source's report of one object: attribute -> (type, description, how to read it).
Columns = Mapping[str, tuple[Any, str, Callable[[Any], Any]]]


def object_list(description: str, columns: Columns) -> f.Field:
    """A read-only list of objects, one attribute per column."""
    inner = {
        key: Attribute(type=ty, computed=True, description=text)
        for key, (ty, text, _) in columns.items()
    }
    return f.attr(
        Attribute(
            nested=NestedAttributes(inner, Nesting.LIST), computed=True, description=description
        )
    )


def rows(objects: Iterable[Any], columns: Columns) -> list[dict[str, Any]]:
    """The list attribute's value: each object read column by column."""
    return [{key: read(o) for key, (_, _, read) in columns.items()} for o in objects]


def strings(description: str) -> f.Field:
    return f.attr(Attribute(type=types.List(types.String), computed=True, description=description))


class PluralDataSource(DataSource):
    """A data source whose schema is its model's attribute table and that lists objects."""

    DESCRIPTION: ClassVar[str]

    def schema(self) -> Schema:
        return f.schema_of(self.Model, self.DESCRIPTION)
