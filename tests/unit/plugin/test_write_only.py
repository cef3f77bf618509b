"""Write-only attributes (protocol 6.8): never in plan or state, seen by apply only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from tfnimble.plugin import (
    Attribute,
    Context,
    DataSource,
    NestedAttributes,
    Nesting,
    Provider,
    Resource,
    Schema,
    types,
    use_state_for_unknown,
)
from tfnimble.plugin._gen import tfplugin6_pb2 as pb
from tfnimble.plugin._proto import VALIDATE_RESOURCE_CONFIG, schema_to_proto
from tfnimble.plugin.cty import msgpack as cty_msgpack
from tfnimble.plugin.engine import Engine


@dataclass
class M:
    id: Any = None
    name: Any = None
    secret_wo: Any = None
    secret_wo_version: Any = None
    inner: Any = None


INNER = NestedAttributes(
    {
        "label": Attribute(type=types.String, optional=True),
        "token_wo": Attribute(type=types.String, optional=True, write_only=True),
    },
    Nesting.LIST,
)


class R(Resource):
    TYPE_NAME = "r"
    Model = M
    #: What create and update were given, and what the plan's resource code saw.
    seen: list[tuple[str, Any, Any]] = []

    def schema(self) -> Schema:
        return Schema(
            attributes={
                "id": Attribute(
                    type=types.String, computed=True, plan_modifiers=(use_state_for_unknown(),)
                ),
                "name": Attribute(type=types.String, required=True),
                "secret_wo": Attribute(
                    type=types.String, optional=True, sensitive=True, write_only=True
                ),
                "secret_wo_version": Attribute(type=types.Number, optional=True),
                "inner": Attribute(nested=INNER, optional=True),
            }
        )

    def modify_plan(self, ctx: Context, plan: M, state: M | None, config: M) -> M:
        self.seen.append(("plan", plan.secret_wo, config.secret_wo))
        plan.secret_wo = config.secret_wo  # a careless resource: the engine still drops it
        return plan

    def create(self, ctx: Context, plan: M) -> M:
        self.seen.append(("create", plan.secret_wo, plan.inner))
        return M(**{**plan.__dict__, "id": "id-1"})

    def update(self, ctx: Context, plan: M, state: M) -> M:
        self.seen.append(("update", plan.secret_wo, plan.inner))
        return M(**{**plan.__dict__, "id": state.id})

    def read(self, ctx: Context, state: M) -> M:
        return M(**{**state.__dict__, "secret_wo": "leaked by read"})

    def import_state(self, ctx: Context, import_id: str) -> M:
        return M(id=import_id, name="n", secret_wo="leaked by import")


class P(Provider):
    TYPE_NAME = "t"
    ADDRESS = "registry.terraform.io/ito/t"

    @dataclass
    class Model:
        pass

    def resources(self) -> list[type[Resource]]:
        return [R]


@pytest.fixture
def engine() -> Engine:
    R.seen = []
    return Engine(P())


def obj(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(("id", "name", "secret_wo", "secret_wo_version", "inner"))
    base["name"] = "n"
    return {**base, **kw}


SECRET = "s3cret-value-1"
INNER_CFG = [{"label": "a", "token_wo": "tok-1"}]


def test_schema_flag_reaches_the_wire(engine: Engine) -> None:
    proto = schema_to_proto(engine.resource_schema("t_r"))
    attrs = {a.name: a for a in proto.block.attributes}
    assert attrs["secret_wo"].write_only and attrs["secret_wo"].sensitive
    assert not attrs["secret_wo_version"].write_only
    nested = {a.name: a for a in attrs["inner"].nested_type.attributes}
    assert nested["token_wo"].write_only and not nested["label"].write_only
    assert not engine.get_provider_schema().diagnostics


def test_plan_holds_no_write_only_value(engine: Engine) -> None:
    config = obj(secret_wo=SECRET, inner=INNER_CFG)
    resp = engine.plan_resource_change("t_r", None, config, config, b"")
    assert not resp.diagnostics.has_error(), list(resp.diagnostics)
    assert resp.planned_state["secret_wo"] is None
    assert resp.planned_state["inner"] == [{"label": "a", "token_wo": None}]
    # The resource's plan code sees the configured value in `config`, not in the plan.
    assert R.seen == [("plan", None, SECRET)]


def test_a_new_secret_alone_plans_no_change(engine: Engine) -> None:
    prior = obj(id="id-1")
    config = obj(secret_wo="another-secret-2")
    resp = engine.plan_resource_change("t_r", prior, config, config, b"")
    assert resp.planned_state == prior  # only secret_wo_version can trigger the update


def test_apply_sees_the_config_value_and_returns_none(engine: Engine) -> None:
    config = obj(secret_wo=SECRET, inner=INNER_CFG)
    planned = engine.plan_resource_change("t_r", None, config, config, b"").planned_state
    resp = engine.apply_resource_change("t_r", None, planned, config, b"")
    assert not resp.diagnostics.has_error(), list(resp.diagnostics)
    assert R.seen[-1] == ("create", SECRET, INNER_CFG)
    assert resp.state["secret_wo"] is None
    assert resp.state["inner"] == [{"label": "a", "token_wo": None}]
    # update: a version bump carries the new secret to the resource
    prior = resp.state
    config2 = obj(secret_wo="second-secret", secret_wo_version=2, inner=INNER_CFG)
    planned2 = engine.plan_resource_change("t_r", prior, config2, config2, b"").planned_state
    assert planned2["secret_wo"] is None and planned2["secret_wo_version"] == 2
    resp2 = engine.apply_resource_change("t_r", prior, planned2, config2, b"")
    assert not resp2.diagnostics.has_error(), list(resp2.diagnostics)
    assert R.seen[-1][:2] == ("update", "second-secret")
    assert resp2.state["secret_wo"] is None and resp2.state["secret_wo_version"] == 2


def test_read_and_import_never_return_a_write_only_value(engine: Engine) -> None:
    read = engine.read_resource("t_r", obj(id="id-1"), b"")
    assert read.state is not None and read.state["secret_wo"] is None
    imported = engine.import_resource_state("t_r", "id-9")
    assert imported.imported[0].state["secret_wo"] is None


def test_validate_refuses_a_client_without_write_only_support(engine: Engine) -> None:
    config = obj(secret_wo=SECRET, inner=INNER_CFG)
    diags = engine.validate_resource_config("t_r", config, write_only_allowed=False)
    summaries = [d.summary for d in diags]
    assert summaries == ["Write-Only Attribute Not Supported"] * 2
    assert "Terraform 1.11" in next(iter(diags)).detail
    # secret_wo is sensitive: rule 8 drops its path; token_wo keeps its own.
    paths = sorted(str(d.path) for d in diags if d.path is not None)
    assert paths == ["inner[0].token_wo"]
    assert not engine.validate_resource_config("t_r", config, write_only_allowed=True)
    # Unset write-only attributes are fine for any client.
    assert not engine.validate_resource_config("t_r", obj(), write_only_allowed=False)


def test_validate_reads_the_capability_from_the_request(engine: Engine) -> None:
    ty = engine.resource_schema("t_r").cty_type()
    raw = pb.DynamicValue(msgpack=cty_msgpack.encode(obj(secret_wo=SECRET), ty))
    for allowed in (False, True):
        msg = pb.ValidateResourceConfig.Request(
            type_name="t_r",
            config=raw,
            client_capabilities=pb.ClientCapabilities(write_only_attributes_allowed=allowed),
        )
        assert VALIDATE_RESOURCE_CONFIG.decode(msg, engine).write_only_allowed is allowed


def test_schema_rules() -> None:
    with pytest.raises(ValueError, match="cannot be computed"):
        Attribute(type=types.String, optional=True, computed=True, write_only=True)
    in_set = Schema(
        attributes={
            "s": Attribute(
                nested=NestedAttributes(
                    {"x": Attribute(type=types.String, optional=True, write_only=True)},
                    Nesting.SET,
                ),
                optional=True,
            )
        }
    )
    with pytest.raises(ValueError, match="inside a set"):
        _ = in_set.has_write_only


def test_write_only_outside_managed_resources_is_an_invalid_schema() -> None:
    @dataclass
    class DM:
        x: Any = None

    class D(DataSource):
        TYPE_NAME = "d"
        Model = DM

        def schema(self) -> Schema:
            return Schema(
                attributes={"x": Attribute(type=types.String, optional=True, write_only=True)}
            )

    class PD(P):
        def data_sources(self) -> list[type[DataSource]]:
            return [D]

    resp = Engine(PD()).get_provider_schema()
    assert resp.provider is None
    assert [d.summary for d in resp.diagnostics] == ["Provider Bug: Invalid Schema"]
    assert "only managed resources" in next(iter(resp.diagnostics)).detail
