"""nimble_clone_volume plan logic, through the engine exactly as Terraform drives it."""

from __future__ import annotations

import dataclasses
from typing import Any

from tfnimble.nimble.provider import NimbleProvider
from tfnimble.nimble.resource_clone_volume import CloneVolumeModel, CloneVolumeResource
from tfnimble.plugin import UNKNOWN, AttributePath
from tfnimble.plugin.engine import Engine

TYPE = "nimble_clone_volume"
SNAP = "04" + "0" * 39 + "1"

STATE: dict[str, Any] = {
    "id": "06" + "0" * 39 + "2",
    "name": "vm-0-boot",
    "snapshot_id": SNAP,
    "size_mib": 2048,
    "description": None,
    "performance_policy": "default",
    "online": True,
    "target_name": "iqn.2007-11.com.nimblestorage:vm-0-boot-v1.00000002.1",
    "serial_number": "abc",
    "parent_volume_id": "06" + "0" * 39 + "1",
    "base_snapshot_name": "golden",
    "space_used_bytes": 4096,
    "timeouts": None,
}


def config(**changes: Any) -> dict[str, Any]:
    """What Terraform sends as config: only arguments, computed-only attributes null."""
    cfg = {k: None for k in STATE}
    cfg.update(name=STATE["name"], snapshot_id=SNAP)
    cfg.update(changes)
    return cfg


def proposed(cfg: dict[str, Any]) -> dict[str, Any]:
    """Terraform's proposed new state: config, with prior values for null computed attrs."""
    return {k: (STATE[k] if cfg[k] is None else cfg[k]) for k in STATE}


def plan(**changes: Any):
    engine = Engine(NimbleProvider())
    cfg = config(**changes)
    return engine.plan_resource_change(TYPE, dict(STATE), proposed(cfg), cfg, b"")


def test_unchanged_config_plans_nothing() -> None:
    result = plan()
    assert not result.diagnostics.has_error()
    assert result.planned_state == STATE and result.requires_replace == []


def test_in_place_update_keeps_computed_values_known() -> None:
    result = plan(description="boot disk", size_mib=4096)
    assert not result.diagnostics.has_error(), list(result.diagnostics)
    planned = result.planned_state
    assert planned["description"] == "boot disk" and planned["size_mib"] == 4096
    for name in (
        "id",
        "target_name",
        "serial_number",
        "parent_volume_id",
        "base_snapshot_name",
        "space_used_bytes",
        "performance_policy",
    ):
        assert planned[name] == STATE[name], name
    assert result.requires_replace == []


def test_shrink_is_refused_at_plan_time_on_size_mib() -> None:
    result = plan(size_mib=1024)
    errors = [d for d in result.diagnostics if d.summary == "Volume Cannot Shrink"]
    assert len(errors) == 1
    assert errors[0].path == AttributePath.root().attr("size_mib")
    assert '"vm-0-boot" is 2048 MiB' in errors[0].detail
    assert "size_mib = 1024" in errors[0].detail


def test_new_snapshot_replaces_and_may_shrink() -> None:
    other = "04" + "0" * 39 + "9"
    result = plan(snapshot_id=other, size_mib=1024)
    assert not result.diagnostics.has_error(), list(result.diagnostics)
    assert result.requires_replace == [AttributePath.root().attr("snapshot_id")]


def test_unknown_snapshot_id_replaces_without_asking_the_array() -> None:
    result = plan(snapshot_id=UNKNOWN)
    assert not result.diagnostics.has_error()
    assert result.requires_replace == [AttributePath.root().attr("snapshot_id")]


def test_update_returns_the_planned_space_reading() -> None:
    from tfnimble.nimble import _common

    assert _common.kept_reading(4096, 999) == 4096
    assert _common.kept_reading(UNKNOWN, 999) == 999


def test_model_fields_follow_schema_order() -> None:
    schema = CloneVolumeResource().schema()
    fields = [f.name for f in dataclasses.fields(CloneVolumeModel)]
    assert set(fields) == set(schema.attributes) | set(schema.blocks)


def test_invalid_name_and_zero_size_are_refused_by_validators() -> None:
    engine = Engine(NimbleProvider())
    diags = engine.validate_resource_config(TYPE, config(name="bad name!", size_mib=0))
    paths = {str(d.path) for d in diags}
    assert str(AttributePath.root().attr("name")) in paths
    assert str(AttributePath.root().attr("size_mib")) in paths


def test_a_clone_is_refreshed_with_the_clones_of_its_snapshot() -> None:
    res = CloneVolumeResource()
    assert res.family(CloneVolumeModel(snapshot_id=SNAP)) == {"base_snap_id": SNAP}
    for unusable in (None, UNKNOWN, "", "not-an-id"):  # then its own GET, as before
        assert res.family(CloneVolumeModel(snapshot_id=unusable)) is None
    # the listing asks for what the model reads: the volume's fields and the clone's own
    assert {"id", "base_snap_id", "parent_vol_id", "base_snap_name"} <= set(res.READ_FIELDS)
