"""Argument validation with the array's lenient typing and its error codes.

Lenient typing (as HPE's SDK and Cinder's driver rely on): real arrays accept ``"true"``/``"false"``
for booleans and numeric strings for integers; Cinder and HPE's own tests rely on it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import SimError

Validator = Callable[[Any, str], Any]

VOL_SNAP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:-]{0,214}$")  # NsVolSnapName
OBJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:-]{0,63}$")  # NsObjectName
POLICY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.: -]{0,63}$")  # spaces allowed (GL)
IQN = re.compile(r"^(iqn\.\d{4}-\d{2}\.[A-Za-z0-9.:-]{1,243}|eui\.[0-9A-Fa-f]{16}|\*)$")
APP_UUID = re.compile(r"^[A-Za-z0-9:._-]{0,255}$")
PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
OBJECT_ID = re.compile(r"^[0-9a-f]{42}$")


def bad(arg: str, value: Any) -> SimError:
    return SimError("SM_invalid_arg_value", arg=arg, value=value)


def v_bool(value: Any, arg: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad(arg, value)


def v_int(lo: int, hi: int, *extra: int) -> Validator:
    def check(value: Any, arg: str) -> int:
        if isinstance(value, bool):
            raise bad(arg, value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            try:
                value = int(value.strip(), 10)
            except ValueError:
                raise bad(arg, value) from None
        if not isinstance(value, int) or not (lo <= value <= hi or value in extra):
            raise bad(arg, value)
        return value

    return check


v_pct = v_int(0, 100)


def v_block_size(value: Any, arg: str) -> int:
    """A block size the array supports: 4, 8, 16 or 32 KiB."""
    size: int = v_int(512, 32768)(value, arg)
    if size not in (4096, 8192, 16384, 32768):
        raise bad(arg, value)
    return size


def v_str(
    max_len: int = 255, pattern: re.Pattern[str] | None = None, allow_empty: bool = True
) -> Validator:
    def check(value: Any, arg: str) -> str:
        if not isinstance(value, str) or len(value) > max_len:
            raise bad(arg, value)
        if value == "" and not allow_empty:
            raise bad(arg, value)
        if value and pattern is not None and not pattern.match(value):
            raise bad(arg, value)
        if pattern is None and not PRINTABLE.match(value):
            raise bad(arg, value)
        return value

    return check


def v_secret(value: Any, arg: str) -> str:
    if not isinstance(value, str) or len(value) > 1024:
        raise bad(arg, "***")
    return value


def v_enum(*values: str) -> Validator:
    def check(value: Any, arg: str) -> str:
        if not isinstance(value, str) or value not in values:
            raise bad(arg, value)
        return value

    return check


def v_id(value: Any, arg: str) -> str:
    """NsOptionalObjectID: ``""`` means none."""
    if not isinstance(value, str):
        raise bad(arg, value)
    text: str = value.lower()
    if text and not OBJECT_ID.match(text):
        raise bad(arg, value)
    return text


def v_id_list(value: Any, arg: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise bad(arg, value)
    out = [v_id(v, arg) for v in value]
    if any(not v for v in out):
        raise bad(arg, value)
    return out


def v_metadata(value: Any, arg: str) -> list[dict[str, str]]:
    if value is None:
        return []
    if isinstance(value, dict):  # a convenience some clients use; the wire form is a list
        value = [{"key": k, "value": v} for k, v in value.items()]
    if not isinstance(value, list):
        raise bad(arg, value)
    out = []
    for item in value:
        if (
            not isinstance(item, dict)
            or set(item) != {"key", "value"}
            or not isinstance(item["key"], str)
            or not isinstance(item["value"], str)
            or not item["key"]
            or len(item["key"]) > 64
            or len(item["value"]) > 255
            or not PRINTABLE.match(item["key"] + item["value"])
        ):
            raise bad(arg, item)
        out.append({"key": item["key"], "value": item["value"]})
    return out


def v_list(value: Any, arg: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(arg, value)
    return value


def check_body(
    data: Any,
    spec: Mapping[str, Validator],
    mandatory: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Validate ``data`` against ``spec``: unknown keys, missing keys, then each value."""
    if not isinstance(data, dict):
        raise SimError("SM_missing_arg", arg="data")
    for key in data:
        if key not in spec and key not in ignore:
            raise SimError("SM_unexpected_arg", arg=key)
    for key in mandatory:
        if key not in data:
            raise SimError("SM_missing_arg", arg=key)
    return {k: spec[k](v, k) for k, v in data.items() if k in spec}
