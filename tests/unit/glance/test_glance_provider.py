"""The glance provider and glance_iscsi_store through the engine, on a simulated controller."""

from __future__ import annotations

from typing import Any

import pytest
from glance_fakehost import IQN, MP, FakeHost
from tfnimble.glance.provider import ENV, ControllerConnection, GlanceProvider
from tfnimble.glance.resource_iscsi_store import IscsiStoreModel, IscsiStoreResource
from tfnimble.plugin import UNKNOWN, check_model_matches_schema, is_unknown
from tfnimble.plugin.engine import Engine

TYPE = "glance_iscsi_store"


class FakeConnection(ControllerConnection):
    def __init__(self, host: FakeHost) -> None:
        super().__init__({"host": "controller.test"})
        self.host = host

    def transport(self) -> Any:
        return self.host.transport


def config(**kw: Any) -> dict[str, Any]:
    cfg = {name: None for name in IscsiStoreResource().schema().attributes}
    cfg.update(timeouts=None, portal="10.200.2.2", target_iqn=IQN, mount_point=MP)
    cfg.update(kw)
    return cfg


def engine(host: FakeHost) -> Engine:
    e = Engine(GlanceProvider())
    e.provider_data = FakeConnection(host)
    e.configured = True
    return e


@pytest.fixture(autouse=True)
def _fast_device_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    import tfnimble.glance.iscsi_store_ops as ops

    monkeypatch.setattr(ops.time, "sleep", lambda _s: None)


def test_model_matches_schema_and_every_attribute_is_described() -> None:
    schema = IscsiStoreResource().schema()
    assert check_model_matches_schema(IscsiStoreModel, schema) == []
    for name, attr in schema.attributes.items():
        assert attr.description, name
    for name, attr in GlanceProvider().schema().attributes.items():
        assert attr.description and ENV[name] in attr.description, name


def test_configure_reads_environment_and_refuses_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GLANCE_SSH_HOST", "ctl.example")
    monkeypatch.setenv("GLANCE_SSH_PORT", "2222")
    monkeypatch.setenv("GLANCE_SSH_SUDO", "true")
    e = Engine(GlanceProvider())
    cfg = {name: None for name in ENV}
    assert not e.configure_provider(cfg).has_error()
    assert e.provider_data.settings["host"] == "ctl.example"
    assert e.provider_data.settings["port"] == 2222
    assert e.provider_data.settings["sudo"] is True
    e2 = Engine(GlanceProvider())
    diags = e2.configure_provider({**cfg, "host": UNKNOWN})
    assert diags.has_error()
    assert str(next(iter(diags)).path) == "host"


def test_create_plan_apply_read_and_drift_repair() -> None:
    host = FakeHost()
    e = engine(host)
    cfg = config()
    plan = e.plan_resource_change(TYPE, None, dict(cfg), cfg, None)
    assert not plan.diagnostics.has_error(), list(plan.diagnostics)
    assert plan.planned_state["mount_options"] == "_netdev,nofail,noatime"
    assert is_unknown(plan.planned_state["fs_uuid"])
    applied = e.apply_resource_change(TYPE, None, plan.planned_state, cfg, plan.planned_private)
    assert not applied.diagnostics.has_error(), list(applied.diagnostics)
    state = applied.state
    assert state["drift"] == [] and state["fs_uuid"] and state["lun"] == 0
    assert state["previous_datadir"] == "/var/lib/glance/images/"

    # refresh: nothing changed
    read = e.read_resource(TYPE, state, applied.private)
    assert read.state == state
    # drift: unmounted behind Terraform's back
    host.mounts.clear()
    read = e.read_resource(TYPE, state, applied.private)
    assert "the filesystem is not mounted at the mount point" in read.state["drift"]
    plan2 = e.plan_resource_change(TYPE, read.state, dict(read.state), cfg, read.private)
    assert plan2.planned_state["drift"] == [] and plan2.requires_replace == []
    fixed = e.apply_resource_change(
        TYPE, read.state, plan2.planned_state, cfg, plan2.planned_private
    )
    assert not fixed.diagnostics.has_error(), list(fixed.diagnostics)
    assert fixed.state["drift"] == [] and host.mounts


def test_changing_mount_point_replaces() -> None:
    host = FakeHost()
    e = engine(host)
    cfg = config()
    plan = e.plan_resource_change(TYPE, None, dict(cfg), cfg, None)
    state = e.apply_resource_change(TYPE, None, plan.planned_state, cfg, None).state
    new_cfg = config(mount_point="/srv/glance")
    proposed = {**state, "mount_point": "/srv/glance"}
    plan2 = e.plan_resource_change(TYPE, state, proposed, new_cfg, None)
    assert [str(p) for p in plan2.requires_replace] == ["mount_point"]


def test_destroy_refused_while_images_exist() -> None:
    host = FakeHost()
    e = engine(host)
    cfg = config()
    plan = e.plan_resource_change(TYPE, None, dict(cfg), cfg, None)
    applied = e.apply_resource_change(TYPE, None, plan.planned_state, cfg, None)
    host.disks["/dev/sdc"].files = 3
    res = e.apply_resource_change(TYPE, applied.state, None, None, applied.private)
    assert res.state == applied.state
    (diag,) = list(res.diagnostics)
    assert "3 image file(s)" in diag.detail and "force_destroy" in diag.detail


def test_bad_target_iqn_is_a_plan_time_diagnostic() -> None:
    e = engine(FakeHost())
    diags = e.validate_resource_config(TYPE, config(target_iqn="not-an-iqn"))
    assert diags.has_error() and str(next(iter(diags)).path) == "target_iqn"
