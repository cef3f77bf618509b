from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import msgpack as _mp  # type: ignore[import-untyped]
import pytest
from _cty_strategies import cty_types, typed_values, unknowns_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tfnimble.plugin.cty import (
    UNKNOWN,
    AttributePath,
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
from tfnimble.plugin.cty import msgpack as ctymsgpack

# --------------------------------------------------------------------------- golden bytes
# Derived from go-cty's cty/msgpack (marshal.go, unknown.go, dynamic.go): compact ints,
# float64 for non-integral floats, decimal strings otherwise, sorted object attributes and
# map keys, unknown = fixext1 type 0 with a zero byte, refined unknown = ext 12 with a map.

GOLDEN: list[tuple[str, CtyType, Any, str]] = [
    (
        "object with unknown",
        Object({"id": String, "name": String}),
        {"id": UNKNOWN, "name": "x"},
        "82 a2 6964 d40000 a4 6e616d65 a1 78",
    ),
    ("null", String, None, "c0"),
    ("unknown", List(String), UNKNOWN, "d40000"),
    ("small int", Number, 1, "01"),
    ("negative int", Number, -200, "d1 ff38"),
    ("uint16", Number, 300, "cd 012c"),
    ("integral float is an int", Number, 5.0, "05"),
    ("float64", Number, 1.5, "cb 3ff8000000000000"),
    ("2**63 is an exact float64", Number, 2**63, "cb 43e0000000000000"),
    ("2**63+1 is a string", Number, 2**63 + 1, "b3 39323233333732303336383534373735383039"),
    ("inexact decimal is a string", Number, Decimal("0.1"), "a3 302e31"),
    ("exact decimal is a float", Number, Decimal("0.50"), "cb 3fe0000000000000"),
    ("+inf", Number, math.inf, "cb 7ff0000000000000"),
    ("-inf", Number, -math.inf, "cb fff0000000000000"),
    ("bool", Bool, True, "c3"),
    ("map keys sorted", Map(Number), {"b": 1, "a": 2}, "82 a161 02 a162 01"),
    ("object null attr", Object({"a": String}), {}, "81 a161 c0"),
    ("tuple", Tuple([String, Bool]), ["a", False], "92 a161 c2"),
    ("set", Set(Number), [3], "91 03"),
    (
        "dynamic",
        Dynamic,
        DynamicValue(String, "hi"),
        "92 c4 08 22737472696e6722 a2 6869",
    ),
    ("dynamic unknown", Dynamic, UNKNOWN, "d40000"),
    ("dynamic null", Dynamic, None, "c0"),
    (
        "dynamic of known type, unknown",
        Dynamic,
        DynamicValue(List(Bool), UNKNOWN),
        "92 c4 0f 5b226c697374222c22626f6f6c225d d40000",
    ),
    (
        "refined string",
        String,
        Unknown(not_null=True, string_prefix="ab"),
        "c7 07 0c 82 01c2 02a26162",
    ),
    ("refined string, fixext4", String, Unknown(string_prefix="a"), "d6 0c 81 02a161"),
    (
        "refined number",
        Number,
        Unknown(not_null=True, number_lower=(0, True), number_upper=(10, False)),
        "c7 0b 0c 83 01c2 03920 0c3 04920ac2",
    ),
    ("refined list length", List(String), Unknown(length_lower=2), "c7 03 0c 81 0502"),
    (
        "refined set length both",
        Set(String),
        Unknown(not_null=True, length_lower=1, length_upper=3),
        "c7 07 0c 83 01c2 0501 0603",
    ),
    ("not-null object", Object({"a": String}), Unknown(not_null=True), "c7 03 0c 81 01c2"),
    ("refinements dropped for dynamic", Dynamic, Unknown(not_null=True), "d40000"),
    ("inapplicable refinement omitted", Map(String), Unknown(length_lower=0), "d40000"),
]


@pytest.mark.parametrize(("name", "ty", "value", "hexbytes"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden(name: str, ty: CtyType, value: Any, hexbytes: str) -> None:
    expected = bytes.fromhex(hexbytes.replace(" ", ""))
    assert ctymsgpack.encode(value, ty) == expected
    decoded = ctymsgpack.decode(expected, ty)
    assert values_equal(decoded, conform(value, ty), ty)
    assert unknowns_in(decoded, ty) == unknowns_in(value, ty) or isinstance(ty, type(Dynamic))


def test_decode_refinements_exact() -> None:
    b = ctymsgpack.encode(Unknown(not_null=True, number_lower=(Decimal("0.1"), False)), Number)
    assert ctymsgpack.decode(b, Number) == Unknown(
        not_null=True, number_lower=(Decimal("0.1"), False)
    )
    u = Unknown(not_null=True, length_lower=1, length_upper=5)
    assert ctymsgpack.decode(ctymsgpack.encode(u, Map(Bool)), Map(Bool)) == u
    u = Unknown(not_null=True, string_prefix="pre-")
    assert ctymsgpack.decode(ctymsgpack.encode(u, String), String) == u


def _ext(code: int, payload: bytes) -> bytes:
    return _mp.packb(_mp.ExtType(code, payload))


def test_decode_unknown_variants() -> None:
    assert ctymsgpack.decode(b"\xc7\x00\x00", String) == UNKNOWN  # zero-length ext
    assert ctymsgpack.decode(b"\xd4\x05\x07", String) == UNKNOWN  # any 1-byte ext
    # "definitely null" refinement collapses to null, as in cty
    assert ctymsgpack.decode(_ext(12, b"\x81\x01\xc3"), String) is None
    # unrecognised refinement keys are ignored; trailing bytes after the map are ignored
    assert ctymsgpack.decode(_ext(12, b"\x82\x01\xc2\x63\xc3\xff\xff"), String) == Unknown(
        not_null=True
    )
    # refinements on dynamic are ignored
    assert ctymsgpack.decode(_ext(12, b"\x81\x02\xa1x"), Dynamic) == UNKNOWN
    # numeric bound encoded as a decimal string
    got = ctymsgpack.decode(_ext(12, _mp.packb({3: ["1.25", True]})), Number)
    assert got == Unknown(number_lower=(1.25, True))


@pytest.mark.parametrize(
    ("data", "ty"),
    [
        (_ext(5, b"\x81\x01\xc2"), String),  # non-zero length needs type 12
        (_ext(12, b"\x01\x02\x03"), String),  # payload not a map
        (_ext(12, b"\x81\x02\xa1x"), Number),  # prefix on a number
        (_ext(12, b"\x81\x03\x92\x00\xc3"), String),  # number bound on a string
        (_ext(12, b"\x81\x05\x01"), Object({})),  # length on a non-collection
        (_ext(12, b"\x81\x01\x01"), String),  # nullness not a bool
        (_ext(12, b"\x81\x02\x01"), String),  # prefix not a string
        (_ext(12, b"\x81\x03\x01"), Number),  # bound not an array
        (_ext(12, b"\x81\x03\x92\xa1x\xc3"), Number),  # bound not a number
        (_ext(12, b"\x81\x05\xa1x"), List(String)),  # length not an int
        (_ext(12, b"\x81\xa1x\x01"), String),  # non-int key
        (_ext(12, b"\x81\x02\xa1" + b"x" * 2000), String),  # oversize
        (_ext(12, b"\x82\x01"), String),  # truncated payload
    ],
)
def test_decode_bad_refinements(data: bytes, ty: CtyType) -> None:
    with pytest.raises(CtyError):
        ctymsgpack.decode(data, ty)


def test_decode_flexibility() -> None:
    obj = Object({"a": String, "b": Number, "c": Bool}, optional={"c"})
    # any attribute order, missing optional -> None
    data = _mp.packb({"b": 1, "a": "x"})
    assert ctymsgpack.decode(data, obj) == {"a": "x", "b": 1, "c": None}
    # bin accepted for strings, float32 and uint64 for numbers, strings for numbers
    assert ctymsgpack.decode(b"\xc4\x02hi", String) == "hi"
    assert ctymsgpack.decode(b"\xca\x3f\xc0\x00\x00", Number) == 1.5
    assert ctymsgpack.decode(b"\xcf" + b"\xff" * 8, Number) == 2**64 - 1
    assert ctymsgpack.decode(_mp.packb("1e3"), Number) == 1000
    assert ctymsgpack.decode(_mp.packb("0.1"), Number) == Decimal("0.1")
    assert ctymsgpack.decode(_mp.packb("123456789012345678901234567890"), Number) == (
        123456789012345678901234567890
    )
    # sets are de-duplicated (numerically)
    assert ctymsgpack.decode(_mp.packb([1, 1.0, "1", 2]), Set(Number)) == [1, 2]
    # strings are NFC-normalized as cty does
    assert ctymsgpack.decode(_mp.packb("e\u0301"), String) == "\u00e9"
    # dynamic type JSON may also be a msgpack str
    assert ctymsgpack.decode(_mp.packb(['"number"', 3]), Dynamic) == DynamicValue(Number, 3)
    assert ctymsgpack.decode(_mp.packb(None), Dynamic) is None


@pytest.mark.parametrize(
    ("data", "ty", "path"),
    [
        (_mp.packb({"a": "x"}), Object({"a": String, "b": Number}), ""),  # missing required
        (_mp.packb({"a": "x", "zz": 1}), Object({"a": String}), "zz"),  # extra attribute
        (_mp.packb({"a": ["x", 1]}), Object({"a": List(String)}), "a[1]"),
        (_mp.packb({"m": {"k": "nope"}}), Object({"m": Map(Number)}), 'm["k"]'),
        (_mp.packb([1, 2]), Tuple([Number]), ""),
        (_mp.packb("x"), Bool, ""),
        (_mp.packb(1), String, ""),
        (_mp.packb(True), Number, ""),
        (_mp.packb("abc"), Number, ""),
        (_mp.packb("NaN"), Number, ""),
        (_mp.packb(float("nan")), Number, ""),
        (_mp.packb({"a": 1}), List(Number), ""),
        (_mp.packb([1]), Map(Number), ""),
        (_mp.packb([1]), Object({}), ""),
        (_mp.packb({1: 2}, strict_types=False), Map(Number), ""),
        (b"\xc4\x01\xff", String, ""),  # invalid UTF-8 in bin
        (_mp.packb(["x"]), Dynamic, ""),
        (_mp.packb([b'"nope"', 1]), Dynamic, ""),
        (_mp.packb([b'"dynamic"', 1]), Dynamic, ""),
        (_mp.packb([5, 1]), Dynamic, ""),
        (_mp.packb([b'"string"', 1]), Dynamic, ""),
        (b"", String, ""),
        (b"\x92\x01", List(Number), ""),  # truncated
        (b"\x01\x02", Number, ""),  # extra data
        (b"\xc1", String, ""),  # reserved byte
        (b"\xdd\xff\xff\xff\xff", List(String), ""),  # huge declared length
        (b"\x91" * 200_000 + b"\x01", List(String), ""),  # deep nesting
    ],
)
def test_decode_errors(data: bytes, ty: CtyType, path: str) -> None:
    with pytest.raises(CtyError) as ei:
        ctymsgpack.decode(data, ty)
    if path:
        assert str(ei.value.path) == path
    assert isinstance(ei.value.path, AttributePath)


def test_encode_errors() -> None:
    with pytest.raises(CtyError) as ei:
        ctymsgpack.encode({"a": ["x", 2]}, Object({"a": List(String)}))
    assert str(ei.value.path) == "a[1]"
    with pytest.raises(CtyError):
        ctymsgpack.encode(math.nan, Number)
    with pytest.raises(CtyError):
        ctymsgpack.encode({"zz": 1}, Object({}))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_values)
def test_round_trip(tv: tuple[CtyType, Any]) -> None:
    ty, value = tv
    expected = conform(value, ty)
    data = ctymsgpack.encode(value, ty)
    got = ctymsgpack.decode(data, ty)
    assert values_equal(got, expected, ty)
    assert values_equal(expected, got, ty)
    assert unknowns_in(got, ty) == unknowns_in(expected, ty)  # refinements preserved
    assert ctymsgpack.encode(got, ty) == data  # canonical


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cty_types, st.binary(max_size=64))
def test_fuzz_random_bytes(ty: CtyType, data: bytes) -> None:
    try:
        ctymsgpack.decode(data, ty)
    except CtyError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_values, st.data())
def test_fuzz_mutated_valid_bytes(tv: tuple[CtyType, Any], data: st.DataObject) -> None:
    ty, value = tv
    raw = bytearray(ctymsgpack.encode(value, ty))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    else:
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    other = data.draw(cty_types)
    for t in (ty, other):
        try:
            ctymsgpack.decode(bytes(raw), t)
        except CtyError:
            pass


msgpack_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**64 - 1),
        st.floats(),
        st.text(max_size=5),
        st.binary(max_size=5),
        st.sampled_from(['"string"', b'"number"', b'["list","bool"]', "1.5", "x"]),
        st.builds(_mp.ExtType, st.integers(0, 127), st.binary(max_size=6)),
        st.builds(
            _mp.ExtType,
            st.just(12),
            st.dictionaries(
                st.integers(0, 7),
                st.one_of(
                    st.booleans(),
                    st.integers(-1000, 1000),
                    st.text(max_size=3),
                    st.lists(
                        st.one_of(st.integers(-9, 9), st.booleans(), st.text(max_size=2)),
                        max_size=3,
                    ),
                ),
                max_size=3,
            ).map(_mp.packb),
        ),
    ),
    lambda c: st.one_of(
        st.lists(c, max_size=3),
        st.dictionaries(
            st.one_of(st.sampled_from(["a", "b", "k"]), st.binary(max_size=2)), c, max_size=3
        ),
    ),
    max_leaves=10,
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cty_types, msgpack_values)
def test_fuzz_structured(ty: CtyType, doc: Any) -> None:
    try:
        ctymsgpack.decode(_mp.packb(doc, use_bin_type=True), ty)
    except CtyError:
        pass
