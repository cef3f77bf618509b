"""The compiled fast paths of conform(), values_equal() and the msgpack codec answer exactly as
the generic forms.

The fast path (tfnimble.plugin.cty.fastpath) handles the common values itself and hands
everything else to the generic form; these properties pin that, for any type and any value,
right or wrong, the result or the error (message and path) is the generic form's.
"""

from __future__ import annotations

import json
from typing import Any

import msgpack as _mp  # type: ignore[import-untyped]
from _cty_strategies import cty_types, typed_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tfnimble.plugin.cty import AttributePath, CtyError, List, Number, Object, String
from tfnimble.plugin.cty import json as ctyjson
from tfnimble.plugin.cty import msgpack as ctymsgpack
from tfnimble.plugin.cty import types as ct
from tfnimble.plugin.cty.fastpath import CONFORMERS, DECODERS, ENCODERS, Slow
from tfnimble.plugin.cty.values import UNKNOWN, Unknown, _conform, _equal, conform, values_equal

ROOT = AttributePath.root()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def outcome(fn: Any, *args: Any) -> tuple[str, str]:
    """What a call answers: ("ok", repr of the result) or ("error", message with its path)."""
    try:
        return "ok", repr(fn(*args))
    except CtyError as exc:
        return "error", f"{exc.path}: {exc.message}"


def generic_decode(data: bytes, ty: Any) -> Any:
    return ctymsgpack._from_wire(ctymsgpack._unpack(data), ty, ROOT)


# raw msgpack-able data, right or wrong for any type
raw_data = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=4)
    | st.binary(max_size=4),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=3) | st.binary(max_size=2), children, max_size=3)
    ),
    max_leaves=8,
)


@SETTINGS
@given(typed_values)
def test_conform_matches_generic_on_values_of_the_type(tv: tuple[Any, Any]) -> None:
    ty, value = tv
    assert outcome(conform, value, ty) == outcome(_conform, value, ty, ROOT)


@SETTINGS
@given(cty_types, typed_values)
def test_conform_matches_generic_on_values_of_another_type(ty: Any, tv: tuple[Any, Any]) -> None:
    value = tv[1]
    assert outcome(conform, value, ty) == outcome(_conform, value, ty, ROOT)


@SETTINGS
@given(typed_values)
def test_decode_matches_generic_on_encoded_values(tv: tuple[Any, Any]) -> None:
    ty, value = tv
    try:
        data = ctymsgpack.encode(value, ty)
    except CtyError:
        return
    assert outcome(ctymsgpack.decode, data, ty) == outcome(generic_decode, data, ty)


@SETTINGS
@given(typed_values)
def test_encode_matches_generic(tv: tuple[Any, Any]) -> None:
    ty, value = tv
    try:
        value = conform(value, ty)
    except CtyError:
        return

    def fast(v: Any) -> Any:
        try:
            return ENCODERS.get(ty)(v)
        except Slow:
            return ctymsgpack._to_wire(v, ty, ROOT)

    assert outcome(fast, value) == outcome(ctymsgpack._to_wire, value, ty, ROOT)


@SETTINGS
@given(cty_types, raw_data)
def test_decode_matches_generic_on_arbitrary_data(ty: Any, raw: Any) -> None:
    data = _mp.packb(raw, use_bin_type=True)
    assert outcome(ctymsgpack.decode, data, ty) == outcome(generic_decode, data, ty)


@SETTINGS
@given(typed_values, st.data())
def test_decode_matches_generic_when_an_attribute_is_left_out(
    tv: tuple[Any, Any], data: Any
) -> None:
    ty, value = tv
    if not isinstance(ty, Object) or not isinstance(value, dict) or not ty.attributes:
        return
    try:
        wire = ctymsgpack._to_wire(conform(value, ty), ty, ROOT)
    except CtyError:
        return
    del wire[data.draw(st.sampled_from(sorted(wire)))]
    packed = _mp.packb(wire, use_bin_type=True)
    assert outcome(ctymsgpack.decode, packed, ty) == outcome(generic_decode, packed, ty)


def same_equality(a: Any, b: Any, ty: Any) -> bool:
    """values_equal answers (or raises) as the generic form does, both ways round; the
    generic form is not meant for values of another type, which can make it raise."""

    def answer(fn: Any, x: Any, y: Any) -> str:
        try:
            return repr(fn(x, y, ty))
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    return all(answer(values_equal, x, y) == answer(_equal, x, y) for x, y in ((a, b), (b, a)))


def _variants(value: Any, key: str | None = None) -> list[Any]:
    """The value, and copies with a leaf (or a whole member) changed or left out: in a dict,
    the member `key` (the first one by default)."""
    out = [value]
    if isinstance(value, dict) and value:
        k = sorted(value)[0] if key is None else key
        out += [{**value, k: None}, {kk: v for kk, v in value.items() if kk != k}]
        out += [{**value, k: v} for v in _variants(value[k])[1:]]
        out.append({**value, "not-an-attribute": 1})
    elif isinstance(value, list) and value:
        out += [value[1:], value + value[:1], [*_variants(value[0])[1:2], *value[1:]]]
        out.append(tuple(value))
    elif isinstance(value, bool):
        out += [not value, int(value)]
    elif isinstance(value, int):
        out += [value + 1, float(value), str(value), value == 1, value == 0]
    elif isinstance(value, str):
        out += [value + "x", value.encode()]
    out += [None, UNKNOWN]
    return out


@SETTINGS
@given(typed_values)
def test_equality_matches_generic(tv: tuple[Any, Any]) -> None:
    ty, value = tv
    for other in _variants(value):
        assert same_equality(value, other, ty), other
    try:
        conformed = conform(value, ty)
    except CtyError:
        return
    assert same_equality(conformed, conformed, ty)


@SETTINGS
@given(cty_types, typed_values)
def test_equality_matches_generic_on_values_of_another_type(ty: Any, tv: tuple[Any, Any]) -> None:
    value = tv[1]
    for other in _variants(value):
        assert same_equality(value, other, ty), other


def test_equality_matches_generic_on_state_shaped_values() -> None:
    """Every pair among an object value like a resource's state and its variants (a member
    changed, null, unknown, missing, of the wrong kind, an attribute not in the type)."""
    ty = Object(
        {
            "name": String,
            "size": Number,
            "on": ct.Bool,
            "tags": ct.Map(String),
            "ids": List(String),
            "set": ct.Set(String),
        }
    )
    state = {"name": "a", "size": 1, "on": True, "tags": {"k": "v"}, "ids": ["x"], "set": ["s"]}
    values = [v for k in sorted(state) for v in _variants(state, k)]
    for a in values:
        for b in values:
            assert same_equality(a, b, ty), (a, b)


def generic_state_decode(data: bytes, ty: Any) -> Any:
    try:
        raw = ctyjson._loads(data)
    except ValueError as exc:
        raise CtyError(ROOT, f"malformed JSON: {type(exc).__name__}: {exc}") from None
    return ctyjson._from_json(raw, ty, ROOT, True)


def state_decode(data: bytes, ty: Any) -> Any:
    return ctyjson.decode(data, ty, ignore_unknown_attributes=True)


@SETTINGS
@given(typed_values)
def test_state_json_decode_matches_generic_on_encoded_values(tv: tuple[Any, Any]) -> None:
    ty, value = tv
    try:
        data = ctyjson.encode(value, ty)
    except CtyError:
        return
    assert outcome(state_decode, data, ty) == outcome(generic_state_decode, data, ty)
    if isinstance(ty, Object) and data.startswith(b"{") and data != b"{}":
        extra = b'{"not_in_the_type": [1, {"x": null}], ' + data[1:]  # dropped, as Terraform does
        assert outcome(state_decode, extra, ty) == outcome(generic_state_decode, extra, ty)


json_data = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["-0", "0", "1e3", "12", "true", "e\u0301", "\u212b"])
    | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=8,
)


@SETTINGS
@given(cty_types, json_data)
def test_state_json_decode_matches_generic_on_arbitrary_json(ty: Any, raw: Any) -> None:
    data = json.dumps(raw).encode()
    assert outcome(state_decode, data, ty) == outcome(generic_state_decode, data, ty)
    token = str(raw).encode() if isinstance(raw, int) and not isinstance(raw, bool) else None
    for number in (token, b"-0", b"007", b"1.0", b"123456789012345678901"):
        if number is not None:
            assert outcome(state_decode, number, ty) == outcome(generic_state_decode, number, ty)


def test_state_json_decode_normalizes_and_drops_as_the_generic_form_does() -> None:
    ty = Object({"name": String, "tags": ct.Set(String), "size": Number, "m": ct.Map(Number)})
    data = json.dumps(
        {"name": "e\u0301", "tags": ["b", "a", "b"], "size": 12, "m": {"k": -3}, "gone": [1]}
    ).encode()
    assert outcome(state_decode, data, ty) == outcome(generic_state_decode, data, ty)
    assert state_decode(data, ty) == {
        "m": {"k": -3},
        "name": "\u00e9",
        "size": 12,
        "tags": ["b", "a"],
    }
    for size in (b"1.5", b"-0", b"1e3", b"1234567890" * 3, b"9" * 5000, b'"7"', b"true"):
        data = b'{"size": ' + size + b"}"
        assert outcome(state_decode, data, ty) == outcome(generic_state_decode, data, ty)


NOT_NFC = ["e\u0301", "A\u030a", "\u212b", "x"]


@given(st.sampled_from(NOT_NFC), st.sampled_from(NOT_NFC))
def test_strings_are_normalized_as_the_generic_form_does(a: str, b: str) -> None:
    ty = Object({"name": String, "tags": List(String)})
    value = {"name": a, "tags": [b]}
    assert outcome(conform, value, ty) == outcome(_conform, value, ty, ROOT)
    raw = _mp.packb({"name": a, "tags": [b]}, use_bin_type=True)
    assert outcome(ctymsgpack.decode, raw, ty) == outcome(generic_decode, raw, ty)
    assert conform(value, ty)["name"] == _conform(a, String, ROOT)


def test_the_fast_path_handles_a_plan_and_hands_over_what_it_does_not() -> None:
    ty = Object({"name": String, "size": Number, "tags": List(String)})
    value = {"name": "a", "size": 3, "tags": ["x", UNKNOWN]}
    assert CONFORMERS.get(ty)(value) == value
    # a tuple for a list, a bytes key, a refined unknown that does not fit: generic form
    for odd in ({"name": "a", "size": 3, "tags": ("x",)}, {b"name": "a"}):
        try:
            CONFORMERS.get(ty)(odd)
        except Slow:
            continue
        raise AssertionError(f"the fast path accepted {odd!r}")
    assert conform({"name": "a", "size": 3, "tags": ("x",)}, ty)["tags"] == ["x"]
    bad = {"name": Unknown(number_lower=(1, True)), "size": 3, "tags": None}
    assert outcome(conform, bad, ty) == outcome(_conform, bad, ty, ROOT)
    assert outcome(conform, bad, ty)[1].startswith("name: number bound refinement")
    missing = _mp.packb({"name": "a", "size": 1}, use_bin_type=True)
    assert outcome(ctymsgpack.decode, missing, ty) == (
        "error",
        ": missing required attribute 'tags'",
    )
    data = ctymsgpack.encode(value, ty)
    assert DECODERS.get(ty)(_mp.unpackb(data, raw=False, ext_hook=ctymsgpack._ext_hook)) == value
