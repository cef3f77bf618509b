"""cty values as plain Python data, plus equality, validation and traversal helpers.

See the package docstring (:mod:`tfnimble.plugin.cty`) for the representation.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias, TypeGuard, TypeVar, Union

from . import types as ct
from .numbers import NumberValue, is_number, number_key
from .path import AttributePath, CtyError

__all__ = [
    "UNKNOWN",
    "CtyError",
    "DynamicValue",
    "Unknown",
    "Value",
    "conform",
    "infer_type",
    "is_known",
    "is_null",
    "is_unknown",
    "known_or_none",
    "need",
    "transform",
    "values_equal",
    "walk",
]


@dataclass(frozen=True)
class Unknown:
    """A value not known until apply, optionally with refinements (cty >= 1.13).

    ``number_lower`` / ``number_upper`` are ``(bound, inclusive)`` pairs. Length bounds
    apply to collections (list, set, map). The plain, unrefined unknown is :data:`UNKNOWN`.
    """

    not_null: bool = False
    string_prefix: str | None = None
    number_lower: tuple[NumberValue, bool] | None = None
    number_upper: tuple[NumberValue, bool] | None = None
    length_lower: int | None = None
    length_upper: int | None = None

    def __post_init__(self) -> None:
        # canonical form: refinements that say nothing are dropped
        if self.string_prefix == "":
            object.__setattr__(self, "string_prefix", None)
        if self.length_lower is not None and self.length_lower <= 0:
            object.__setattr__(self, "length_lower", None)
        if self.length_upper is not None and self.length_upper < 0:
            raise ValueError("length_upper must not be negative")

    def __copy__(self) -> Unknown:
        return self  # immutable: a copy of UNKNOWN stays UNKNOWN

    def __deepcopy__(self, memo: dict[int, Any]) -> Unknown:
        return self

    @property
    def is_refined(self) -> bool:
        return self != UNKNOWN

    def __repr__(self) -> str:
        if not self.is_refined:
            return "UNKNOWN"
        parts = [
            f"{k}={getattr(self, k)!r}"
            for k in (
                "not_null",
                "string_prefix",
                "number_lower",
                "number_upper",
                "length_lower",
                "length_upper",
            )
            if getattr(self, k) not in (None, False)
        ]
        return f"Unknown({', '.join(parts)})"


UNKNOWN = Unknown()

T = TypeVar("T")

#: "A ``T``, unknown (not known until apply) or null": the type of every model field, so that
#: ``name: Value[str]`` tells mypy what a known value is while keeping the other two honest.
Value: TypeAlias = Union[T, Unknown, None]  # noqa: UP007 (a generic alias needs Union here)


@dataclass(frozen=True)
class DynamicValue:
    """A value together with its concrete type, used only where the schema type is Dynamic."""

    type: ct.CtyType
    value: Any


def is_unknown(v: Any) -> bool:
    """Whether ``v`` itself (not something inside it) is unknown."""
    if isinstance(v, DynamicValue):
        v = v.value
    return isinstance(v, Unknown)


def is_null(v: Any) -> bool:
    """Whether ``v`` is null (``None``, or a DynamicValue wrapping ``None``)."""
    if isinstance(v, DynamicValue):
        v = v.value
    return v is None


def is_known(v: Value[T], deep: bool = True) -> TypeGuard[T | None]:
    """Whether ``v`` is known; with ``deep`` (default) also that nothing inside it is unknown."""
    if isinstance(v, DynamicValue):
        v = v.value
    if isinstance(v, Unknown):
        return False
    if not deep:
        return True
    if isinstance(v, list | tuple):
        return all(is_known(e) for e in v)
    if isinstance(v, dict):
        return all(is_known(e) for e in v.values())
    return True


def known_or_none(v: Value[T]) -> T | None:
    """``v`` when it is known, ``None`` when it is null or unknown."""
    return None if isinstance(v, Unknown) else v


def need(v: Value[T], what: str = "value") -> T:
    """``v``, which the caller knows to be set and known (a required argument at apply time).

    Raises ``ValueError`` otherwise: reaching that is a bug in the caller, not a user mistake.
    """
    if v is None or isinstance(v, Unknown):
        raise ValueError(f"{what} is {'null' if v is None else 'unknown'} where it must be known")
    return v


def _nfc(s: str) -> str:
    # ASCII text is NFC already, and isascii() reads a flag of the string (no scan)
    if s.isascii() or unicodedata.is_normalized("NFC", s):
        return s
    return unicodedata.normalize("NFC", s)


# --------------------------------------------------------------------------- equality


class _UnknownKey:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown>"


_UNKNOWN_KEY = _UnknownKey()


def _canon(v: Any, ty: ct.CtyType) -> Any:
    """A hashable key such that two values are semantically equal iff their keys are equal.

    Relies on Python's exact cross-type numeric equality/hashing (1 == 1.0 == Decimal(1)).
    """
    if isinstance(ty, ct.DynamicPseudoType):
        if isinstance(v, DynamicValue):
            if v.value is None:
                return None
            if isinstance(v.value, Unknown):
                return _UNKNOWN_KEY
            return ("dyn", v.type, _canon(v.value, v.type))
        if isinstance(v, Unknown):
            return _UNKNOWN_KEY
        if v is None:
            return None
        t = infer_type(v)
        return ("dyn", t, _canon(v, t))
    if isinstance(v, Unknown):
        return _UNKNOWN_KEY
    if v is None:
        return None
    if isinstance(ty, ct.PrimitiveType):
        if ty == ct.Number:
            return ("n", number_key(v))
        return v
    if isinstance(ty, ct.List):
        return tuple(_canon(e, ty.element) for e in v)
    if isinstance(ty, ct.Set):
        return _set_key(v, ty.element)
    if isinstance(ty, ct.Map):
        return ("map", frozenset((k, _canon(e, ty.element)) for k, e in v.items()))
    if isinstance(ty, ct.Tuple):
        return tuple(_canon(e, et) for e, et in zip(v, ty.elements, strict=False))
    if isinstance(ty, ct.Object):
        return tuple(_canon(v.get(k), at) for k, at in ty.attribute_items)
    raise TypeError(f"unsupported type {ty!r}")


def _set_key(v: Any, ety: ct.CtyType) -> Any:
    """Set identity: duplicates of known elements collapse; elements containing unknowns
    are counted (cty never merges those)."""
    known: set[Any] = set()
    unknown: Counter[Any] = Counter()
    for e in v:
        if is_known(e):
            known.add(_canon(e, ety))
        else:
            unknown[_canon(e, ety)] += 1
    return ("set", frozenset(known), frozenset(unknown.items()))


def values_equal(a: Any, b: Any, ty: ct.CtyType) -> bool:
    """Semantic equality of two values of type ``ty``.

    Sets compare order-insensitively; numbers compare as cty does, by their shortest decimal
    rendering (1 == 1.0 == Decimal("1"), and the float 0.1 == Decimal("0.1"));
    any two unknowns are equal (refinements are ignored), missing object attributes are null.
    """
    return EQUALS.get(ty)(a, b)


def _equal(a: Any, b: Any, ty: ct.CtyType) -> bool:
    if isinstance(ty, ct.DynamicPseudoType):
        ta, va = _unwrap_dynamic(a)
        tb, vb = _unwrap_dynamic(b)
        if isinstance(va, Unknown) or isinstance(vb, Unknown):
            return isinstance(va, Unknown) and isinstance(vb, Unknown)
        if va is None or vb is None:
            return va is None and vb is None
        return ta == tb and ta is not None and _equal(va, vb, ta)
    if isinstance(a, Unknown) or isinstance(b, Unknown):
        return isinstance(a, Unknown) and isinstance(b, Unknown)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(ty, ct.PrimitiveType):
        if ty == ct.Number:
            return is_number(a) and is_number(b) and number_key(a) == number_key(b)
        if ty == ct.Bool:
            return isinstance(a, bool) and isinstance(b, bool) and a == b
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(ty, ct.List | ct.Tuple):
        if not isinstance(a, list | tuple) or not isinstance(b, list | tuple) or len(a) != len(b):
            return False
        if isinstance(ty, ct.List):
            return all(_equal(x, y, ty.element) for x, y in zip(a, b, strict=True))
        if len(a) != len(ty.elements):
            return False
        return all(_equal(x, y, t) for x, y, t in zip(a, b, ty.elements, strict=True))
    if isinstance(ty, ct.Set):
        if not isinstance(a, list | tuple | set | frozenset) or not isinstance(
            b, list | tuple | set | frozenset
        ):
            return False
        return bool(_set_key(a, ty.element) == _set_key(b, ty.element))
    if isinstance(ty, ct.Map):
        if not isinstance(a, Mapping) or not isinstance(b, Mapping) or a.keys() != b.keys():
            return False
        return all(_equal(a[k], b[k], ty.element) for k in a)
    if isinstance(ty, ct.Object):
        if not isinstance(a, Mapping) or not isinstance(b, Mapping):
            return False
        names = ty.attributes
        if any(k not in names for k in a) or any(k not in names for k in b):
            return False
        return all(_equal(a.get(k), b.get(k), at) for k, at in ty.attribute_items)
    raise TypeError(f"unsupported type {ty!r}")


def _unwrap_dynamic(v: Any) -> tuple[ct.CtyType | None, Any]:
    if isinstance(v, DynamicValue):
        return v.type, v.value
    if v is None or isinstance(v, Unknown):
        return None, v
    return infer_type(v), v


# --------------------------------------------------------------------------- inference


def infer_type(v: Any) -> ct.CtyType:
    """Best-effort type of a plain Python value (like cty's implied type of JSON):
    str -> String, bool -> Bool, number -> Number, list -> Tuple, dict -> Object,
    DynamicValue -> its type. ``None`` and unknown values infer as Dynamic."""
    if isinstance(v, DynamicValue):
        return v.type
    if v is None or isinstance(v, Unknown):
        return ct.Dynamic
    if isinstance(v, bool):
        return ct.Bool
    if isinstance(v, str):
        return ct.String
    if is_number(v):
        return ct.Number
    if isinstance(v, list | tuple):
        return ct.Tuple(infer_type(e) for e in v)
    if isinstance(v, Mapping):
        return ct.Object({str(k): infer_type(e) for k, e in v.items()})
    raise CtyError(None, f"cannot infer a cty type for {type(v).__name__} value")


# --------------------------------------------------------------------------- conform


def conform(value: Any, ty: ct.CtyType, path: AttributePath | None = None) -> Any:
    """Validate ``value`` against ``ty`` and return its normalized form.

    Normalization: object dicts get every attribute (missing -> None); set elements are
    de-duplicated (elements containing unknowns are kept); tuples become lists; strings are
    NFC-normalized (as cty does); Decimal infinities become floats. In a Dynamic position, a
    bare value is wrapped in :class:`DynamicValue` using :func:`infer_type`.
    Raises :class:`CtyError` on mismatch.
    """
    try:
        return CONFORMERS.get(ty)(value)
    except Slow:
        return _conform(value, ty, path if path is not None else AttributePath.root())


def _type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "string"
    if is_number(v):
        return "number"
    if isinstance(v, list | tuple):
        return "list"
    if isinstance(v, Mapping):
        return "object"
    return type(v).__name__


def _conform_unknown(u: Unknown, ty: ct.CtyType, path: AttributePath) -> Unknown:
    if u.string_prefix is not None and ty != ct.String:
        raise CtyError(path, f"string prefix refinement on a {ty.friendly_name()} value")
    if (u.number_lower is not None or u.number_upper is not None) and ty != ct.Number:
        raise CtyError(path, f"number bound refinement on a {ty.friendly_name()} value")
    if (u.length_lower is not None or u.length_upper is not None) and not isinstance(
        ty, ct.CollectionType
    ):
        raise CtyError(path, f"length refinement on a {ty.friendly_name()} value")
    return u


def _conform(value: Any, ty: ct.CtyType, path: AttributePath) -> Any:
    if isinstance(ty, ct.DynamicPseudoType):
        if value is None:
            return None
        if isinstance(value, Unknown):
            return UNKNOWN
        if isinstance(value, DynamicValue):
            if isinstance(value.type, ct.DynamicPseudoType):
                raise CtyError(path, "DynamicValue must carry a concrete type")
            inner = _conform(value.value, value.type, path)
            return value if inner is value.value else DynamicValue(value.type, inner)
        t = infer_type(value)
        return DynamicValue(t, _conform(value, t, path))
    if value is None:
        return None
    if isinstance(value, Unknown):
        return _conform_unknown(value, ty, path)
    if isinstance(value, DynamicValue):
        raise CtyError(path, f"DynamicValue given where {ty.friendly_name()} is required")
    if isinstance(ty, ct.PrimitiveType):
        if ty == ct.String:
            if not isinstance(value, str):
                raise CtyError(path, f"string required, but have {_type_name(value)}")
            return _nfc(value)
        if ty == ct.Number:
            if not is_number(value):
                if isinstance(value, float | Decimal):
                    raise CtyError(path, "NaN is not a valid number")
                raise CtyError(path, f"number required, but have {_type_name(value)}")
            if isinstance(value, Decimal) and value.is_infinite():
                return math.inf if value > 0 else -math.inf
            return value
        if not isinstance(value, bool):
            raise CtyError(path, f"bool required, but have {_type_name(value)}")
        return value
    if isinstance(ty, ct.List | ct.Set):
        what = "list" if isinstance(ty, ct.List) else "set"
        if isinstance(value, str | bytes | Mapping) or not isinstance(
            value, list | tuple | set | frozenset
        ):
            raise CtyError(path, f"{what} required, but have {_type_name(value)}")
        if isinstance(value, set | frozenset) and isinstance(ty, ct.List):
            raise CtyError(path, "list required, but have an unordered set")
        out = [_conform(e, ty.element, path.index(i)) for i, e in enumerate(value)]
        if isinstance(ty, ct.Set):
            out = _dedup(out, ty.element)
        return out
    if isinstance(ty, ct.Map):
        if not isinstance(value, Mapping):
            raise CtyError(path, f"map required, but have {_type_name(value)}")
        res: dict[str, Any] = {}
        for k, e in value.items():
            if not isinstance(k, str):
                raise CtyError(path, f"map keys must be strings, have {type(k).__name__}")
            res[k] = _conform(e, ty.element, path.key(k))
        return res
    if isinstance(ty, ct.Tuple):
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, list | tuple):
            raise CtyError(path, f"tuple required, but have {_type_name(value)}")
        if len(value) != len(ty.elements):
            raise CtyError(
                path, f"tuple of {len(ty.elements)} elements required, have {len(value)}"
            )
        return [
            _conform(e, t, path.index(i))
            for i, (e, t) in enumerate(zip(value, ty.elements, strict=False))
        ]
    if isinstance(ty, ct.Object):
        if not isinstance(value, Mapping):
            raise CtyError(path, f"object required, but have {_type_name(value)}")
        attrs = ty.attributes
        for k in value:
            if k not in attrs:
                raise CtyError(path, f"unsupported attribute {k!r}")
        return {k: _conform(value.get(k), at, path.attr(k)) for k, at in ty.attribute_items}
    raise CtyError(path, f"unsupported type {ty!r}")


def _dedup(items: list[Any], ety: ct.CtyType) -> list[Any]:
    seen: set[Any] = set()
    out: list[Any] = []
    for e in items:
        if not is_known(e):
            out.append(e)
            continue
        key = _canon(e, ety)
        if key in seen:
            continue
        seen.add(key)
        out.append(e)
    return out


# --------------------------------------------------------------------------- traversal

WalkFn = Callable[[AttributePath, Any, ct.CtyType], Any]


def _children(
    value: Any, ty: ct.CtyType, path: AttributePath
) -> list[tuple[AttributePath, Any, ct.CtyType]]:
    """Direct children of a known, non-null value as (path, value, type)."""
    if value is None or isinstance(value, Unknown):
        return []
    if isinstance(ty, ct.DynamicPseudoType):
        if isinstance(value, DynamicValue):
            return [(path, value.value, value.type)]
        return []
    if isinstance(ty, ct.List | ct.Set):
        return [(path.index(i), e, ty.element) for i, e in enumerate(value)]
    if isinstance(ty, ct.Map):
        return [(path.key(k), e, ty.element) for k, e in value.items()]
    if isinstance(ty, ct.Tuple):
        return [
            (path.index(i), e, t) for i, (e, t) in enumerate(zip(value, ty.elements, strict=False))
        ]
    if isinstance(ty, ct.Object):
        return [(path.attr(k), value.get(k), t) for k, t in ty.attribute_items]
    return []


def walk(value: Any, ty: ct.CtyType, fn: WalkFn, path: AttributePath | None = None) -> None:
    """Call ``fn(path, value, type)`` for ``value`` and everything inside it, depth-first,
    parents before children. If ``fn`` returns ``False`` the children of that value are
    skipped. A :class:`DynamicValue` is visited as itself (type Dynamic) and then its
    wrapped value with the concrete type, at the same path."""
    stack = [(path if path is not None else AttributePath.root(), value, ty)]
    while stack:
        p, v, t = stack.pop()
        if fn(p, v, t) is False:
            continue
        stack.extend(reversed(_children(v, t, p)))


def transform(value: Any, ty: ct.CtyType, fn: WalkFn, path: AttributePath | None = None) -> Any:
    """Rebuild ``value`` bottom-up: children are transformed first, then
    ``fn(path, value_with_new_children, type)`` is called and its result used."""
    return _transform(value, ty, fn, path if path is not None else AttributePath.root())


def _transform(value: Any, ty: ct.CtyType, fn: WalkFn, path: AttributePath) -> Any:
    if value is not None and not isinstance(value, Unknown):
        if isinstance(ty, ct.DynamicPseudoType):
            if isinstance(value, DynamicValue):
                value = DynamicValue(value.type, _transform(value.value, value.type, fn, path))
        elif isinstance(ty, ct.List | ct.Set):
            value = [_transform(e, ty.element, fn, path.index(i)) for i, e in enumerate(value)]
        elif isinstance(ty, ct.Map):
            value = {k: _transform(e, ty.element, fn, path.key(k)) for k, e in value.items()}
        elif isinstance(ty, ct.Tuple):
            value = [
                _transform(e, t, fn, path.index(i))
                for i, (e, t) in enumerate(zip(value, ty.elements, strict=False))
            ]
        elif isinstance(ty, ct.Object):
            value = {
                k: _transform(value.get(k), t, fn, path.attr(k)) for k, t in ty.attribute_items
            }
    return fn(path, value, ty)


# the compiled fast path of conform() (it uses the helpers above)
from .fastpath import CONFORMERS, EQUALS, Slow  # noqa: E402
