"""The cty type system (go-cty, as used by Terraform) in pure Python.

Types (:mod:`.types`) are frozen, hashable dataclasses: ``String``, ``Number``, ``Bool``,
``Dynamic`` and ``List(T)``, ``Set(T)``, ``Map(T)``, ``Tuple([T, ...])``,
``Object({"name": T}, optional={"name"})``.

Values are plain Python data, interpreted against a type:

* **null** is ``None`` (for any type);
* String is ``str``; Bool is ``bool``; Number is ``int``, ``float`` (incl. +/-inf), or
  ``decimal.Decimal`` for values that are neither integral nor exactly a float64
  (Terraform sends e.g. ``0.1`` as the exact decimal ``"0.1"``; see :mod:`.numbers`);
* List, Set and Tuple are ``list`` (a set has no duplicates; its order is not significant);
  Map and Object are ``dict`` (an object dict has every attribute of its type; absent
  attributes are null);
* in a position whose type is ``Dynamic`` a non-null known value is a
  :class:`DynamicValue` ``(type, value)`` carrying its concrete type.

**Unknown** values (not known until apply) are :class:`Unknown` instances; the plain one is
:data:`UNKNOWN`. An unknown is neither null nor known; it may sit at any position, including
inside collections. A **refined unknown** additionally carries what is already known about
the eventual value: ``not_null``, a ``string_prefix``, ``number_lower``/``number_upper``
bounds as ``(bound, inclusive)``, or collection ``length_lower``/``length_upper``.
Refinements survive the msgpack wire format (ext type 12; the plain unknown is ext type 0)
and are advisory: :func:`values_equal` treats any two unknowns as equal.

Codecs: :mod:`.msgpack` (tfplugin6 ``DynamicValue.msgpack``) and :mod:`.json` (state and
``DynamicValue.json``) -- ``encode(value, type) -> bytes`` / ``decode(bytes, type) -> value``;
all decode errors are :class:`CtyError` carrying an :class:`AttributePath`.
"""

from . import json, msgpack
from .numbers import NumberValue, format_number, is_number, normalize_number, number_key
from .path import AttributePath, AttrStep, CtyError, IndexStep, KeyStep, Step
from .types import (
    Bool,
    CollectionType,
    CtyType,
    Dynamic,
    DynamicPseudoType,
    List,
    Map,
    Number,
    Object,
    PrimitiveType,
    Set,
    String,
    Tuple,
    type_from_json,
    type_from_json_bytes,
    type_to_json,
    type_to_json_bytes,
)
from .values import (
    UNKNOWN,
    DynamicValue,
    Unknown,
    Value,
    conform,
    infer_type,
    is_known,
    is_null,
    is_unknown,
    known_or_none,
    need,
    transform,
    values_equal,
    walk,
)

__all__ = [
    "UNKNOWN",
    "AttrStep",
    "AttributePath",
    "Bool",
    "CollectionType",
    "CtyError",
    "CtyType",
    "Dynamic",
    "DynamicPseudoType",
    "DynamicValue",
    "IndexStep",
    "KeyStep",
    "List",
    "Map",
    "Number",
    "NumberValue",
    "Object",
    "PrimitiveType",
    "Set",
    "Step",
    "String",
    "Tuple",
    "Unknown",
    "Value",
    "conform",
    "format_number",
    "infer_type",
    "is_known",
    "is_null",
    "is_number",
    "is_unknown",
    "json",
    "known_or_none",
    "msgpack",
    "need",
    "normalize_number",
    "number_key",
    "transform",
    "type_from_json",
    "type_from_json_bytes",
    "type_to_json",
    "type_to_json_bytes",
    "values_equal",
    "walk",
]
