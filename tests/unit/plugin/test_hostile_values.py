"""Hostile values at the plugin layer: numbers too big to convert, infinities, and
diagnostics that would make Terraform print a secret."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from tfnimble.plugin import (
    Attribute,
    AttributePath,
    Context,
    DiagnosticError,
    NestedAttributes,
    NestedBlock,
    Provider,
    Resource,
    Schema,
    types,
)
from tfnimble.plugin.cty.msgpack import parse_number
from tfnimble.plugin.cty.numbers import is_finite_number, is_whole_number
from tfnimble.plugin.engine import Engine
from tfnimble.plugin.schema import Block
from tfnimble.plugin.validators import int_between

HUGE = ["1e999999", "-1e999999", "1e99999999", "9" * 9999, "1e4000"]
PATH = AttributePath.root().attr("n")


@pytest.mark.parametrize("text", HUGE)
def test_int_between_refuses_huge_numbers_without_converting(text: str) -> None:
    value = parse_number(text)
    started = time.process_time()
    diags = int_between(1, 64)(value, PATH)
    # int(Decimal("1e999999")) takes most of a minute; a comparison takes microseconds.
    # CPU time of this thread, so a loaded machine cannot make it fail.
    assert time.process_time() - started < 1.0
    assert len(diags) == 1 and diags[0].path == PATH
    assert "whole number at least 1 and at most 64" in diags[0].detail
    assert len(diags[0].detail) < 200, "the number is shown shortened"


@pytest.mark.parametrize("value", [math.inf, -math.inf, Decimal("Infinity"), Decimal("-Infinity")])
def test_int_between_refuses_infinity(value: Any) -> None:
    for rule in (int_between(1, 64), int_between(), int_between(low=0)):
        diags = rule(value, PATH)
        assert len(diags) == 1 and diags[0].path == PATH


def test_int_between_without_bounds_decides_wholeness_without_int() -> None:
    started = time.process_time()
    assert int_between()(Decimal("1e999999"), PATH) == []
    assert int_between()(Decimal("1.5"), PATH) != []
    assert time.process_time() - started < 1.0


@pytest.mark.parametrize(
    ("value", "whole", "finite"),
    [
        (3, True, True),
        (3.0, True, True),
        (3.5, False, True),
        (math.inf, False, False),
        (Decimal("1e999999"), True, True),
        (Decimal("1.000"), True, True),
        (Decimal("1.001"), False, True),
        (Decimal("Infinity"), False, False),
        (True, False, False),
        ("3", False, False),
    ],
)
def test_number_predicates(value: Any, whole: bool, finite: bool) -> None:
    assert is_whole_number(value) is whole
    assert is_finite_number(value) is finite


# --- the engine: infinity refused for any number attribute; rule 8 ---------------------------


@dataclass
class PM:
    port: Any = None
    password: Any = None
    host: Any = None


class P(Provider):
    TYPE_NAME = "p"
    Model = PM

    def schema(self) -> Schema:
        return Schema(
            attributes={
                "port": Attribute(type=types.Number, optional=True),
                "password": Attribute(type=types.String, optional=True, sensitive=True),
                "host": Attribute(type=types.String, optional=True),
            }
        )

    def validate_config(self, ctx: Context, config: PM) -> None:
        ctx.diagnostics.add_error("Bad", "validate", AttributePath.root().attr("password"))
        ctx.diagnostics.add_warning("Note", "host", AttributePath.root().attr("host"))

    def configure(self, ctx: Context, config: PM) -> Any:
        raise DiagnosticError("Login Failed", "wrong", AttributePath.root().attr("password"))

    def resources(self) -> list[type[Resource]]:
        return [R]


@dataclass
class RM:
    id: Any = None
    token: Any = None
    creds: Any = None
    nested: Any = None


class R(Resource):
    TYPE_NAME = "r"
    Model = RM

    def schema(self) -> Schema:
        inner = Block(attributes={"key": Attribute(type=types.String, optional=True)})
        secret_inner = Block(
            attributes={
                "secret": Attribute(type=types.String, optional=True, sensitive=True),
                "plain": Attribute(type=types.String, optional=True),
            }
        )
        return Schema(
            attributes={
                "id": Attribute(type=types.String, computed=True),
                "token": Attribute(type=types.String, optional=True, sensitive=True),
                "creds": Attribute(
                    optional=True,
                    nested=NestedAttributes(
                        {"pw": Attribute(type=types.String, optional=True, sensitive=True)}
                    ),
                ),
            },
            blocks={"nested": NestedBlock(secret_inner), "plain_block": NestedBlock(inner)},
        )

    def validate_config(self, ctx: Context, config: RM) -> None:
        root = AttributePath.root()
        for path in (
            root.attr("token"),
            root.attr("creds").attr("pw"),
            root.attr("nested").index(0).attr("secret"),
            root.attr("nested").index(0).attr("plain"),
            root.attr("id"),
        ):
            ctx.diagnostics.add_error("Bad", str(path), path)

    def read(self, ctx: Context, state: RM) -> RM:
        raise DiagnosticError("Read Failed", "token", AttributePath.root().attr("token"))


@pytest.fixture
def engine() -> Engine:
    return Engine(P())


def test_infinite_number_attribute_is_refused_at_validate(engine: Engine) -> None:
    for value in (math.inf, -math.inf):
        diags = engine.validate_provider_config({"port": value, "password": None, "host": None})
        found = [d for d in diags if d.path == AttributePath.root().attr("port")]
        assert found and "finite number" in found[0].detail


def test_no_diagnostic_points_at_a_sensitive_provider_attribute(engine: Engine) -> None:
    diags = list(engine.validate_provider_config({"port": 1, "password": "pw", "host": "h"}))
    bad = [d for d in diags if d.summary == "Bad"]
    assert bad and bad[0].path is None, "re-attached to the provider block"
    note = [d for d in diags if d.summary == "Note"]
    assert note[0].path == AttributePath.root().attr("host"), "others keep their path"
    conf = list(engine.configure_provider({"port": 1, "password": "pw", "host": "h"}))
    assert [(d.summary, d.path) for d in conf] == [("Login Failed", None)]


def test_no_diagnostic_points_inside_a_sensitive_resource_attribute(engine: Engine) -> None:
    config = {"id": None, "token": "t", "creds": None, "nested": [], "plain_block": []}
    diags = list(engine.validate_resource_config("p_r", config))
    kept = {d.detail: d.path for d in diags}
    assert kept["token"] is None
    assert kept["creds.pw"] is None
    assert kept["nested[0].secret"] is None
    assert kept["nested[0].plain"] == AttributePath.root().attr("nested").index(0).attr("plain")
    assert kept["id"] == AttributePath.root().attr("id")
    state = {"id": "x", "token": "t", "creds": None, "nested": [], "plain_block": []}
    read = engine.read_resource("p_r", state, None)
    assert [(d.summary, d.path) for d in read.diagnostics] == [("Read Failed", None)]


def test_block_is_sensitive_path() -> None:
    block = R().schema().block
    root = AttributePath.root()
    assert block.is_sensitive_path(root.attr("token"))
    assert block.is_sensitive_path(root.attr("creds").attr("pw"))
    assert block.is_sensitive_path(root.attr("nested").index(3).attr("secret"))
    assert not block.is_sensitive_path(root.attr("nested").index(3).attr("plain"))
    assert not block.is_sensitive_path(root.attr("plain_block").index(0).attr("key"))
    assert not block.is_sensitive_path(root.attr("unknown"))
    assert not block.is_sensitive_path(root)
