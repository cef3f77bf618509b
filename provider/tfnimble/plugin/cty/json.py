"""cty values <-> JSON, compatible with go-cty's ``cty/json``.

This is the encoding of Terraform state (``UpgradeResourceState.raw_state.json``) and of
tfplugin6 ``DynamicValue.json``:

* numbers are JSON numbers written in plain decimal notation (no exponent, full precision;
  infinities cannot be encoded); on decoding they are parsed exactly and normalized like
  msgpack numbers (int if integral, float if exactly a float64, else Decimal);
* a Dynamic position holds ``{"value": ..., "type": <type JSON>}``;
* unknown values cannot be encoded;
* like cty, decoding is lenient about primitive conversions: a string may stand for a number
  or bool (``"12"``, ``"true"``) and a number or bool for a string.

Every decoding failure raises :class:`CtyError` with the path of the offending value.
"""

from __future__ import annotations

import json as _json
from typing import Any

from . import types as ct
from .fastpath import JSON_STATE_DECODERS, Slow
from .msgpack import parse_number
from .numbers import format_number
from .path import AttributePath, CtyError
from .values import DynamicValue, Unknown, conform

__all__ = ["decode", "encode"]


# --------------------------------------------------------------------------- encoding


def number_to_json_text(n: Any) -> str:
    """cty's JSON rendering of a number: plain decimal notation, shortest exact digits."""
    try:
        return format_number(n)
    except ValueError:
        raise ValueError("cannot serialize infinity as JSON") from None


def _str(s: str) -> str:
    return _json.dumps(s, ensure_ascii=False)


def _emit(value: Any, ty: ct.CtyType, path: AttributePath, out: list[str]) -> None:
    """Append the compact JSON text of ``value`` to ``out``."""
    if isinstance(ty, ct.DynamicPseudoType):
        if isinstance(value, Unknown):
            raise CtyError(path, "value is not known")
        if value is None:
            out.append("null")
            return
        if not isinstance(value, DynamicValue):
            raise CtyError(path, "a Dynamic value must be a DynamicValue, None or unknown")
        out.append('{"value":')
        _emit(value.value, value.type, path, out)
        out.append(',"type":')
        out.append(
            _json.dumps(ct.type_to_json(value.type), separators=(",", ":"), ensure_ascii=False)
        )
        out.append("}")
        return
    if value is None:
        out.append("null")
        return
    if isinstance(value, Unknown):
        raise CtyError(path, "value is not known")
    if isinstance(ty, ct.PrimitiveType):
        if ty == ct.Number:
            try:
                out.append(number_to_json_text(value))
            except (TypeError, ValueError) as e:
                raise CtyError(path, str(e)) from None
        elif ty == ct.Bool:
            out.append("true" if value else "false")
        else:
            out.append(_str(value))
        return
    if isinstance(ty, ct.List | ct.Set | ct.Tuple):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            et = ty.elements[i] if isinstance(ty, ct.Tuple) else ty.element
            _emit(v, et, path.index(i), out)
        out.append("]")
        return
    if isinstance(ty, ct.Map | ct.Object):
        if isinstance(ty, ct.Map):
            items = [(k, value[k], ty.element, path.key(k)) for k in sorted(value)]
        else:
            items = [(k, value.get(k), t, path.attr(k)) for k, t in ty.attribute_items]
        out.append("{")
        for i, (k, v, et, p) in enumerate(items):
            if i:
                out.append(",")
            out.append(_str(k))
            out.append(":")
            _emit(v, et, p, out)
        out.append("}")
        return
    raise CtyError(path, f"unsupported type {ty!r}")


# Go's encoding/json escapes these even inside strings; mirror it for byte-compatibility.
_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def encode(value: Any, ty: ct.CtyType) -> bytes:
    """Serialize ``value`` (validated with :func:`conform` first) as cty JSON.

    Raises :class:`CtyError` if the value contains unknowns or infinities."""
    root = AttributePath.root()
    value = conform(value, ty, root)
    out: list[str] = []
    try:
        _emit(value, ty, root, out)
    except RecursionError:
        raise CtyError(root, "value is nested too deeply") from None
    return "".join(out).translate(_GO_ESCAPES).encode("utf-8")


# --------------------------------------------------------------------------- decoding


class _JsonNumber(str):
    """A JSON number token, kept as its literal text until the expected type is known."""

    __slots__ = ()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _loads(data: bytes | bytearray | memoryview | str) -> Any:
    text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    return _json.loads(
        text,
        parse_float=_JsonNumber,
        parse_int=_JsonNumber,
        parse_constant=_reject_constant,
    )


def decode(
    data: bytes | bytearray | memoryview | str,
    ty: ct.CtyType,
    *,
    ignore_unknown_attributes: bool = False,
) -> Any:
    """Deserialize cty JSON ``data`` as a value of type ``ty``.

    With ``ignore_unknown_attributes``, object attributes not in the type are dropped
    (as Terraform does when upgrading state) instead of raising.
    Raises :class:`CtyError` for malformed input or a value that does not match ``ty``.
    """
    root = AttributePath.root()
    try:
        raw = _loads(data)
    except Exception as e:
        raise CtyError(root, f"malformed JSON: {type(e).__name__}: {e}") from None
    try:
        if ignore_unknown_attributes:
            try:
                return JSON_STATE_DECODERS.get(ty)(raw)
            except Slow:  # not the common case: the generic form decides
                pass
        return _from_json(raw, ty, root, ignore_unknown_attributes)
    except RecursionError:
        raise CtyError(root, "value is nested too deeply") from None


def _primitive(raw: Any, ty: ct.PrimitiveType, path: AttributePath) -> Any:
    if ty == ct.String:
        if isinstance(raw, _JsonNumber):
            return str.__str__(raw)
        if isinstance(raw, str):
            return conform(raw, ct.String, path)
        if isinstance(raw, bool):
            return "true" if raw else "false"
        raise CtyError(path, "string is required")
    if ty == ct.Number:
        if isinstance(raw, str):  # a JSON number token, or a string holding a number
            try:
                return parse_number(str.__str__(raw), path)
            except CtyError:
                raise CtyError(path, "number is required") from None
        raise CtyError(path, "number is required")
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and not isinstance(raw, _JsonNumber):
        if raw == "true":
            return True
        if raw == "false":
            return False
    raise CtyError(path, "bool is required")


def _from_json(raw: Any, ty: ct.CtyType, path: AttributePath, ignore_unknown: bool) -> Any:
    if raw is None:
        return None
    if isinstance(ty, ct.DynamicPseudoType):
        return _from_json_dynamic(raw, path, ignore_unknown)
    if isinstance(ty, ct.PrimitiveType):
        return _primitive(raw, ty, path)
    if isinstance(ty, ct.List | ct.Set):
        if not isinstance(raw, list):
            raise CtyError(
                path, f"need JSON array for {'list' if isinstance(ty, ct.List) else 'set'}"
            )
        out = [_from_json(e, ty.element, path.index(i), ignore_unknown) for i, e in enumerate(raw)]
        return conform(out, ty, path) if isinstance(ty, ct.Set) else out
    if isinstance(ty, ct.Map):
        if not isinstance(raw, dict):
            raise CtyError(path, "need JSON object for map")
        return {k: _from_json(e, ty.element, path.key(k), ignore_unknown) for k, e in raw.items()}
    if isinstance(ty, ct.Tuple):
        if not isinstance(raw, list):
            raise CtyError(path, "need JSON array for tuple")
        if len(raw) != len(ty.elements):
            raise CtyError(path, f"tuple of {len(ty.elements)} elements required, have {len(raw)}")
        return [
            _from_json(e, t, path.index(i), ignore_unknown)
            for i, (e, t) in enumerate(zip(raw, ty.elements, strict=True))
        ]
    if isinstance(ty, ct.Object):
        if not isinstance(raw, dict):
            raise CtyError(path, "need JSON object for object")
        attrs = ty.attributes
        got: dict[str, Any] = {}
        for k, e in raw.items():
            if k not in attrs:
                if ignore_unknown:
                    continue
                raise CtyError(path, f"unsupported attribute {k!r}")
            got[k] = _from_json(e, attrs[k], path.attr(k), ignore_unknown)
        return {k: got.get(k) for k in attrs}
    raise CtyError(path, f"unsupported type {ty!r}")


def _from_json_dynamic(raw: Any, path: AttributePath, ignore_unknown: bool) -> Any:
    if not isinstance(raw, dict):
        raise CtyError(path, "need JSON object for dynamically-typed value")
    for k in raw:
        if k not in ("type", "value"):
            raise CtyError(path, f"invalid key {k!r} in dynamically-typed value")
    if "type" not in raw:
        raise CtyError(path, "missing type in dynamically-typed value")
    if "value" not in raw:
        raise CtyError(path, "missing value in dynamically-typed value")
    try:
        ty = ct.type_from_json(raw["type"])
    except CtyError as e:
        raise CtyError(path, f"invalid type in dynamically-typed value: {e.message}") from None
    if isinstance(ty, ct.DynamicPseudoType):
        raise CtyError(path, "dynamically-typed value must have a concrete type")
    return DynamicValue(ty, _from_json(raw["value"], ty, path, ignore_unknown))
