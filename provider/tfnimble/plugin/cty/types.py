"""cty types: the Terraform type system (``cty.Type``) as frozen, hashable dataclasses.

Primitive singletons: :data:`String`, :data:`Number`, :data:`Bool`, and the
pseudo-type :data:`Dynamic` ("any type", ``cty.DynamicPseudoType``).
Structural constructors: :class:`List`, :class:`Set`, :class:`Map`,
:class:`Tuple`, :class:`Object` (each is both the constructor and the class to
``isinstance`` against).

Types serialize to the JSON form Terraform uses in schemas and dynamic values:
``"string"``, ``["list", "number"]``, ``["object", {"a": "bool"}, ["a"]]`` ...
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .path import CtyError

__all__ = [
    "Bool",
    "CollectionType",
    "CtyType",
    "Dynamic",
    "DynamicPseudoType",
    "List",
    "Map",
    "Number",
    "Object",
    "PrimitiveType",
    "Set",
    "String",
    "Tuple",
    "type_from_json",
    "type_from_json_bytes",
    "type_to_json",
    "type_to_json_bytes",
]


@dataclass(frozen=True)
class CtyType:
    """Base class of all cty types."""

    @property
    def is_primitive(self) -> bool:
        return isinstance(self, PrimitiveType)

    @property
    def is_collection(self) -> bool:
        """List, set or map (homogeneous element type)."""
        return isinstance(self, CollectionType)

    @property
    def is_structural(self) -> bool:
        """Object or tuple."""
        return isinstance(self, Object | Tuple)

    @property
    def is_dynamic(self) -> bool:
        return isinstance(self, DynamicPseudoType)

    def has_dynamic(self) -> bool:
        """Whether ``Dynamic`` occurs anywhere inside this type."""
        return False

    def friendly_name(self) -> str:
        return json.dumps(type_to_json(self), separators=(",", ":"))


@dataclass(frozen=True, repr=False)
class PrimitiveType(CtyType):
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in ("string", "number", "bool"):
            raise ValueError(f"invalid primitive type {self.kind!r}")

    def __repr__(self) -> str:
        return self.kind.capitalize()

    def friendly_name(self) -> str:
        return self.kind


@dataclass(frozen=True, repr=False)
class DynamicPseudoType(CtyType):
    def __repr__(self) -> str:
        return "Dynamic"

    def has_dynamic(self) -> bool:
        return True

    def friendly_name(self) -> str:
        return "dynamic"


String = PrimitiveType("string")
Number = PrimitiveType("number")
Bool = PrimitiveType("bool")
Dynamic = DynamicPseudoType()


def _check_type(t: object, what: str) -> CtyType:
    if not isinstance(t, CtyType) or type(t) is CtyType or type(t) is CollectionType:
        raise TypeError(f"{what} must be a CtyType, not {t!r}")
    return t


@dataclass(frozen=True, repr=False)
class CollectionType(CtyType):
    """Common base of List, Set and Map."""

    element: CtyType

    def __post_init__(self) -> None:
        _check_type(self.element, "element type")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.element!r})"

    def has_dynamic(self) -> bool:
        return self.element.has_dynamic()


@dataclass(frozen=True, repr=False)
class List(CollectionType):
    pass


@dataclass(frozen=True, repr=False)
class Set(CollectionType):
    pass


@dataclass(frozen=True, repr=False)
class Map(CollectionType):
    pass


@dataclass(frozen=True, repr=False, init=False)
class Tuple(CtyType):
    elements: tuple[CtyType, ...]

    def __init__(self, elements: Iterable[CtyType] = ()) -> None:
        elems = tuple(elements)
        for i, e in enumerate(elems):
            _check_type(e, f"tuple element {i}")
        object.__setattr__(self, "elements", elems)

    def __repr__(self) -> str:
        return f"Tuple({list(self.elements)!r})"

    def has_dynamic(self) -> bool:
        return any(e.has_dynamic() for e in self.elements)


@dataclass(frozen=True, repr=False, init=False)
class Object(CtyType):
    """An object type. ``attributes`` is a read-only mapping name -> type (sorted by name);
    ``optional`` is the set of attribute names that may be omitted in type constraints."""

    attribute_items: tuple[tuple[str, CtyType], ...]
    optional: frozenset[str]
    _attributes: Mapping[str, CtyType] = field(compare=False, hash=False, repr=False)

    def __init__(
        self,
        attributes: Mapping[str, CtyType] | Iterable[tuple[str, CtyType]] = (),
        optional: Iterable[str] = frozenset(),
    ) -> None:
        items = dict(attributes.items() if isinstance(attributes, Mapping) else attributes)
        for name, t in items.items():
            if not isinstance(name, str):
                raise TypeError(f"object attribute name must be str, not {name!r}")
            _check_type(t, f"attribute {name!r}")
        opt = frozenset(optional)
        extra = opt - items.keys()
        if extra:
            raise ValueError(f"optional attributes {sorted(extra)} are not object attributes")
        sorted_items = tuple(sorted(items.items()))
        object.__setattr__(self, "attribute_items", sorted_items)
        object.__setattr__(self, "optional", opt)
        object.__setattr__(self, "_attributes", MappingProxyType(dict(sorted_items)))

    @property
    def attributes(self) -> Mapping[str, CtyType]:
        return self._attributes

    def __reduce__(self) -> tuple[Any, ...]:  # picklable / deep-copyable despite the proxy
        return (Object, (self.attribute_items, self.optional))

    def __iter__(self) -> Iterator[str]:
        return iter(self._attributes)

    def __repr__(self) -> str:
        body = "{" + ", ".join(f"{k!r}: {v!r}" for k, v in self.attribute_items) + "}"
        if self.optional:
            return f"Object({body}, optional={sorted(self.optional)!r})"
        return f"Object({body})"

    def has_dynamic(self) -> bool:
        return any(t.has_dynamic() for _, t in self.attribute_items)

    def without_optional(self) -> Object:
        return Object(self.attribute_items)


_PRIMS: dict[str, CtyType] = {"string": String, "number": Number, "bool": Bool, "dynamic": Dynamic}


def type_to_json(t: CtyType) -> Any:
    """The JSON-able structure Terraform uses to describe ``t``."""
    if isinstance(t, PrimitiveType):
        return t.kind
    if isinstance(t, DynamicPseudoType):
        return "dynamic"
    if isinstance(t, List):
        return ["list", type_to_json(t.element)]
    if isinstance(t, Set):
        return ["set", type_to_json(t.element)]
    if isinstance(t, Map):
        return ["map", type_to_json(t.element)]
    if isinstance(t, Tuple):
        return ["tuple", [type_to_json(e) for e in t.elements]]
    if isinstance(t, Object):
        attrs = {k: type_to_json(v) for k, v in t.attribute_items}
        if t.optional:
            return ["object", attrs, sorted(t.optional)]
        return ["object", attrs]
    raise TypeError(f"not a cty type: {t!r}")


def type_from_json(obj: Any) -> CtyType:
    """Inverse of :func:`type_to_json`. Raises :class:`CtyError` on malformed input."""
    try:
        return _type_from_json(obj)
    except RecursionError:
        raise CtyError(None, "type description is nested too deeply") from None


def _type_from_json(obj: Any) -> CtyType:
    if isinstance(obj, str):
        try:
            return _PRIMS[obj]
        except KeyError:
            raise CtyError(None, f"invalid primitive type name {obj!r}") from None
    if not isinstance(obj, list) or not obj or not isinstance(obj[0], str):
        raise CtyError(None, f"invalid type description {_short(obj)}")
    kind = obj[0]
    if kind in ("list", "set", "map"):
        if len(obj) != 2:
            raise CtyError(None, f"{kind} type description must have exactly one element type")
        ety = _type_from_json(obj[1])
        return {"list": List, "set": Set, "map": Map}[kind](ety)
    if kind == "tuple":
        if len(obj) != 2 or not isinstance(obj[1], list):
            raise CtyError(None, 'tuple type description must be ["tuple", [types...]]')
        return Tuple(_type_from_json(e) for e in obj[1])
    if kind == "object":
        if len(obj) not in (2, 3) or not isinstance(obj[1], dict):
            raise CtyError(None, 'object type description must be ["object", {attrs}, [opt]]')
        attrs = {k: _type_from_json(v) for k, v in obj[1].items()}
        optional: list[Any] = []
        if len(obj) == 3:
            optional = obj[2]
            if not isinstance(optional, list) or not all(isinstance(o, str) for o in optional):
                raise CtyError(None, "object optional attributes must be a list of names")
            missing = set(optional) - attrs.keys()
            if missing:
                raise CtyError(None, f"optional attributes {sorted(missing)} are not declared")
        return Object(attrs, frozenset(optional))
    raise CtyError(None, f"invalid complex type kind {kind!r}")


def _short(obj: Any) -> str:
    r = repr(obj)
    return r if len(r) <= 60 else r[:57] + "..."


def type_to_json_bytes(t: CtyType) -> bytes:
    """Compact JSON encoding of ``t`` (as in tfplugin6 ``Schema.Attribute.type``)."""
    return json.dumps(type_to_json(t), separators=(",", ":"), ensure_ascii=False).encode()


def type_from_json_bytes(data: bytes | bytearray | memoryview | str) -> CtyType:
    """Parse a JSON type description. Raises :class:`CtyError` on malformed input."""
    try:
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
        obj = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise CtyError(None, f"invalid type JSON: {e}") from None
    return type_from_json(obj)
