"""Log format and redaction; schema to protobuf; durations."""

from __future__ import annotations

import json
import logging

import pytest
from tfnimble.plugin import Attribute, Schema, parse_duration, timeouts_block, types
from tfnimble.plugin import logging as plog
from tfnimble.plugin._gen import tfplugin6_pb2 as pb
from tfnimble.plugin._proto import schema_to_proto
from tfnimble.plugin.cty.types import type_from_json_bytes
from tfnimble.plugin.resource import format_duration


def test_log_lines_are_hclog_json_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    plog.setup("provider.test")
    plog.redact("p4ssw0rd-xyz")
    logging.getLogger("tfnimble.x").info("login with p4ssw0rd-xyz failed")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert set(entry) == {"@level", "@message", "@module", "@timestamp"}
    assert entry["@level"] == "info"
    assert "p4ssw0rd-xyz" not in entry["@message"] and "***" in entry["@message"]
    assert entry["@timestamp"].endswith("Z")


def test_schema_to_proto_carries_flags_types_and_blocks() -> None:
    s = Schema(
        description="d",
        version=2,
        attributes={
            "a": Attribute(type=types.List(types.String), required=True, description="x"),
            "b": Attribute(type=types.String, optional=True, sensitive=True, description="y"),
            "c": Attribute(
                type=types.Number, computed=True, deprecation_message="gone", description="z"
            ),
        },
        blocks={"timeouts": timeouts_block("create", "delete")},
    )
    msg = schema_to_proto(s)
    assert msg.version == 2 and msg.block.version == 2
    attrs = {a.name: a for a in msg.block.attributes}
    assert attrs["a"].required and type_from_json_bytes(attrs["a"].type) == types.List(types.String)
    assert attrs["b"].sensitive and attrs["b"].optional
    assert attrs["c"].deprecated and attrs["c"].computed
    assert attrs["a"].description_kind == pb.MARKDOWN
    (nb,) = msg.block.block_types
    assert nb.type_name == "timeouts" and nb.nesting == pb.Schema.NestedBlock.SINGLE
    assert {a.name for a in nb.block.attributes} == {"create", "delete"}


def test_attribute_rules_are_checked() -> None:
    with pytest.raises(ValueError):
        Attribute(type=types.String)
    with pytest.raises(ValueError):
        Attribute(type=types.String, required=True, computed=True)
    with pytest.raises(ValueError):
        Attribute(type=types.String, optional=True, default="x")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("20m", 1200), ("1h30m", 5400), ("1.5h", 5400)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "10", "m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(5400) == "1h30m"
    assert format_duration(45) == "45s"


def test_configure_provider_redacts_sensitive_attributes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dataclasses import dataclass

    from tfnimble.plugin import Provider, Value
    from tfnimble.plugin.engine import Engine

    @dataclass
    class LoginModel:
        username: Value[str] = None
        password: Value[str] = None

    class Login(Provider):
        TYPE_NAME = "login"
        ADDRESS = "registry.terraform.io/ito/login"
        Model = LoginModel

        def schema(self) -> Schema:
            return Schema(
                attributes={
                    "username": Attribute(type=types.String, required=True, description="U."),
                    "password": Attribute(
                        type=types.String, required=True, sensitive=True, description="P."
                    ),
                }
            )

    plog.setup("provider.test")
    engine = Engine(Login())
    config = {"username": "admin-user", "password": "Sw0rdf1sh-redact-me"}
    assert not engine.configure_provider(config).has_error()
    logging.getLogger("tfnimble.x").info("admin-user logs in with Sw0rdf1sh-redact-me")
    entry = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert "Sw0rdf1sh-redact-me" not in entry["@message"]
    assert entry["@message"] == "admin-user logs in with ***"
