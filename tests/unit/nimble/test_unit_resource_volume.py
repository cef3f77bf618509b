"""nimble_volume plan logic through the engine: growth in place, shrink refused, new pool."""

from __future__ import annotations

from typing import Any

from tfnimble.nimble.provider import NimbleProvider
from tfnimble.plugin import AttributePath
from tfnimble.plugin.engine import Engine

TYPE = "nimble_volume"
STATE: dict[str, Any] = {
    "id": "06" + "0" * 39 + "1",
    "name": "glance-store",
    "size_mib": 4096,
    "pool": "default",
    "performance_policy": "default",
    "description": None,
    "online": True,
    "target_name": "iqn.2007-11.com.nimblestorage:glance-store-v1.00000001.1",
    "serial_number": "abc",
    "space_used_bytes": 123,
    "timeouts": None,
}


def plan(**changes: Any):
    cfg = {k: (STATE[k] if k in ("name", "size_mib") else None) for k in STATE}
    cfg.update(changes)
    prop = {k: (STATE[k] if cfg[k] is None else cfg[k]) for k in STATE}
    return Engine(NimbleProvider()).plan_resource_change(TYPE, dict(STATE), prop, cfg, b"")


def test_growth_is_in_place() -> None:
    result = plan(size_mib=8192)
    assert not result.diagnostics.has_error()
    assert result.requires_replace == []
    assert result.planned_state["target_name"] == STATE["target_name"]


def test_shrink_refused_on_size_mib() -> None:
    result = plan(size_mib=1024)
    (err,) = [d for d in result.diagnostics if d.summary == "Volume Cannot Shrink"]
    assert err.path == AttributePath.root().attr("size_mib")


def test_new_pool_replaces() -> None:
    result = plan(pool="fast")
    assert result.requires_replace == [AttributePath.root().attr("pool")]
