"""The gRPC servicer in process: each RPC decodes, calls the engine and encodes.

A fake stream stands in for grpclib's, so these tests see the exact protobuf replies,
including what the server answers when Terraform's request cannot be decoded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
from _fake_stream import FakeStream
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from tfnimble.plugin import (
    UNKNOWN,
    Attribute,
    Context,
    DataSource,
    DiagnosticError,
    Provider,
    Resource,
    Schema,
    Value,
    _proto,
    requires_replace,
    types,
)
from tfnimble.plugin._gen import tfplugin6_pb2 as pb
from tfnimble.plugin.cty import msgpack as cty_msgpack
from tfnimble.plugin.engine import Engine
from tfnimble.plugin.server import ProviderService


@dataclass
class ThingModel:
    id: Value[str] = None
    name: Value[str] = None


class Thing(Resource):
    TYPE_NAME = "thing"
    Model = ThingModel

    def schema(self) -> Schema:
        return Schema(
            attributes={
                "id": Attribute(type=types.String, computed=True, description="ID."),
                "name": Attribute(
                    type=types.String,
                    required=True,
                    plan_modifiers=(requires_replace(),),
                    description="Name.",
                ),
            }
        )

    def create(self, ctx: Context, plan: ThingModel) -> ThingModel:
        ctx.private["made"] = True
        return ThingModel(id="t-1", name=plan.name)

    def read(self, ctx: Context, state: ThingModel) -> ThingModel | None:
        return None if state.id == "gone" else state

    def delete(self, ctx: Context, state: ThingModel) -> None:
        pass

    def import_state(self, ctx: Context, import_id: str) -> ThingModel:
        return ThingModel(id=import_id, name="imported")


@dataclass
class LookupModel:
    name: Value[str] = None
    id: Value[str] = None


class Lookup(DataSource):
    TYPE_NAME = "lookup"
    Model = LookupModel

    def schema(self) -> Schema:
        return Schema(
            attributes={
                "name": Attribute(type=types.String, required=True, description="Name."),
                "id": Attribute(type=types.String, computed=True, description="ID."),
            }
        )

    def read(self, ctx: Context, config: LookupModel) -> LookupModel:
        if config.name == "missing":
            raise DiagnosticError("Lookup Failed", "no such thing")
        return LookupModel(name=config.name, id=f"id-{config.name}")


@dataclass
class ExampleModel:
    endpoint: Value[str] = None


class Example(Provider):
    TYPE_NAME = "ex"
    ADDRESS = "registry.terraform.io/ito/ex"
    Model = ExampleModel

    def schema(self) -> Schema:
        return Schema(
            attributes={"endpoint": Attribute(type=types.String, optional=True, description="E.")}
        )

    def configure(self, ctx: Context, config: ExampleModel) -> str:
        return config.endpoint or "default"

    def resources(self) -> list[type[Resource]]:
        return [Thing]

    def data_sources(self) -> list[type[DataSource]]:
        return [Lookup]


THING = types.Object({"id": types.String, "name": types.String})
CONFIG = types.Object({"endpoint": types.String})


def call(rpc: Callable[[FakeStream], Awaitable[None]], request: object) -> object:
    stream = FakeStream(request)
    asyncio.run(rpc(stream))
    (reply,) = stream.sent
    return reply


def dv(value: object, ty: types.CtyType) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=cty_msgpack.encode(value, ty))


def undv(value: pb.DynamicValue, ty: types.CtyType) -> object:
    return cty_msgpack.decode(value.msgpack, ty)


BAD = pb.DynamicValue(msgpack=b"\xc1")  # 0xc1 is never valid msgpack


@pytest.fixture
def service() -> Iterator[ProviderService]:
    svc = ProviderService(Engine(Example()), max_workers=2)
    yield svc
    svc.shutdown()


def summaries(reply: object) -> list[str]:
    return [d.summary for d in reply.diagnostics]  # type: ignore[attr-defined]


def test_get_metadata_lists_types_and_capabilities(service: ProviderService) -> None:
    reply = call(service.GetMetadata, pb.GetMetadata.Request())
    assert isinstance(reply, pb.GetMetadata.Response)
    assert [r.type_name for r in reply.resources] == ["ex_thing"]
    assert [d.type_name for d in reply.data_sources] == ["ex_lookup"]
    assert reply.HasField("server_capabilities")
    assert not reply.server_capabilities.plan_destroy
    assert reply.server_capabilities.get_provider_schema_optional


def test_requests_are_answered_without_the_schema_asked_for_first() -> None:
    """What get_provider_schema_optional promises: a fresh process answers a resource RPC
    although Terraform never called GetProviderSchema on it."""
    ty = Engine(Example()).resource_schema("ex_thing").cty_type()
    config = cty_msgpack.encode({"name": "x"}, ty)
    fresh = ProviderService(Engine(Example()), max_workers=1)
    try:
        req = pb.ValidateResourceConfig.Request(
            type_name="ex_thing", config=pb.DynamicValue(msgpack=config)
        )
        reply = call(fresh.ValidateResourceConfig, req)
    finally:
        fresh.shutdown()
    assert isinstance(reply, pb.ValidateResourceConfig.Response)
    assert summaries(reply) == []
    assert fresh.engine._schema_response is None  # no schema response was built to answer


def test_get_provider_schema_is_built_once(service: ProviderService) -> None:
    first = call(service.GetProviderSchema, pb.GetProviderSchema.Request())
    assert isinstance(first, pb.GetProviderSchema.Response)
    assert set(first.resource_schemas) == {"ex_thing"}
    assert set(first.data_source_schemas) == {"ex_lookup"}
    assert first.provider.block.attributes[0].name == "endpoint"
    assert first.HasField("server_capabilities")
    assert call(service.GetProviderSchema, pb.GetProviderSchema.Request()) == first
    assert service.engine.get_provider_schema() is service.engine.get_provider_schema()


def test_a_schema_bug_is_a_diagnostic_not_a_crash() -> None:
    class Broken(Example):
        def schema(self) -> Schema:
            raise RuntimeError("bad schema")

    svc = ProviderService(Engine(Broken()), max_workers=1)
    try:
        reply = call(svc.GetProviderSchema, pb.GetProviderSchema.Request())
    finally:
        svc.shutdown()
    assert summaries(reply) == ["Provider Bug: Invalid Schema"]
    assert not reply.HasField("server_capabilities")  # type: ignore[attr-defined]


def test_configure_provider_reaches_the_engine(service: ProviderService) -> None:
    req = pb.ConfigureProvider.Request(
        terraform_version="1.9.0", config=dv({"endpoint": "e1"}, CONFIG)
    )
    reply = call(service.ConfigureProvider, req)
    assert isinstance(reply, pb.ConfigureProvider.Response)
    assert summaries(reply) == []
    assert service.engine.provider_data == "e1"


def test_undecodable_config_is_reported_by_every_config_rpc(service: ProviderService) -> None:
    cases = [
        (service.ValidateProviderConfig, pb.ValidateProviderConfig, {}),
        (service.ConfigureProvider, pb.ConfigureProvider, {}),
        (service.ValidateResourceConfig, pb.ValidateResourceConfig, {"type_name": "ex_thing"}),
        (
            service.ValidateDataResourceConfig,
            pb.ValidateDataResourceConfig,
            {"type_name": "ex_lookup"},
        ),
    ]
    for rpc, messages, fields in cases:
        reply = call(rpc, messages.Request(config=BAD, **fields))
        assert isinstance(reply, messages.Response)
        assert summaries(reply) == ["Invalid Value From Terraform"]
        assert "configuration" in reply.diagnostics[0].detail


def test_unknown_type_name_is_a_diagnostic(service: ProviderService) -> None:
    reply = call(
        service.ValidateResourceConfig,
        pb.ValidateResourceConfig.Request(type_name="ex_nope", config=dv({}, THING)),
    )
    assert summaries(reply) == ["Unknown Resource Type"]
    reply = call(
        service.ImportResourceState, pb.ImportResourceState.Request(type_name="ex_nope", id="x")
    )
    assert summaries(reply) == ["Unknown Resource Type"]


def test_plan_marks_computed_unknown_and_names_replace_paths(service: ProviderService) -> None:
    prior = {"id": "t-1", "name": "a"}
    proposed = {"id": "t-1", "name": "b"}
    req = pb.PlanResourceChange.Request(
        type_name="ex_thing",
        prior_state=dv(prior, THING),
        proposed_new_state=dv(proposed, THING),
        config=dv({"id": None, "name": "b"}, THING),
        prior_private=b'{"k": 1}',
    )
    reply = call(service.PlanResourceChange, req)
    assert isinstance(reply, pb.PlanResourceChange.Response)
    assert summaries(reply) == []
    planned = undv(reply.planned_state, THING)
    assert planned["name"] == "b" and repr(planned["id"]) == "UNKNOWN"  # type: ignore[index]
    assert [[s.attribute_name for s in p.steps] for p in reply.requires_replace] == [["name"]]
    assert json.loads(reply.planned_private) == {"k": 1}


def test_a_plan_without_change_decodes_its_prior_state_once(
    service: ProviderService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Terraform proposes the prior state byte for byte when nothing changes."""
    decoded: list[bytes] = []
    real = _proto.decode_dynamic

    def counting(value: pb.DynamicValue, ty: types.CtyType) -> object:
        decoded.append(value.msgpack)
        return real(value, ty)

    monkeypatch.setattr(_proto, "decode_dynamic", counting)
    state = dv({"id": "t-1", "name": "a"}, THING)
    req = pb.PlanResourceChange.Request(
        type_name="ex_thing",
        prior_state=state,
        proposed_new_state=state,
        config=dv({"id": None, "name": "a"}, THING),
    )
    reply = call(service.PlanResourceChange, req)
    assert summaries(reply) == [] and not reply.requires_replace  # type: ignore[attr-defined]
    assert reply.planned_state == state  # type: ignore[attr-defined]
    assert decoded == [state.msgpack, req.config.msgpack]


def test_plan_with_undecodable_state_answers_diagnostics_only(service: ProviderService) -> None:
    req = pb.PlanResourceChange.Request(type_name="ex_thing", prior_state=BAD)
    reply = call(service.PlanResourceChange, req)
    assert summaries(reply) == ["Invalid Value From Terraform"]
    assert "plan" in reply.diagnostics[0].detail  # type: ignore[attr-defined]
    assert not reply.HasField("planned_state")  # type: ignore[attr-defined]


def test_apply_create_returns_state_and_private(service: ProviderService) -> None:
    planned = {"id": None, "name": "a"}
    req = pb.ApplyResourceChange.Request(
        type_name="ex_thing",
        planned_state=dv({"id": UNKNOWN, "name": "a"}, THING),
        config=dv(planned, THING),
    )
    reply = call(service.ApplyResourceChange, req)
    assert summaries(reply) == []
    assert undv(reply.new_state, THING) == {"id": "t-1", "name": "a"}  # type: ignore[attr-defined]
    assert json.loads(reply.private) == {"made": True}  # type: ignore[attr-defined]


def test_apply_with_undecodable_plan_echoes_prior_state(service: ProviderService) -> None:
    prior = dv({"id": "t-1", "name": "a"}, THING)
    req = pb.ApplyResourceChange.Request(type_name="ex_thing", prior_state=prior, planned_state=BAD)
    reply = call(service.ApplyResourceChange, req)
    assert summaries(reply) == ["Invalid Value From Terraform"]
    assert "planned change" in reply.diagnostics[0].detail  # type: ignore[attr-defined]
    assert reply.new_state == prior  # type: ignore[attr-defined]


def test_read_resource_gone_returns_null_state(service: ProviderService) -> None:
    req = pb.ReadResource.Request(
        type_name="ex_thing", current_state=dv({"id": "gone", "name": "a"}, THING)
    )
    reply = call(service.ReadResource, req)
    assert summaries(reply) == []
    assert undv(reply.new_state, THING) is None  # type: ignore[attr-defined]


def test_read_resource_with_undecodable_state_echoes_it(service: ProviderService) -> None:
    req = pb.ReadResource.Request(type_name="ex_thing", current_state=BAD, private=b"p")
    reply = call(service.ReadResource, req)
    assert summaries(reply) == ["Invalid Value From Terraform"]
    assert "state" in reply.diagnostics[0].detail  # type: ignore[attr-defined]
    assert reply.new_state == BAD and reply.private == b"p"  # type: ignore[attr-defined]


def test_import_returns_one_resource(service: ProviderService) -> None:
    reply = call(
        service.ImportResourceState, pb.ImportResourceState.Request(type_name="ex_thing", id="t-9")
    )
    assert summaries(reply) == []
    (imported,) = reply.imported_resources  # type: ignore[attr-defined]
    assert imported.type_name == "ex_thing"
    assert undv(imported.state, THING) == {"id": "t-9", "name": "imported"}


def test_read_data_source_sets_state_only_without_errors(service: ProviderService) -> None:
    lookup = types.Object({"id": types.String, "name": types.String})
    ok = call(
        service.ReadDataSource,
        pb.ReadDataSource.Request(
            type_name="ex_lookup", config=dv({"name": "a", "id": None}, lookup)
        ),
    )
    assert undv(ok.state, lookup) == {"name": "a", "id": "id-a"}  # type: ignore[attr-defined]
    failed = call(
        service.ReadDataSource,
        pb.ReadDataSource.Request(
            type_name="ex_lookup", config=dv({"name": "missing", "id": None}, lookup)
        ),
    )
    assert summaries(failed) == ["Lookup Failed"]
    assert not failed.HasField("state")  # type: ignore[attr-defined]
    bad = call(service.ReadDataSource, pb.ReadDataSource.Request(type_name="ex_lookup", config=BAD))
    assert summaries(bad) == ["Invalid Value From Terraform"]
    assert "configuration" in bad.diagnostics[0].detail  # type: ignore[attr-defined]


def test_upgrade_resource_state_reads_json(service: ProviderService) -> None:
    raw = pb.RawState(json=json.dumps({"id": "t-1", "name": "a", "old": 1}).encode())
    reply = call(
        service.UpgradeResourceState,
        pb.UpgradeResourceState.Request(type_name="ex_thing", version=0, raw_state=raw),
    )
    assert summaries(reply) == []
    assert undv(reply.upgraded_state, THING) == {"id": "t-1", "name": "a"}  # type: ignore[attr-defined]


def test_upgrade_resource_state_refuses_flatmap_and_reads_empty_as_null(
    service: ProviderService,
) -> None:
    flat = pb.RawState(flatmap={"id": "t-1"})
    reply = call(
        service.UpgradeResourceState,
        pb.UpgradeResourceState.Request(type_name="ex_thing", version=0, raw_state=flat),
    )
    assert summaries(reply) == ["Unsupported State Format"]
    assert not reply.HasField("upgraded_state")  # type: ignore[attr-defined]
    empty = call(
        service.UpgradeResourceState,
        pb.UpgradeResourceState.Request(type_name="ex_thing", version=0),
    )
    assert summaries(empty) == []
    assert undv(empty.upgraded_state, THING) is None  # type: ignore[attr-defined]
    bad = call(
        service.UpgradeResourceState,
        pb.UpgradeResourceState.Request(type_name="ex_nope", version=0),
    )
    assert summaries(bad) == ["Unknown Resource Type"]


def test_functions_none_defined(service: ProviderService) -> None:
    assert call(service.GetFunctions, pb.GetFunctions.Request()) == pb.GetFunctions.Response()
    reply = call(service.CallFunction, pb.CallFunction.Request(name="f"))
    # The released protocol answers with a FunctionError (the 6.5 draft had diagnostics).
    assert reply.error.text.startswith("Function Not Found: ")  # type: ignore[attr-defined]
    assert "'f'" in reply.error.text  # type: ignore[attr-defined]
    assert not reply.HasField("result")


def test_stop_provider_sets_the_stop_event(service: ProviderService) -> None:
    reply = call(service.StopProvider, pb.StopProvider.Request())
    assert reply == pb.StopProvider.Response()
    assert service.engine.stop_event.is_set()


def test_a_missing_request_message_is_invalid_argument(service: ProviderService) -> None:
    with pytest.raises(GRPCError) as info:
        call(service.ReadResource, None)
    assert info.value.status is Status.INVALID_ARGUMENT


def test_every_rpc_is_mapped_as_unary() -> None:
    svc = ProviderService(Engine(Example()), max_workers=1)
    try:
        mapping = svc.__mapping__()
    finally:
        svc.shutdown()
    names = {path.rsplit("/", 1)[1] for path in mapping}
    assert names == {
        "GetMetadata",
        "GetProviderSchema",
        "ValidateProviderConfig",
        "ValidateResourceConfig",
        "ValidateDataResourceConfig",
        "UpgradeResourceState",
        "ConfigureProvider",
        "ReadResource",
        "PlanResourceChange",
        "ApplyResourceChange",
        "ImportResourceState",
        "ReadDataSource",
        "GetFunctions",
        "CallFunction",
        "StopProvider",
    }
    assert all(path.startswith("/tfplugin6.Provider/") for path in mapping)
    assert mapping["/tfplugin6.Provider/ReadResource"].request_type is pb.ReadResource.Request
