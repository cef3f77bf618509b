from __future__ import annotations

import copy
import json
import pickle

import pytest
from _cty_strategies import cty_types
from hypothesis import given, settings
from tfnimble.plugin.cty import (
    Bool,
    CtyError,
    CtyType,
    Dynamic,
    List,
    Map,
    Number,
    Object,
    Set,
    String,
    Tuple,
    type_from_json,
    type_from_json_bytes,
    type_to_json,
    type_to_json_bytes,
)


def test_singletons_and_constructors() -> None:
    assert String != Number != Bool != Dynamic
    assert List(String) == List(String)
    assert List(String) != Set(String) != Map(String)
    assert List(String).element is String
    assert Tuple([String, Number]).elements == (String, Number)
    assert isinstance(List(Bool), List) and List(Bool).is_collection
    assert String.is_primitive and Dynamic.is_dynamic
    o = Object({"b": Number, "a": String}, optional=frozenset({"a"}))
    assert list(o.attributes) == ["a", "b"]
    assert o.attributes["b"] is Number
    assert o.optional == {"a"}
    assert o == Object({"a": String, "b": Number}, {"a"})
    assert o != Object({"a": String, "b": Number})
    assert len({o, Object({"a": String, "b": Number}, {"a"}), List(o)}) == 2
    with pytest.raises(TypeError):
        o.attributes["c"] = Bool  # type: ignore[index]
    with pytest.raises(ValueError):
        Object({"a": String}, optional={"zzz"})
    with pytest.raises(TypeError):
        List("string")  # type: ignore[arg-type]
    assert Object({"x": List(Dynamic)}).has_dynamic() and not Object({"x": String}).has_dynamic()
    assert repr(Object({"a": List(String)}, {"a"})) == "Object({'a': List(String)}, optional=['a'])"


@pytest.mark.parametrize(
    ("ty", "expected"),
    [
        (String, b'"string"'),
        (Number, b'"number"'),
        (Bool, b'"bool"'),
        (Dynamic, b'"dynamic"'),
        (List(String), b'["list","string"]'),
        (Set(Number), b'["set","number"]'),
        (Map(Bool), b'["map","bool"]'),
        (Tuple([String, Dynamic]), b'["tuple",["string","dynamic"]]'),
        (Tuple([]), b'["tuple",[]]'),
        (Object({}), b'["object",{}]'),
        (
            Object({"z": String, "a": List(Number)}),
            b'["object",{"a":["list","number"],"z":"string"}]',
        ),
        (
            Object({"z": String, "a": Number, "m": Bool}, optional={"z", "a"}),
            b'["object",{"a":"number","m":"bool","z":"string"},["a","z"]]',
        ),
    ],
)
def test_type_json_golden(ty: CtyType, expected: bytes) -> None:
    assert type_to_json_bytes(ty) == expected
    assert type_from_json_bytes(expected) == ty
    assert type_from_json(json.loads(expected)) == ty


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"nope",
        b'"strin"',
        b"42",
        b"[]",
        b'["list"]',
        b'["list","string","x"]',
        b'["tuple","string"]',
        b'["object",[]]',
        b'["object",{"a":"string"},["b"]]',
        b'["object",{"a":"string"},"a"]',
        b'["frob","string"]',
        b'["map",["list"]]',
        b"\xff\xfe",
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_type_json_malformed(bad: bytes) -> None:
    with pytest.raises(CtyError):
        type_from_json_bytes(bad)


@settings(max_examples=150, deadline=None)
@given(cty_types)
def test_type_json_round_trip(ty: CtyType) -> None:
    assert pickle.loads(pickle.dumps(ty)) == ty
    assert copy.deepcopy(ty) == ty
    assert type_from_json_bytes(type_to_json_bytes(ty)) == ty
    assert type_from_json(type_to_json(ty)) == ty
    assert hash(type_from_json(type_to_json(ty))) == hash(ty)
