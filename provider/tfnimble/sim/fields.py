"""Declared render tables: for every key of an object, where its rendered value comes from.

A :class:`Fields` table lists the keys in response order and sorts them into kinds: copied from
the stored document as-is (``stored``), the name of the object another field refers to
(``names``), a repeat of another stored field (``same``), a stored value whose emptiness renders
as null (``or_none``), the same value for every object (``constants``), and the rest, which the
object set computes per object. One renderer, :meth:`Fields.render`, walks the table, so a set
states only what it really computes.

Invariant: ``stored`` keys render exactly as stored, which lets lists filter, sort and page on
stored documents for those keys before rendering anything.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import Ctx
    from .store import Doc


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def each(value: Any, keys: str) -> dict[str, Any]:
    """``value`` for each of the space-separated ``keys`` (a group of constants)."""
    return dict.fromkeys(words(keys), value)


@dataclass(frozen=True)
class Fields:
    order: tuple[str, ...]
    stored: frozenset[str] = frozenset()
    names: Mapping[str, str] = field(default_factory=dict)  # key -> id field it names
    same: Mapping[str, str] = field(default_factory=dict)  # key -> stored field it repeats
    or_none: frozenset[str] = frozenset()  # stored, but an empty value renders as null
    constants: Mapping[str, Any] = field(default_factory=dict)
    computed: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        declared = [*self.stored, *self.names, *self.same, *self.or_none, *self.constants]
        unknown = set(declared) - set(self.order)
        if (
            unknown
            or len(declared) != len(set(declared))
            or len(self.order) != len(set(self.order))
        ):
            raise ValueError(f"render table: keys declared twice or not in order: {unknown}")
        object.__setattr__(self, "computed", frozenset(self.order) - set(declared))

    def render(self, ctx: Ctx, d: Doc, computed: Doc) -> Doc:
        """Every key in order; ``computed`` must hold exactly the computed keys."""
        if computed.keys() != self.computed:
            raise KeyError(f"computed keys differ: {set(computed) ^ self.computed}")
        out: Doc = {}
        for key in self.order:
            if key in computed:
                out[key] = computed[key]
            elif key in self.stored:
                out[key] = d[key]
            elif key in self.names:
                out[key] = ctx.name_of(d.get(self.names[key], ""))
            elif key in self.same:
                out[key] = d[self.same[key]]
            elif key in self.or_none:
                out[key] = d[key] or None
            else:
                value = self.constants[key]
                out[key] = copy.deepcopy(value) if isinstance(value, (dict, list)) else value
        return out


def table(
    order: str,
    stored: str = "",
    *,
    names: Mapping[str, str] | None = None,
    same: Mapping[str, str] | None = None,
    or_none: str = "",
    constants: Mapping[str, Any] | None = None,
) -> Fields:
    """A :class:`Fields` from space-separated key lists."""
    return Fields(
        words(order),
        frozenset(words(stored)),
        dict(names or {}),
        dict(same or {}),
        frozenset(words(or_none)),
        dict(constants or {}),
    )
