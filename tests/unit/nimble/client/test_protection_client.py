"""The protection client functions against the simulator: membership on the volume, and a
schedule deleted with the snapshots it took (those the array keeps are reported)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from tfnimble.nimble.client import NimbleClient, snapshots, volumes
from tfnimble.nimble.client import protection_schedules as ps
from tfnimble.nimble.client import volume_collections as vcs
from tfnimble.sim import server

USER, PASSWORD = "admin", "sim-Pa55word"
DAY = 86400


@pytest.fixture
def sim(tmp_path: Any) -> Iterator[Any]:
    srv = server.SimServer(tmp_path, username=USER, password=PASSWORD, durable=False).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def nc(sim: Any) -> Iterator[NimbleClient]:
    c = NimbleClient(sim.host, sim.port, USER, password=PASSWORD, ca_file=sim.ca_file)
    yield c
    c.close()


def advance(sim: Any, seconds: int) -> None:
    requests.post(
        f"{sim.url}/sim/clock",
        json={"advance": seconds},
        auth=(USER, PASSWORD),
        verify=sim.ca_file,
        timeout=30,
    ).raise_for_status()


def test_membership_and_delete_with_snapshots(sim: Any, nc: NimbleClient) -> None:
    vc = vcs.create_volume_collection(nc, "vc", description="d", app_sync="none")
    a = volumes.create_volume(nc, "a", 64)
    b = volumes.create_volume(nc, "b", 64)
    assert vcs.volume_collection_of(nc, a.id) == ""
    for vol in (a, b):
        vcs.set_volume_collection(nc, vol.id, vc.id)
    assert sorted(vcs.get_volume_collection(nc, vc.id).volume_ids) == sorted([a.id, b.id])
    assert vcs.volume_collection_of(nc, "06" + "f" * 40) is None
    sched = ps.create_protection_schedule(nc, vc.id, "daily", {"num_retain": 5})
    assert ps.find_protection_schedule(nc, vc.id, "daily") == sched
    mine = snapshots.create_snapshot(nc, a.id, "mine")
    advance(sim, 3 * DAY)
    taken = ps.snapshots_taken_by(nc, sched)
    assert len(taken) >= 6 and {s.vol_id for s in taken} == {a.id, b.id}
    base = taken[0]
    volumes.clone_volume(nc, "c", base.id)
    kept = ps.delete_schedule_and_its_snapshots(nc, sched.id)
    assert kept == [f"{base.vol_name}/{base.name} (SM_snap_has_clone)"]
    assert ps.get_protection_schedule(nc, sched.id) is None
    left = {s.id for v in (a, b) for s in snapshots.list_snapshots(nc, v.id)}
    assert left == {mine.id, base.id}  # the user's own snapshot and the clone's base
    assert ps.delete_schedule_and_its_snapshots(nc, sched.id) == []
