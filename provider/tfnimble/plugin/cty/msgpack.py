"""cty values <-> MessagePack, byte-compatible with go-cty's ``cty/msgpack``.

This is the encoding of tfplugin6 ``DynamicValue.msgpack``:

* null is msgpack nil; a plain unknown is ``fixext1`` type 0 with one zero byte
  (``d4 00 00``); a refined unknown is ext type 12 whose payload is a msgpack map of
  refinements (1: is-null bool, 2: string prefix, 3/4: ``[number, inclusive]`` lower/upper
  bound, 5/6: collection length lower/upper bound).
* numbers: int if integral and within int64, else float64 if exactly representable
  (including +/-inf), else the decimal string.
* lists/sets/tuples are arrays; maps are maps; objects are maps with attributes in sorted
  order (decoding accepts any order).
* a Dynamic position holds ``[type JSON as bin, value]``; an unknown of unknown type is a
  plain unknown ext.

Every decoding failure raises :class:`CtyError` with the path of the offending value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import msgpack as _msgpack

from . import types as ct
from .fastpath import DECODERS, ENCODERS, Slow
from .numbers import format_number, normalize_number
from .path import AttributePath, CtyError
from .values import UNKNOWN, DynamicValue, Unknown, conform

__all__ = ["decode", "encode"]

EXT_UNKNOWN = 0
EXT_REFINED_UNKNOWN = 12
_UNKNOWN_BYTES = b"\xd4\x00\x00"
_MAX_REFINEMENT_LEN = 1024

_R_NULLNESS = 1
_R_STRING_PREFIX = 2
_R_NUMBER_MIN = 3
_R_NUMBER_MAX = 4
_R_LENGTH_MIN = 5
_R_LENGTH_MAX = 6

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


# --------------------------------------------------------------------------- encoding


def encode(value: Any, ty: ct.CtyType) -> bytes:
    """Serialize ``value`` (validated with :func:`conform` first) as cty msgpack."""
    root = AttributePath.root()
    value = conform(value, ty, root)
    try:
        try:
            obj = ENCODERS.get(ty)(value)
        except Slow:
            obj = _to_wire(value, ty, root)
        packed: bytes = _msgpack.packb(obj, use_bin_type=True)
        return packed
    except CtyError:
        raise
    except (ValueError, OverflowError, TypeError, RecursionError) as e:
        raise CtyError(root, f"cannot encode value: {e}") from None


def number_to_wire(n: Any) -> int | float | str:
    """The msgpack representation cty uses for a number."""
    if isinstance(n, bool):
        raise TypeError("bool is not a number")
    if isinstance(n, float):
        if math.isnan(n):
            raise ValueError("NaN is not a valid number")
        if math.isinf(n):
            return n
        if n.is_integer() and _INT64_MIN <= n <= _INT64_MAX:
            return int(n)
        return n
    if isinstance(n, int):
        if _INT64_MIN <= n <= _INT64_MAX:
            return n
        try:
            f = float(n)
        except OverflowError:
            f = math.inf
        if math.isfinite(f) and int(f) == n:
            return f
        return format_number(n)
    if isinstance(n, Decimal):
        if n.is_nan():
            raise ValueError("NaN is not a valid number")
        if n.is_infinite():
            return math.inf if n > 0 else -math.inf
        norm = normalize_number(n)
        if not isinstance(norm, Decimal):
            return number_to_wire(norm)
        return format_number(n)
    raise TypeError(f"not a number: {n!r}")


def _unknown_to_wire(u: Unknown, ty: ct.CtyType) -> _msgpack.ExtType:
    if isinstance(ty, ct.DynamicPseudoType):
        return _msgpack.ExtType(EXT_UNKNOWN, b"\x00")
    entries: list[tuple[int, Any]] = []
    if u.not_null:
        entries.append((_R_NULLNESS, False))
    if ty == ct.Number:
        if u.number_lower is not None:
            entries.append((_R_NUMBER_MIN, [number_to_wire(u.number_lower[0]), u.number_lower[1]]))
        if u.number_upper is not None:
            entries.append((_R_NUMBER_MAX, [number_to_wire(u.number_upper[0]), u.number_upper[1]]))
    elif ty == ct.String:
        if u.string_prefix:
            entries.append((_R_STRING_PREFIX, u.string_prefix))
    elif isinstance(ty, ct.CollectionType):
        if u.length_lower:
            entries.append((_R_LENGTH_MIN, u.length_lower))
        if u.length_upper is not None:
            entries.append((_R_LENGTH_MAX, u.length_upper))
    if not entries:
        return _msgpack.ExtType(EXT_UNKNOWN, b"\x00")
    payload = _msgpack.packb(dict(entries), use_bin_type=True)
    return _msgpack.ExtType(EXT_REFINED_UNKNOWN, payload)


def _to_wire(value: Any, ty: ct.CtyType, path: AttributePath) -> Any:
    if isinstance(ty, ct.DynamicPseudoType):
        if isinstance(value, DynamicValue):
            return [ct.type_to_json_bytes(value.type), _to_wire(value.value, value.type, path)]
        if isinstance(value, Unknown):
            return _msgpack.ExtType(EXT_UNKNOWN, b"\x00")
        if value is None:
            return None
        raise CtyError(path, "a Dynamic value must be a DynamicValue, None or unknown")
    if isinstance(value, Unknown):
        return _unknown_to_wire(value, ty)
    if value is None:
        return None
    if isinstance(ty, ct.PrimitiveType):
        if ty == ct.Number:
            try:
                return number_to_wire(value)
            except (TypeError, ValueError) as e:
                raise CtyError(path, str(e)) from None
        return value
    if isinstance(ty, ct.List | ct.Set):
        return [_to_wire(e, ty.element, path.index(i)) for i, e in enumerate(value)]
    if isinstance(ty, ct.Map):
        return {k: _to_wire(value[k], ty.element, path.key(k)) for k in sorted(value)}
    if isinstance(ty, ct.Tuple):
        return [
            _to_wire(e, t, path.index(i))
            for i, (e, t) in enumerate(zip(value, ty.elements, strict=False))
        ]
    if isinstance(ty, ct.Object):
        return {k: _to_wire(value.get(k), t, path.attr(k)) for k, t in ty.attribute_items}
    raise CtyError(path, f"unsupported type {ty!r}")


# --------------------------------------------------------------------------- decoding


class _Ext:
    """An undecoded extension value (interpreted once the expected type is known)."""

    __slots__ = ("code", "data")

    def __init__(self, code: int, data: bytes) -> None:
        self.code = code
        self.data = data


def _ext_hook(code: int, data: bytes) -> _Ext:
    return _Ext(code, data)


def _unpack(data: bytes) -> Any:
    return _msgpack.unpackb(
        data,
        raw=False,
        use_list=True,
        strict_map_key=True,
        ext_hook=_ext_hook,
        timestamp=0,
    )


def decode(data: bytes | bytearray | memoryview, ty: ct.CtyType) -> Any:
    """Deserialize cty msgpack ``data`` as a value of type ``ty``.

    Raises :class:`CtyError` for malformed input or a value that does not match ``ty``.
    """
    root = AttributePath.root()
    try:
        raw = _unpack(bytes(data))
    except _msgpack.ExtraData:
        raise CtyError(root, "extra data after msgpack value") from None
    except Exception as e:  # msgpack raises ValueError subclasses, TypeError, StackError...
        raise CtyError(root, f"malformed msgpack: {type(e).__name__}: {e}") from None
    try:
        try:
            return DECODERS.get(ty)(raw)
        except Slow:
            return _from_wire(raw, ty, root)
    except RecursionError:
        raise CtyError(root, "value is nested too deeply") from None


def _decode_unknown(ext: _Ext, ty: ct.CtyType, path: AttributePath) -> Any:
    if len(ext.data) <= 1:
        return UNKNOWN
    if ext.code != EXT_REFINED_UNKNOWN:
        raise CtyError(path, f"unsupported extension type 0x{ext.code & 0xFF:02x}")
    if len(ext.data) > _MAX_REFINEMENT_LEN:
        raise CtyError(path, "oversize unknown value refinement")
    try:
        unpacker = _msgpack.Unpacker(
            raw=False,
            strict_map_key=False,
            ext_hook=_ext_hook,
            timestamp=0,
            max_buffer_size=_MAX_REFINEMENT_LEN,
        )
        unpacker.feed(ext.data)
        refinements = unpacker.unpack()  # trailing bytes are ignored, as cty does
    except Exception as e:
        raise CtyError(path, f"failed to decode unknown value refinements: {e}") from None
    if not isinstance(refinements, dict):
        raise CtyError(path, "failed to decode unknown value refinements: not a map")
    if isinstance(ty, ct.DynamicPseudoType):
        return UNKNOWN
    kw: dict[str, Any] = {}
    for key, val in refinements.items():
        if isinstance(key, bool) or not isinstance(key, int):
            raise CtyError(path, "unknown value refinements: non-integer key")
        if key == _R_NULLNESS:
            if not isinstance(val, bool):
                raise CtyError(path, "unknown value refinements: null refinement is not boolean")
            if val:
                return None  # "definitely null" collapses to a known null, as in cty
            kw["not_null"] = True
        elif key == _R_STRING_PREFIX:
            if ty != ct.String:
                raise CtyError(path, "string prefix refinement for non-string type")
            if not isinstance(val, str):
                raise CtyError(path, "string prefix refinement is not a string")
            if val:
                kw["string_prefix"] = val
        elif key in (_R_LENGTH_MIN, _R_LENGTH_MAX):
            if not isinstance(ty, ct.CollectionType):
                raise CtyError(path, "length bound refinement for non-collection type")
            if isinstance(val, bool) or not isinstance(val, int):
                raise CtyError(path, "length bound refinement must be an integer")
            kw["length_lower" if key == _R_LENGTH_MIN else "length_upper"] = val
        elif key in (_R_NUMBER_MIN, _R_NUMBER_MAX):
            if ty != ct.Number:
                raise CtyError(path, "numeric bound refinement for non-number type")
            if not isinstance(val, list) or len(val) != 2:
                raise CtyError(path, "numeric bound refinement must be a [number, bool] array")
            bound = _decode_number(val[0], path)
            if bound is None or not isinstance(val[1], bool):
                raise CtyError(path, "numeric bound refinement must be a [number, bool] array")
            kw["number_lower" if key == _R_NUMBER_MIN else "number_upper"] = (bound, val[1])
        # other keys are ignored for forward compatibility, as cty does
    try:
        return Unknown(**kw)
    except ValueError as exc:  # e.g. a negative or inverted length bound
        raise CtyError(path, f"invalid refinement: {exc}") from None


def _decode_number(raw: Any, path: AttributePath) -> int | float | Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise CtyError(path, "number is required")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if math.isnan(raw):
            raise CtyError(path, "NaN is not a valid number")
        return raw
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CtyError(path, "number is required") from None
    if isinstance(raw, str):
        return parse_number(raw, path)
    raise CtyError(path, "number is required")


def parse_number(text: str, path: AttributePath | None = None) -> int | float | Decimal:
    """Parse a decimal number string as cty does (``cty.ParseNumberVal``)."""
    s = text.strip()
    if len(s) > 10000:
        raise CtyError(
            path, f"number out of range: {len(s)} digits (this provider reads at most 10000)"
        )
    if not s or "_" in s:
        raise CtyError(path, f"invalid number {text[:40]!r}")
    try:
        d = Decimal(s)
    except (InvalidOperation, ValueError):
        raise CtyError(path, f"invalid number {text[:40]!r}") from None
    if d.is_nan():
        raise CtyError(path, f"invalid number {text[:40]!r}")
    return normalize_number(d)


def _decode_str(raw: Any, path: AttributePath, what: str = "string") -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CtyError(path, f"{what} is not valid UTF-8") from None
    raise CtyError(path, f"{what} is required")


def _from_wire(raw: Any, ty: ct.CtyType, path: AttributePath) -> Any:
    if isinstance(raw, _Ext):
        return _decode_unknown(raw, ty, path)
    if isinstance(ty, ct.DynamicPseudoType):
        return _from_wire_dynamic(raw, path)
    if raw is None:
        return None
    if isinstance(ty, ct.PrimitiveType):
        if ty == ct.String:
            return conform(_decode_str(raw, path), ct.String, path)
        if ty == ct.Number:
            return _decode_number(raw, path)
        if ty == ct.Bool:
            if not isinstance(raw, bool):
                raise CtyError(path, "bool is required")
            return raw
    if isinstance(ty, ct.List | ct.Set):
        if not isinstance(raw, list):
            raise CtyError(path, f"a {'list' if isinstance(ty, ct.List) else 'set'} is required")
        out = [_from_wire(e, ty.element, path.index(i)) for i, e in enumerate(raw)]
        return conform(out, ty, path) if isinstance(ty, ct.Set) else out
    if isinstance(ty, ct.Map):
        if not isinstance(raw, dict):
            raise CtyError(path, "a map is required")
        res: dict[str, Any] = {}
        for k, e in raw.items():
            key = _decode_str(k, path, "map key")
            res[key] = _from_wire(e, ty.element, path.key(key))
        return res
    if isinstance(ty, ct.Tuple):
        if not isinstance(raw, list):
            raise CtyError(path, "a tuple is required")
        if len(raw) != len(ty.elements):
            raise CtyError(path, f"a tuple of length {len(ty.elements)} is required")
        return [
            _from_wire(e, t, path.index(i))
            for i, (e, t) in enumerate(zip(raw, ty.elements, strict=True))
        ]
    if isinstance(ty, ct.Object):
        if not isinstance(raw, dict):
            raise CtyError(path, "an object is required")
        return _decode_object(raw, ty, path)
    raise CtyError(path, f"unsupported type {ty!r}")


def _decode_object(raw: Mapping[Any, Any], ty: ct.Object, path: AttributePath) -> dict[str, Any]:
    attrs = ty.attributes
    got: dict[str, Any] = {}
    for k, e in raw.items():
        name = _decode_str(k, path, "object attribute name")
        if name not in attrs:
            raise CtyError(path.attr(name), "unsupported attribute")
        got[name] = _from_wire(e, attrs[name], path.attr(name))
    missing = [k for k in attrs if k not in got and k not in ty.optional]
    if missing:
        raise CtyError(path, f"missing required attribute {missing[0]!r}")
    return {k: got.get(k) for k in attrs}


def _from_wire_dynamic(raw: Any, path: AttributePath) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != 2:
        raise CtyError(path, "dynamic value must be a two-element array [type, value]")
    type_json = raw[0]
    if not isinstance(type_json, bytes | str):
        raise CtyError(path, "dynamic value type must be JSON bytes")
    try:
        ty = ct.type_from_json_bytes(type_json)
    except CtyError as e:
        raise CtyError(path, f"invalid dynamic value type: {e.message}") from None
    if isinstance(ty, ct.DynamicPseudoType):
        raise CtyError(path, "dynamic value type must not be dynamic")
    return DynamicValue(ty, _from_wire(raw[1], ty, path))
