"""Engine plan/apply rules, with plain Python values and no protocol."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from tfnimble.plugin import (
    UNKNOWN,
    Attribute,
    AttributePath,
    Context,
    DiagnosticError,
    Provider,
    Resource,
    Schema,
    is_unknown,
    requires_replace,
    requires_replace_if,
    timeouts_block,
    types,
    use_state_for_unknown,
)
from tfnimble.plugin.engine import Engine


@dataclass
class M:
    id: Any = None
    name: Any = None
    size: Any = None
    mode: Any = None
    serial: Any = None
    note: Any = None
    timeouts: Any = None


class R(Resource):
    TYPE_NAME = "r"
    Model = M
    calls: list[str] = []
    fail_after: bool = False

    def schema(self) -> Schema:
        return Schema(
            attributes={
                "id": Attribute(
                    type=types.String, computed=True, plan_modifiers=(use_state_for_unknown(),)
                ),
                "name": Attribute(
                    type=types.String, required=True, plan_modifiers=(requires_replace(),)
                ),
                "size": Attribute(
                    type=types.Number,
                    optional=True,
                    computed=True,
                    plan_modifiers=(
                        requires_replace_if(
                            lambda req: (
                                not is_unknown(req.plan_value)
                                and req.state_value is not None
                                and req.plan_value < req.state_value
                            ),
                            "shrinking replaces",
                        ),
                    ),
                ),
                "mode": Attribute(type=types.String, optional=True, computed=True, default="a"),
                "serial": Attribute(type=types.String, computed=True),
                "note": Attribute(type=types.String, optional=True),
            },
            blocks={"timeouts": timeouts_block("create")},
        )

    def create(self, ctx: Context, plan: M) -> M:
        self.calls.append(f"create:{ctx.timeout}")
        out = M(
            id="id-1",
            name=plan.name,
            size=plan.size if not is_unknown(plan.size) else 10,
            mode=plan.mode,
            serial="s-1",
            note=plan.note,
            timeouts=plan.timeouts,
        )
        if self.fail_after:
            ctx.set_partial_state(out)
            raise DiagnosticError("Late Failure", "after the object existed")
        return out

    def read(self, ctx: Context, state: M) -> M | None:
        return None if state.id == "gone" else state

    def update(self, ctx: Context, plan: M, state: M) -> M:
        return M(**{**plan.__dict__, "serial": "s-2"})

    def delete(self, ctx: Context, state: M) -> None:
        self.calls.append("delete")


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
    R.calls = []
    R.fail_after = False
    return Engine(P())


def cfg(**kw: Any) -> dict[str, Any]:
    base = {
        "id": None,
        "name": "n",
        "size": None,
        "mode": None,
        "serial": None,
        "note": None,
        "timeouts": None,
    }
    base.update(kw)
    return base


def test_plan_create_marks_computed_unknown_and_applies_defaults(engine: Engine) -> None:
    c = cfg()
    res = engine.plan_resource_change("t_r", None, dict(c), c, None)
    assert not res.diagnostics.has_error(), list(res.diagnostics)
    p = res.planned_state
    assert is_unknown(p["id"]) and is_unknown(p["serial"]) and is_unknown(p["size"])
    assert p["mode"] == "a"
    assert p["note"] is None
    assert res.requires_replace == []


def test_plan_no_change_is_stable(engine: Engine) -> None:
    state = cfg(id="id-1", size=10, mode="a", serial="s-1")
    c = cfg()
    proposed = dict(state)
    res = engine.plan_resource_change("t_r", state, proposed, c, None)
    assert res.planned_state == state


def test_plan_update_keeps_use_state_for_unknown_and_unknowns_others(engine: Engine) -> None:
    state = cfg(id="id-1", size=10, mode="a", serial="s-1")
    c = cfg(note="x")
    proposed = {**state, "note": "x"}
    res = engine.plan_resource_change("t_r", state, proposed, c, None)
    p = res.planned_state
    assert p["id"] == "id-1"
    assert is_unknown(p["serial"])
    assert res.requires_replace == []


def test_plan_requires_replace_paths(engine: Engine) -> None:
    state = cfg(id="id-1", size=10, mode="a", serial="s-1")
    c = cfg(name="other", size=5)
    res = engine.plan_resource_change("t_r", state, {**state, "name": "other", "size": 5}, c, None)
    assert AttributePath.root().attr("name") in res.requires_replace
    assert AttributePath.root().attr("size") in res.requires_replace
    grow = engine.plan_resource_change("t_r", state, {**state, "size": 20}, cfg(size=20), None)
    assert grow.requires_replace == []


def test_plan_unknown_config_value_requires_replace(engine: Engine) -> None:
    state = cfg(id="id-1", size=10, mode="a", serial="s-1")
    res = engine.plan_resource_change(
        "t_r", state, {**state, "name": UNKNOWN}, cfg(name=UNKNOWN), None
    )
    assert AttributePath.root().attr("name") in res.requires_replace


def test_plan_destroy_returns_null(engine: Engine) -> None:
    res = engine.plan_resource_change("t_r", cfg(id="x"), None, None, b"p")
    assert res.planned_state is None and res.planned_private == b"p"


def test_apply_create_uses_timeout_and_matches_plan(engine: Engine) -> None:
    c = cfg(timeouts={"create": "90s"})
    plan = engine.plan_resource_change("t_r", None, dict(c), c, None).planned_state
    res = engine.apply_resource_change("t_r", None, plan, c, None)
    assert not res.diagnostics.has_error(), list(res.diagnostics)
    assert res.state["id"] == "id-1" and res.state["size"] == 10
    assert R.calls == ["create:90.0"]


def test_apply_failed_create_returns_partial_state(engine: Engine) -> None:
    R.fail_after = True
    c = cfg()
    plan = engine.plan_resource_change("t_r", None, dict(c), c, None).planned_state
    res = engine.apply_resource_change("t_r", None, plan, c, None)
    assert res.diagnostics.has_error()
    assert res.state is not None and res.state["id"] == "id-1"


def test_apply_result_differing_from_plan_is_reported(engine: Engine) -> None:
    state = cfg(id="id-1", size=10, mode="a", serial="s-1")
    planned = {**state, "serial": "s-1", "note": "x"}  # update promises serial s-1, gets s-2
    res = engine.apply_resource_change("t_r", state, planned, cfg(note="x"), None)
    assert any("Differs From Plan" in d.summary for d in res.diagnostics)


def test_read_gone_removes_from_state(engine: Engine) -> None:
    res = engine.read_resource("t_r", cfg(id="gone", mode="a"), None)
    assert res.state is None and not res.diagnostics.has_error()


def test_delete_failure_keeps_prior_state(engine: Engine) -> None:
    def boom(ctx: Context, state: M) -> None:
        raise DiagnosticError("Delete Refused", "snapshot has clones")

    r = engine._resources["t_r"]
    r.delete = boom  # type: ignore[method-assign]
    prior = cfg(id="id-1", mode="a", size=1, serial="s")
    res = engine.apply_resource_change("t_r", prior, None, None, None)
    assert res.state == prior and res.diagnostics.has_error()


def test_unexpected_exception_becomes_diagnostic(engine: Engine) -> None:
    r = engine._resources["t_r"]
    r.read = lambda ctx, state: 1 / 0  # type: ignore[method-assign,assignment]
    res = engine.read_resource("t_r", cfg(id="id-1", mode="a"), None)
    assert res.diagnostics.has_error()
    assert "ZeroDivisionError" in next(iter(res.diagnostics)).detail


def test_upgrade_same_version_ignores_removed_attributes(engine: Engine) -> None:
    raw = json.dumps({**cfg(id="id-1", mode="a"), "legacy_field": 1}).encode()
    resp = engine.upgrade_resource_state("t_r", 0, raw)
    value, diags = resp.upgraded_state, resp.diagnostics
    assert not diags.has_error() and value["id"] == "id-1"


def test_upgrade_from_newer_version_is_refused(engine: Engine) -> None:
    diags = engine.upgrade_resource_state("t_r", 3, b"{}").diagnostics
    assert "newer provider" in next(iter(diags)).detail


def test_upgrader_runs_straight_to_current() -> None:
    class R2(R):
        STATE_UPGRADERS = {0: lambda raw: {**cfg(), "id": raw["old_id"], "name": raw["nm"]}}

        def schema(self) -> Schema:
            s = super().schema()
            return Schema(attributes=s.attributes, blocks=s.blocks, version=1)

    class P2(P):
        def resources(self) -> list[type[Resource]]:
            return [R2]

    e = Engine(P2())
    resp = e.upgrade_resource_state("t_r", 0, b'{"old_id": "x", "nm": "y"}')
    value, diags = resp.upgraded_state, resp.diagnostics
    assert not diags.has_error(), list(diags)
    assert value["id"] == "x" and value["name"] == "y"


def test_validators_run_only_on_known_values(engine: Engine) -> None:
    diags = engine.validate_resource_config("t_r", cfg(timeouts={"create": "later"}))
    assert diags.has_error()
    d = next(iter(diags))
    assert str(d.path) == "timeouts.create"
    assert not engine.validate_resource_config("t_r", cfg(timeouts={"create": UNKNOWN})).has_error()


def test_unknown_resource_type_is_a_diagnostic(engine: Engine) -> None:
    with pytest.raises(DiagnosticError, match="no resource type"):
        engine.validate_resource_config("t_nope", {})
