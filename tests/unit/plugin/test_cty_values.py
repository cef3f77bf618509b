from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from _cty_strategies import typed_values
from hypothesis import HealthCheck, given, settings
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
    format_number,
    infer_type,
    is_known,
    is_null,
    is_unknown,
    normalize_number,
    transform,
    values_equal,
    walk,
)


def test_unknown_refinements() -> None:
    assert Unknown() == UNKNOWN and not UNKNOWN.is_refined
    u = Unknown(not_null=True, string_prefix="x")
    assert u.is_refined and hash(u) == hash(Unknown(not_null=True, string_prefix="x"))
    assert Unknown(length_lower=0) == UNKNOWN  # vacuous refinements are dropped
    assert Unknown(string_prefix="") == UNKNOWN
    with pytest.raises(ValueError):
        Unknown(length_upper=-1)
    assert repr(UNKNOWN) == "UNKNOWN"
    assert "not_null=True" in repr(u)


def test_predicates() -> None:
    assert is_unknown(UNKNOWN) and is_unknown(Unknown(not_null=True))
    assert is_unknown(DynamicValue(String, UNKNOWN))
    assert not is_unknown(None) and not is_unknown([UNKNOWN])
    assert is_null(None) and is_null(DynamicValue(String, None)) and not is_null(UNKNOWN)
    assert not is_null(0) and not is_null("")
    assert is_known("x") and is_known(None) and not is_known(UNKNOWN)
    assert not is_known({"a": [1, {"b": UNKNOWN}]})
    assert is_known({"a": [1, {"b": UNKNOWN}]}, deep=False)
    assert not is_known(DynamicValue(List(String), ["a", UNKNOWN]))


@pytest.mark.parametrize(
    ("a", "b", "ty", "eq"),
    [
        (1, 1.0, Number, True),
        (1, Decimal("1.000"), Number, True),
        (0.1, Decimal("0.1"), Number, True),  # cty compares by shortest decimal rendering
        (0.1, Decimal("0.1000000000000000055511151231257827"), Number, False),
        (2**63, float(2**63), Number, True),
        (math.inf, Decimal("Infinity"), Number, True),
        (1, True, Number, False),
        (True, 1, Bool, False),
        ("a", "a", String, True),
        (None, None, String, True),
        (None, "", String, False),
        (UNKNOWN, Unknown(not_null=True), String, True),
        (UNKNOWN, None, String, False),
        ([1, 2, 3], [3, 1, 2.0], Set(Number), True),
        ([1, 2], [1, 2, 2], Set(Number), True),  # set semantics: duplicates collapse
        ([1, 2], [1, 3], Set(Number), False),
        ([UNKNOWN, 1], [UNKNOWN, UNKNOWN, 1], Set(Number), False),  # unknowns never merge
        ([UNKNOWN, 1], [1, Unknown(not_null=True)], Set(Number), True),
        ([[1, 2], [3]], [[3], [2, 1]], Set(Set(Number)), True),
        ([1, 2], [2, 1], List(Number), False),
        ({"a": 1}, {"a": 1.0}, Map(Number), True),
        ({"a": 1}, {"b": 1}, Map(Number), False),
        ({"a": None}, {}, Object({"a": String}), True),
        ({"a": "x"}, {}, Object({"a": String}), False),
        ({"zz": 1}, {}, Object({"a": String}), False),
        (["x", 1], ["x", 1.0], Tuple([String, Number]), True),
        (DynamicValue(Number, 1), DynamicValue(Number, 1.0), Dynamic, True),
        (DynamicValue(Number, 1), DynamicValue(String, "1"), Dynamic, False),
        (DynamicValue(List(String), ["a"]), DynamicValue(Tuple([String]), ["a"]), Dynamic, False),
        (DynamicValue(String, None), None, Dynamic, True),
        (DynamicValue(String, UNKNOWN), UNKNOWN, Dynamic, True),
        ("plain", DynamicValue(String, "plain"), Dynamic, True),
        (
            [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": []}],
            [{"id": 2.0, "tags": []}, {"id": 1, "tags": ["b", "a"]}],
            Set(Object({"id": Number, "tags": Set(String)})),
            True,
        ),
    ],
)
def test_values_equal(a: Any, b: Any, ty: CtyType, eq: bool) -> None:
    assert values_equal(a, b, ty) is eq
    assert values_equal(b, a, ty) is eq


def test_conform_normalizes() -> None:
    ty = Object(
        {"name": String, "tags": Set(String), "n": Number, "t": Tuple([Bool]), "d": Dynamic},
        optional={"d"},
    )
    got = conform({"name": "e\u0301", "tags": ("a", "b", "a"), "t": (True,), "d": "x"}, ty)
    assert got == {
        "name": "\u00e9",
        "tags": ["a", "b"],
        "n": None,
        "t": [True],
        "d": DynamicValue(String, "x"),
    }
    # set elements containing unknowns are never merged
    assert conform([UNKNOWN, UNKNOWN, 1, 1.0], Set(Number)) == [UNKNOWN, UNKNOWN, 1]
    assert conform(Decimal("-Infinity"), Number) == -math.inf
    assert conform({1, 2}, Set(Number)) in ([1, 2], [2, 1])
    assert conform({"a": [1]}, Dynamic) == DynamicValue(Object({"a": Tuple([Number])}), {"a": [1]})


@pytest.mark.parametrize(
    ("value", "ty", "path"),
    [
        ("1", Number, ""),
        (True, Number, ""),
        (math.nan, Number, ""),
        (Decimal("NaN"), Number, ""),
        (1, String, ""),
        (b"x", String, ""),
        (1, Bool, ""),
        ("abc", List(String), ""),
        ({1, 2}, List(Number), ""),
        ({"a": 1}, List(Number), ""),
        ([1], Map(Number), ""),
        ({1: 1}, Map(Number), ""),
        ([1, 2], Tuple([Number]), ""),
        ({"a": 1, "b": 2}, Object({"a": Number}), ""),
        ({"a": [1, "x"]}, Object({"a": List(Number)}), "a[1]"),
        ({"m": {"k": {"z": 1}}}, Object({"m": Map(Object({"z": String}))}), 'm["k"].z'),
        (DynamicValue(String, "x"), String, ""),
        (DynamicValue(Dynamic, "x"), Dynamic, ""),
        (DynamicValue(Number, "x"), Dynamic, ""),
        (object(), Dynamic, ""),
        (Unknown(string_prefix="x"), Number, ""),
        (Unknown(number_lower=(0, True)), String, ""),
        (Unknown(length_lower=2), Object({}), ""),
    ],
)
def test_conform_errors(value: Any, ty: CtyType, path: str) -> None:
    with pytest.raises(CtyError) as ei:
        conform(value, ty)
    assert str(ei.value.path) == path


def test_conform_path_prefix() -> None:
    with pytest.raises(CtyError) as ei:
        conform(1, String, AttributePath.parse("outer[2]"))
    assert str(ei.value.path) == "outer[2]"


def test_numbers() -> None:
    assert normalize_number(Decimal("10")) == 10 and isinstance(
        normalize_number(Decimal("1E+2")), int
    )
    assert normalize_number(Decimal("0.5")) == 0.5
    assert isinstance(normalize_number(Decimal("0.1")), Decimal)
    assert isinstance(normalize_number(Decimal("1E+9999")), Decimal)  # too big to expand
    assert normalize_number(3.0) == 3 and isinstance(normalize_number(3.0), int)
    assert format_number(1e-7) == "0.0000001"
    assert format_number(Decimal("-0.0")) == "0"
    assert format_number(Decimal("12.3400")) == "12.34"
    assert format_number(2**70) == "1180591620717411303424"


def test_infer_type() -> None:
    assert infer_type("x") == String and infer_type(True) == Bool and infer_type(1.5) == Number
    assert infer_type([1, "a"]) == Tuple([Number, String])
    assert infer_type({"a": None}) == Object({"a": Dynamic})
    assert infer_type(DynamicValue(Map(Bool), {})) == Map(Bool)


TY = Object(
    {
        "a": List(Object({"b": String})),
        "m": Map(Number),
        "d": Dynamic,
        "s": Set(String),
    }
)
VAL: dict[str, Any] = {
    "a": [{"b": "x"}, {"b": UNKNOWN}],
    "m": {"k": 1},
    "d": DynamicValue(Tuple([Bool]), [True]),
    "s": None,
}


def test_walk() -> None:
    seen: list[tuple[str, Any, CtyType]] = []
    walk(VAL, TY, lambda p, v, t: seen.append((str(p), v, t)))
    paths = [p for p, _, _ in seen]
    assert paths == [
        "",
        "a",
        "a[0]",
        "a[0].b",
        "a[1]",
        "a[1].b",
        "d",
        "d",
        "d[0]",
        "m",
        'm["k"]',
        "s",
    ]
    assert seen[6][2] == Dynamic and seen[7][2] == Tuple([Bool]) and seen[8][1] is True
    # returning False prunes the subtree
    pruned: list[str] = []

    def visit(p: AttributePath, v: Any, t: CtyType) -> bool:
        pruned.append(str(p))
        return str(p) != "a"

    walk(VAL, TY, visit)
    assert "a[0]" not in pruned and 'm["k"]' in pruned


def test_transform_bottom_up() -> None:
    order: list[str] = []

    def unknown_to_null(p: AttributePath, v: Any, t: CtyType) -> Any:
        order.append(str(p))
        if isinstance(v, Unknown):
            return None
        if t == Number and v is not None:
            return v * 10
        return v

    got = transform(VAL, TY, unknown_to_null)
    assert got["a"] == [{"b": "x"}, {"b": None}]
    assert got["m"] == {"k": 10}
    assert got["d"] == DynamicValue(Tuple([Bool]), [True])
    assert order.index("a[0].b") < order.index("a[0]") < order.index("a") < order.index("")
    assert VAL["a"][1]["b"] is UNKNOWN  # input untouched


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_values)
def test_conform_idempotent_and_reflexive(tv: tuple[CtyType, Any]) -> None:
    ty, value = tv
    once = conform(value, ty)
    assert conform(once, ty) == once
    assert values_equal(once, value, ty)
    assert values_equal(once, once, ty)
    assert transform(once, ty, lambda p, v, t: v) == once
    count = [0]
    walk(once, ty, lambda p, v, t: count.__setitem__(0, count[0] + 1))
    assert count[0] >= 1


def test_copies_of_unknown_are_the_same_object() -> None:
    """A plan copied to null its write-only values keeps ``UNKNOWN`` as ``UNKNOWN``."""
    import copy

    from tfnimble.plugin.cty.values import UNKNOWN, Unknown

    refined = Unknown(not_null=True)
    value = {"a": UNKNOWN, "b": [refined]}
    for c in (copy.copy(value), copy.deepcopy(value)):
        assert c["a"] is UNKNOWN and c["b"][0] is refined
