from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from _cty_strategies import cty_types, known_typed_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tfnimble.plugin.cty import (
    UNKNOWN,
    Bool,
    CtyError,
    CtyType,
    Dynamic,
    DynamicValue,
    List,
    Map,
    Number,
    Object,
    Set,
    String,
    Tuple,
    Unknown,
    conform,
    values_equal,
)
from tfnimble.plugin.cty import json as ctyjson
from tfnimble.plugin.cty import msgpack as ctymsgpack

# Derived from go-cty's cty/json marshal: compact, sorted keys, numbers in plain decimal
# notation (big.Float Text('f', -1)), dynamic as {"value":...,"type":...}, Go's HTML escaping.
GOLDEN: list[tuple[str, CtyType, Any, bytes]] = [
    (
        "object",
        Object({"name": String, "id": String, "n": Number}),
        {"id": "i-1", "name": None, "n": 3},
        b'{"id":"i-1","n":3,"name":null}',
    ),
    ("big int", Number, 2**80, b"1208925819614629174706176"),
    ("small float", Number, 1e-7, b"0.0000001"),
    ("big float", Number, 1e22, b"10000000000000000000000"),
    ("decimal", Number, Decimal("0.10"), b"0.1"),
    ("integral float", Number, 12.0, b"12"),
    ("list", List(Bool), [True, False], b"[true,false]"),
    ("map sorted", Map(Number), {"b": 1, "a": 2.5}, b'{"a":2.5,"b":1}'),
    ("tuple", Tuple([String, Number]), ["x", 1], b'["x",1]'),
    ("set", Set(String), ["a"], b'["a"]'),
    ("html escaping", String, "<a&b>\u2028é", b'"\\u003ca\\u0026b\\u003e\\u2028\xc3\xa9"'),
    (
        "dynamic",
        Object({"d": Dynamic}),
        {"d": DynamicValue(Map(String), {"k": "v"})},
        b'{"d":{"value":{"k":"v"},"type":["map","string"]}}',
    ),
    ("dynamic null", Dynamic, None, b"null"),
]


@pytest.mark.parametrize(("name", "ty", "value", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden(name: str, ty: CtyType, value: Any, expected: bytes) -> None:
    assert ctyjson.encode(value, ty) == expected
    assert values_equal(ctyjson.decode(expected, ty), conform(value, ty), ty)


def test_decode_numbers_precision() -> None:
    assert ctyjson.decode(b"123456789012345678901234567890", Number) == (
        123456789012345678901234567890
    )
    v = ctyjson.decode(b"0.1", Number)
    assert v == Decimal("0.1") and values_equal(v, 0.1, Number)
    assert ctyjson.decode(b"0.5", Number) == 0.5 and isinstance(
        ctyjson.decode(b"0.5", Number), float
    )
    assert ctyjson.decode(b"1e400", Number) == 10**400
    assert ctyjson.decode(b"1.0", Number) == 1 and isinstance(ctyjson.decode(b"1.0", Number), int)
    assert ctyjson.decode(b"1e-400", Number) == Decimal("1e-400")


def test_decode_lenient_primitives() -> None:
    assert ctyjson.decode(b'"12"', Number) == 12
    assert ctyjson.decode(b'"true"', Bool) is True
    assert ctyjson.decode(b'"false"', Bool) is False
    assert ctyjson.decode(b"12.50", String) == "12.50"
    assert ctyjson.decode(b"true", String) == "true"


def test_object_attributes() -> None:
    ty = Object({"a": String, "b": Number})
    assert ctyjson.decode(b'{"a":"x"}', ty) == {"a": "x", "b": None}
    with pytest.raises(CtyError) as ei:
        ctyjson.decode(b'{"a":"x","legacy":1}', ty)
    assert "legacy" in ei.value.message
    got = ctyjson.decode(b'{"a":"x","legacy":{"deep":[1]}}', ty, ignore_unknown_attributes=True)
    assert got == {"a": "x", "b": None}
    nested = Object({"o": Object({"a": String})})
    assert ctyjson.decode(b'{"o":{"a":"y","old":2}}', nested, ignore_unknown_attributes=True) == {
        "o": {"a": "y"}
    }


def test_dynamic_decode() -> None:
    assert ctyjson.decode(b'{"type":"number","value":3}', Dynamic) == DynamicValue(Number, 3)
    assert ctyjson.decode(b'{"value":null,"type":"string"}', Dynamic) == DynamicValue(String, None)


@pytest.mark.parametrize(
    ("value", "ty"),
    [
        (UNKNOWN, String),
        ({"a": Unknown(not_null=True)}, Object({"a": String})),
        (DynamicValue(String, UNKNOWN), Dynamic),
        (math.inf, Number),
        ([1, math.nan], List(Number)),
        ("x", Number),
    ],
)
def test_encode_errors(value: Any, ty: CtyType) -> None:
    with pytest.raises(CtyError):
        ctyjson.encode(value, ty)


@pytest.mark.parametrize(
    ("data", "ty", "path"),
    [
        (b"", String, ""),
        (b"{", Object({}), ""),
        (b'"abc', String, ""),
        (b"\xff", String, ""),
        (b"NaN", Number, ""),
        (b"Infinity", Number, ""),
        (b"[1] [2]", List(Number), ""),
        (b'{"a":[1,"x"]}', Object({"a": List(Number)}), "a[1]"),
        (b'{"m":{"k":[]}}', Object({"m": Map(String)}), 'm["k"]'),
        (b'"maybe"', Bool, ""),
        (b"1", Bool, ""),
        (b"[]", String, ""),
        (b"{}", List(String), ""),
        (b"[]", Map(String), ""),
        (b"[1,2]", Tuple([Number]), ""),
        (b"[1]", Object({}), ""),
        (b'"x"', Dynamic, ""),
        (b'{"value":1}', Dynamic, ""),
        (b'{"type":"number"}', Dynamic, ""),
        (b'{"type":"nope","value":1}', Dynamic, ""),
        (b'{"type":"dynamic","value":1}', Dynamic, ""),
        (b'{"type":"number","value":1,"x":2}', Dynamic, ""),
        (b"[" * 100_000 + b"]" * 100_000, List(String), ""),
    ],
)
def test_decode_errors(data: bytes, ty: CtyType, path: str) -> None:
    with pytest.raises(CtyError) as ei:
        ctyjson.decode(data, ty)
    if path:
        assert str(ei.value.path) == path


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(known_typed_values)
def test_round_trip(tv: tuple[CtyType, Any]) -> None:
    ty, value = tv
    expected = conform(value, ty)
    data = ctyjson.encode(value, ty)
    got = ctyjson.decode(data, ty)
    assert values_equal(got, expected, ty)
    assert ctyjson.encode(got, ty) == data  # canonical
    # the msgpack codec agrees on the value
    assert values_equal(ctymsgpack.decode(ctymsgpack.encode(got, ty), ty), got, ty)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cty_types, st.one_of(st.binary(max_size=48), st.text(max_size=48).map(str.encode)))
def test_fuzz(ty: CtyType, data: bytes) -> None:
    try:
        ctyjson.decode(data, ty)
    except CtyError:
        pass


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=5),
        st.sampled_from(["string", "number", "bool", "dynamic", "list", "object", "true"]),
    ),
    lambda c: st.one_of(
        st.lists(c, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "type", "value", "k"]), c, max_size=3),
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cty_types, json_values, st.booleans())
def test_fuzz_structured(ty: CtyType, doc: Any, ignore: bool) -> None:
    import json

    try:
        ctyjson.decode(json.dumps(doc).encode(), ty, ignore_unknown_attributes=ignore)
    except CtyError:
        pass
