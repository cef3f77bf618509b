"""The tfplugin6 wire: every field of every message this provider serves, pinned.

Our messages come from proto/tfplugin6.proto (protocol 6.8). A field number or type
that drifts from the released protocol makes Terraform misread a message without any
error, so:

* WIRE pins, field by field, what Terraform 1.11's tfplugin6.8.proto says (number and
  type) for every message reachable from the RPCs we serve; a message we start serving
  must be added to it.
* the enums and the service's method paths are pinned the same way;
* the PyPI package `tfplugin-proto-all` (an independent compilation of the protocol, up
  to a 6.5 draft) must agree on every field both define, except the two places where the
  draft is known to differ from the released protocol.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _wire_table import describe, reachable
from tfnimble.plugin import _proto
from tfnimble.plugin._gen import tfplugin6_pb2 as pb

HERE = Path(__file__).resolve().parent

# fmt: off
WIRE: dict[str, dict[str, tuple[int, str]]] = {
    "ApplyResourceChange.Request": {
        "type_name": (1, "string"),
        "prior_state": (2, "tfplugin6.DynamicValue"),
        "planned_state": (3, "tfplugin6.DynamicValue"),
        "config": (4, "tfplugin6.DynamicValue"),
        "planned_private": (5, "bytes"),
        "provider_meta": (6, "tfplugin6.DynamicValue"),
    },
    "ApplyResourceChange.Response": {
        "new_state": (1, "tfplugin6.DynamicValue"),
        "private": (2, "bytes"),
        "diagnostics": (3, "repeated tfplugin6.Diagnostic"),
        "legacy_type_system": (4, "bool"),
    },
    "AttributePath": {
        "steps": (1, "repeated tfplugin6.AttributePath.Step"),
    },
    "AttributePath.Step": {
        "attribute_name": (1, "string"),
        "element_key_string": (2, "string"),
        "element_key_int": (3, "int64"),
    },
    "CallFunction.Request": {
        "name": (1, "string"),
        "arguments": (2, "repeated tfplugin6.DynamicValue"),
    },
    "CallFunction.Response": {
        "result": (1, "tfplugin6.DynamicValue"),
        "error": (2, "tfplugin6.FunctionError"),
    },
    "ClientCapabilities": {
        "deferral_allowed": (1, "bool"),
        "write_only_attributes_allowed": (2, "bool"),
    },
    "ConfigureProvider.Request": {
        "terraform_version": (1, "string"),
        "config": (2, "tfplugin6.DynamicValue"),
        "client_capabilities": (3, "tfplugin6.ClientCapabilities"),
    },
    "ConfigureProvider.Response": {
        "diagnostics": (1, "repeated tfplugin6.Diagnostic"),
    },
    "Deferred": {
        "reason": (1, "tfplugin6.Deferred.Reason"),
    },
    "Diagnostic": {
        "severity": (1, "tfplugin6.Diagnostic.Severity"),
        "summary": (2, "string"),
        "detail": (3, "string"),
        "attribute": (4, "tfplugin6.AttributePath"),
    },
    "DynamicValue": {
        "msgpack": (1, "bytes"),
        "json": (2, "bytes"),
    },
    "Function": {
        "parameters": (1, "repeated tfplugin6.Function.Parameter"),
        "variadic_parameter": (2, "tfplugin6.Function.Parameter"),
        "return": (3, "tfplugin6.Function.Return"),
        "summary": (4, "string"),
        "description": (5, "string"),
        "description_kind": (6, "tfplugin6.StringKind"),
        "deprecation_message": (7, "string"),
    },
    "Function.Parameter": {
        "name": (1, "string"),
        "type": (2, "bytes"),
        "allow_null_value": (3, "bool"),
        "allow_unknown_values": (4, "bool"),
        "description": (5, "string"),
        "description_kind": (6, "tfplugin6.StringKind"),
    },
    "Function.Return": {
        "type": (1, "bytes"),
    },
    "FunctionError": {
        "text": (1, "string"),
        "function_argument": (2, "optional int64"),
    },
    "GetFunctions.Request": {},
    "GetFunctions.Response": {
        "functions": (1, "map<string, tfplugin6.Function>"),
        "diagnostics": (2, "repeated tfplugin6.Diagnostic"),
    },
    "GetMetadata.DataSourceMetadata": {
        "type_name": (1, "string"),
    },
    "GetMetadata.EphemeralMetadata": {
        "type_name": (1, "string"),
    },
    "GetMetadata.FunctionMetadata": {
        "name": (1, "string"),
    },
    "GetMetadata.Request": {},
    "GetMetadata.ResourceMetadata": {
        "type_name": (1, "string"),
    },
    "GetMetadata.Response": {
        "server_capabilities": (1, "tfplugin6.ServerCapabilities"),
        "diagnostics": (2, "repeated tfplugin6.Diagnostic"),
        "data_sources": (3, "repeated tfplugin6.GetMetadata.DataSourceMetadata"),
        "resources": (4, "repeated tfplugin6.GetMetadata.ResourceMetadata"),
        "functions": (5, "repeated tfplugin6.GetMetadata.FunctionMetadata"),
        "ephemeral_resources": (6, "repeated tfplugin6.GetMetadata.EphemeralMetadata"),
    },
    "GetProviderSchema.Request": {},
    "GetProviderSchema.Response": {
        "provider": (1, "tfplugin6.Schema"),
        "resource_schemas": (2, "map<string, tfplugin6.Schema>"),
        "data_source_schemas": (3, "map<string, tfplugin6.Schema>"),
        "diagnostics": (4, "repeated tfplugin6.Diagnostic"),
        "provider_meta": (5, "tfplugin6.Schema"),
        "server_capabilities": (6, "tfplugin6.ServerCapabilities"),
        "functions": (7, "map<string, tfplugin6.Function>"),
        "ephemeral_resource_schemas": (8, "map<string, tfplugin6.Schema>"),
    },
    "ImportResourceState.ImportedResource": {
        "type_name": (1, "string"),
        "state": (2, "tfplugin6.DynamicValue"),
        "private": (3, "bytes"),
    },
    "ImportResourceState.Request": {
        "type_name": (1, "string"),
        "id": (2, "string"),
        "client_capabilities": (3, "tfplugin6.ClientCapabilities"),
    },
    "ImportResourceState.Response": {
        "imported_resources": (1, "repeated tfplugin6.ImportResourceState.ImportedResource"),
        "diagnostics": (2, "repeated tfplugin6.Diagnostic"),
        "deferred": (3, "tfplugin6.Deferred"),
    },
    "PlanResourceChange.Request": {
        "type_name": (1, "string"),
        "prior_state": (2, "tfplugin6.DynamicValue"),
        "proposed_new_state": (3, "tfplugin6.DynamicValue"),
        "config": (4, "tfplugin6.DynamicValue"),
        "prior_private": (5, "bytes"),
        "provider_meta": (6, "tfplugin6.DynamicValue"),
        "client_capabilities": (7, "tfplugin6.ClientCapabilities"),
    },
    "PlanResourceChange.Response": {
        "planned_state": (1, "tfplugin6.DynamicValue"),
        "requires_replace": (2, "repeated tfplugin6.AttributePath"),
        "planned_private": (3, "bytes"),
        "diagnostics": (4, "repeated tfplugin6.Diagnostic"),
        "legacy_type_system": (5, "bool"),
        "deferred": (6, "tfplugin6.Deferred"),
    },
    "RawState": {
        "json": (1, "bytes"),
        "flatmap": (2, "map<string, string>"),
    },
    "ReadDataSource.Request": {
        "type_name": (1, "string"),
        "config": (2, "tfplugin6.DynamicValue"),
        "provider_meta": (3, "tfplugin6.DynamicValue"),
        "client_capabilities": (4, "tfplugin6.ClientCapabilities"),
    },
    "ReadDataSource.Response": {
        "state": (1, "tfplugin6.DynamicValue"),
        "diagnostics": (2, "repeated tfplugin6.Diagnostic"),
        "deferred": (3, "tfplugin6.Deferred"),
    },
    "ReadResource.Request": {
        "type_name": (1, "string"),
        "current_state": (2, "tfplugin6.DynamicValue"),
        "private": (3, "bytes"),
        "provider_meta": (4, "tfplugin6.DynamicValue"),
        "client_capabilities": (5, "tfplugin6.ClientCapabilities"),
    },
    "ReadResource.Response": {
        "new_state": (1, "tfplugin6.DynamicValue"),
        "diagnostics": (2, "repeated tfplugin6.Diagnostic"),
        "private": (3, "bytes"),
        "deferred": (4, "tfplugin6.Deferred"),
    },
    "Schema": {
        "version": (1, "int64"),
        "block": (2, "tfplugin6.Schema.Block"),
    },
    "Schema.Attribute": {
        "name": (1, "string"),
        "type": (2, "bytes"),
        "description": (3, "string"),
        "required": (4, "bool"),
        "optional": (5, "bool"),
        "computed": (6, "bool"),
        "sensitive": (7, "bool"),
        "description_kind": (8, "tfplugin6.StringKind"),
        "deprecated": (9, "bool"),
        "nested_type": (10, "tfplugin6.Schema.Object"),
        "write_only": (11, "bool"),
    },
    "Schema.Block": {
        "version": (1, "int64"),
        "attributes": (2, "repeated tfplugin6.Schema.Attribute"),
        "block_types": (3, "repeated tfplugin6.Schema.NestedBlock"),
        "description": (4, "string"),
        "description_kind": (5, "tfplugin6.StringKind"),
        "deprecated": (6, "bool"),
    },
    "Schema.NestedBlock": {
        "type_name": (1, "string"),
        "block": (2, "tfplugin6.Schema.Block"),
        "nesting": (3, "tfplugin6.Schema.NestedBlock.NestingMode"),
        "min_items": (4, "int64"),
        "max_items": (5, "int64"),
    },
    "Schema.Object": {
        "attributes": (1, "repeated tfplugin6.Schema.Attribute"),
        "nesting": (3, "tfplugin6.Schema.Object.NestingMode"),
        "min_items": (4, "int64"),
        "max_items": (5, "int64"),
    },
    "ServerCapabilities": {
        "plan_destroy": (1, "bool"),
        "get_provider_schema_optional": (2, "bool"),
        "move_resource_state": (3, "bool"),
    },
    "StopProvider.Request": {},
    "StopProvider.Response": {
        "Error": (1, "string"),
    },
    "UpgradeResourceState.Request": {
        "type_name": (1, "string"),
        "version": (2, "int64"),
        "raw_state": (3, "tfplugin6.RawState"),
    },
    "UpgradeResourceState.Response": {
        "upgraded_state": (1, "tfplugin6.DynamicValue"),
        "diagnostics": (2, "repeated tfplugin6.Diagnostic"),
    },
    "ValidateDataResourceConfig.Request": {
        "type_name": (1, "string"),
        "config": (2, "tfplugin6.DynamicValue"),
    },
    "ValidateDataResourceConfig.Response": {
        "diagnostics": (1, "repeated tfplugin6.Diagnostic"),
    },
    "ValidateProviderConfig.Request": {
        "config": (1, "tfplugin6.DynamicValue"),
    },
    "ValidateProviderConfig.Response": {
        "diagnostics": (2, "repeated tfplugin6.Diagnostic"),
    },
    "ValidateResourceConfig.Request": {
        "type_name": (1, "string"),
        "config": (2, "tfplugin6.DynamicValue"),
        "client_capabilities": (3, "tfplugin6.ClientCapabilities"),
    },
    "ValidateResourceConfig.Response": {
        "diagnostics": (1, "repeated tfplugin6.Diagnostic"),
    },
}
# fmt: on

ENUMS = {
    "StringKind": {"PLAIN": 0, "MARKDOWN": 1},
    "Diagnostic.Severity": {"INVALID": 0, "ERROR": 1, "WARNING": 2},
    "Schema.NestedBlock.NestingMode": {
        "INVALID": 0, "SINGLE": 1, "LIST": 2, "SET": 3, "MAP": 4, "GROUP": 5,
    },
    "Schema.Object.NestingMode": {"INVALID": 0, "SINGLE": 1, "LIST": 2, "SET": 3, "MAP": 4},
    "Deferred.Reason": {
        "UNKNOWN": 0, "RESOURCE_CONFIG_UNKNOWN": 1, "PROVIDER_CONFIG_UNKNOWN": 2,
        "ABSENT_PREREQ": 3,
    },
}  # fmt: skip

#: Where the 6.5 draft in tfplugin-proto-all differs from the released protocol (the reason
#: for proto/tfplugin6.proto): CallFunction answered with diagnostics, not a FunctionError.
DRAFT_DIFFERS = {("CallFunction.Response", "diagnostics"), ("CallFunction.Response", "error")}


def served() -> dict[str, dict[str, tuple[int, str]]]:
    roots = [r.request_type.DESCRIPTOR for r in _proto.RPCS]
    roots += [r.response_type.DESCRIPTOR for r in _proto.RPCS]
    return describe(reachable(roots))


def test_every_message_we_serve_is_pinned() -> None:
    table = served()
    assert sorted(table) == sorted(WIRE), "a served message is missing from WIRE (or gone)"


@pytest.mark.parametrize("message", sorted(WIRE))
def test_field_numbers_and_types(message: str) -> None:
    assert served()[message] == WIRE[message]


def test_write_only_and_client_capabilities_are_protocol_6_8() -> None:
    attr = pb.Schema.Attribute.DESCRIPTOR.fields_by_name["write_only"]
    assert (attr.number, attr.type) == (11, attr.TYPE_BOOL)
    caps = pb.ClientCapabilities.DESCRIPTOR.fields_by_name["write_only_attributes_allowed"]
    assert caps.number == 2
    for message in ("ValidateResourceConfig", "ConfigureProvider", "ReadResource"):
        request = getattr(pb, message).Request.DESCRIPTOR
        assert request.fields_by_name["client_capabilities"].message_type.name == (
            "ClientCapabilities"
        )


def test_enum_values() -> None:
    for name, values in ENUMS.items():
        outer, _, enum_name = name.rpartition(".")
        holder = pb.DESCRIPTOR
        enum = (
            holder.enum_types_by_name[enum_name]
            if not outer
            else _message(outer).enum_types_by_name[enum_name]
        )
        assert {v.name: v.number for v in enum.values} == values, name


def _message(dotted: str):  # type: ignore[no-untyped-def]
    parts = dotted.split(".")
    d = pb.DESCRIPTOR.message_types_by_name[parts[0]]
    for part in parts[1:]:
        d = d.nested_types_by_name[part]
    return d


def test_service_methods_and_their_messages() -> None:
    service = pb.DESCRIPTOR.services_by_name["Provider"]
    assert service.full_name == "tfplugin6.Provider"
    methods = {m.name: (m.input_type.full_name, m.output_type.full_name) for m in service.methods}
    for rpc in _proto.RPCS:
        name = rpc.name
        assert methods[name] == (f"tfplugin6.{name}.Request", f"tfplugin6.{name}.Response")
        assert rpc.request_type.DESCRIPTOR.full_name == f"tfplugin6.{name}.Request"
    # 6.8's RPCs, served or not: ephemeral resources (6.7) and MoveResourceState (6.6).
    assert {
        "MoveResourceState",
        "ValidateEphemeralResourceConfig",
        "OpenEphemeralResource",
        "RenewEphemeralResource",
        "CloseEphemeralResource",
    } <= set(methods)


def test_agrees_with_the_independent_tfplugin_proto_package() -> None:
    """The package's 6.5 draft, described in a child process (it registers the same
    protobuf package), agrees on every field number and type both define."""
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    out = subprocess.run(
        [sys.executable, str(HERE / "_wire_table.py"), "tfplugin_proto.tfplugin6_5_pb2"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    reference = {
        m: {f: tuple(v) for f, v in fields.items()} for m, fields in json.loads(out).items()
    }
    ours = served()
    compared = 0
    for message, fields in ours.items():
        for field, wire in fields.items():
            if (message, field) in DRAFT_DIFFERS or field not in reference.get(message, {}):
                continue
            assert reference[message][field] == wire, f"{message}.{field}"
            compared += 1
    # The draft really differs where we say, and the comparison covered the protocol.
    assert "diagnostics" in reference["CallFunction.Response"]
    assert "error" in ours["CallFunction.Response"]
    assert compared >= 130  # 132 fields today: every field of 6.5 that we serve
