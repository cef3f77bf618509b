"""The crash-recovery rules against the real simulator: which leftover volumes a create adopts
(``client.leftovers``), the image write's temporary initiator groups (``temp_access``), and
deletes that wait for clones deleted in the same run (``dependents``)."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tfnimble.nimble import _common as c
from tfnimble.nimble import dependents, image_master_ops, temp_access
from tfnimble.nimble.client import (
    LostResponseMismatch,
    NimbleClient,
    access_control_records,
    initiator_groups,
    snapshots,
    volumes,
)
from tfnimble.nimble.client.leftovers import MARKER_KEY, LeftoverNotAdopted, has_marker
from tfnimble.plugin import Context, DiagnosticError

server = pytest.importorskip("tfnimble.sim.server", reason="nimble-sim server not available")

USER, PASSWORD = "admin", "sim-Pa55word"
HOST_IQN = "iqn.2024-01.test:this-host"
log = logging.getLogger("test")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    srv = server.SimServer(
        tmp_path_factory.mktemp("sim"), username=USER, password=PASSWORD, durable=False
    ).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def nc(sim: Any) -> Iterator[NimbleClient]:
    c = NimbleClient(
        sim.host, sim.port, USER, PASSWORD, ca_file=sim.ca_file, retries=1, backoff=0.05
    )
    yield c
    c.close()


@pytest.fixture
def snap(nc: NimbleClient, request: pytest.FixtureRequest) -> Any:
    base = request.node.name.replace("_", "-")[:40]
    vol = volumes.create_volume(nc, f"{base}-m", 1024)
    return snapshots.create_snapshot(nc, vol.id, "base")


# --- leftovers ---------------------------------------------------------------------------------


def test_created_volumes_carry_the_marker_and_the_array_filters_on_it(
    nc: NimbleClient, snap: Any
) -> None:
    clone = volumes.clone_volume(nc, "marked-clone", snap.id)
    assert has_marker(clone.raw)
    assert has_marker(volumes.get_volume(nc, clone.id).raw)  # type: ignore[union-attr]
    marker = {"fieldName": f"metadata.{MARKER_KEY}", "operator": "equals"}
    assert _fetch(nc, [{**marker, "value": ""}]) == []  # the marker's value is not empty
    rows = _fetch(
        nc,
        [
            {"fieldName": "name", "operator": "equals", "value": "marked-clone"},
            {**marker, "value": "terraform-provider-nimble"},
        ],
    )
    assert [r["id"] for r in rows] == [clone.id]


def _fetch(nc: NimbleClient, criteria: list[dict[str, str]]) -> list[Any]:
    """The volumes matching all `criteria` (the array's advanced-criteria fetch)."""
    body = {
        "data": {"_constructor": "AdvancedCriteria", "operator": "and", "criteria": criteria},
        "operationType": "fetch",
    }
    return list(nc.request("POST", "/volumes/detail", body=body)["data"])


def test_an_untouched_marked_clone_is_adopted(nc: NimbleClient, snap: Any) -> None:
    first = volumes.clone_volume(nc, "left-behind", snap.id)
    again = volumes.clone_volume(nc, "left-behind", snap.id)
    assert again.id == first.id
    assert [v.id for v in snapshots.list_clones_of_snapshot(nc, snap.id)] == [first.id]


def test_an_untouched_marked_volume_is_adopted_but_not_by_an_image_master(
    nc: NimbleClient,
) -> None:
    first = volumes.create_volume(nc, "left-vol", 2048)
    assert volumes.create_volume(nc, "left-vol", 2048).id == first.id
    with pytest.raises(LeftoverNotAdopted, match="size 2048 MiB, asked 4096 MiB"):
        volumes.create_volume(nc, "left-vol", 4096)
    with pytest.raises(image_master_ops.ApiFailure) as info:
        image_master_ops.create_volume(_job(nc), "left-vol", 2048, None, None, None)
    assert isinstance(info.value.cause, LeftoverNotAdopted)
    assert "only into a volume created by this apply" in str(info.value)


def _refused(nc: NimbleClient, name: str, snap_id: str) -> LeftoverNotAdopted:
    with pytest.raises(LeftoverNotAdopted) as info:
        volumes.clone_volume(nc, name, snap_id)
    err = info.value
    assert err.code == "SM_eexist" and err.name == name and err.object_id in str(err)
    return err


def test_a_clone_with_data_written_is_refused(sim: Any, nc: NimbleClient, snap: Any) -> None:
    clone = volumes.clone_volume(nc, "written", snap.id)
    sim.model.sim_write(clone.id, 4096, False)
    err = _refused(nc, "written", snap.id)
    assert err.problems == ["data was written to it (4096 bytes in use)"]


def test_a_clone_with_connections_is_refused(sim: Any, nc: NimbleClient, snap: Any) -> None:
    clone = volumes.clone_volume(nc, "connected", snap.id)
    sim.model.sim_connections(clone.id, 2)
    assert _refused(nc, "connected", snap.id).problems == [
        "2 initiator connection(s) are open to it"
    ]


def test_a_clone_with_an_acr_is_refused(nc: NimbleClient, snap: Any) -> None:
    clone = volumes.clone_volume(nc, "exported", snap.id)
    group = initiator_groups.create_initiator_group(nc, "exported-hosts", [HOST_IQN])
    access_control_records.create_access_control_record(nc, clone.id, group.id)
    err = _refused(nc, "exported", snap.id)
    assert err.problems == ["it has access control records for exported-hosts"]


def test_a_clone_inheriting_its_parents_acr_is_adopted(nc: NimbleClient, snap: Any) -> None:
    group = initiator_groups.create_initiator_group(nc, "parent-hosts", ["iqn.2024-01.test:p"])
    access_control_records.create_access_control_record(nc, snap.vol_id, group.id)
    clone = volumes.clone_volume(nc, "inherits", snap.id)
    assert [a.initiator_group_id for a in clone.access_control_records] == [group.id]
    assert volumes.clone_volume(nc, "inherits", snap.id).id == clone.id


def test_an_unmarked_clone_is_refused(nc: NimbleClient, snap: Any) -> None:
    nc.create_object(
        "volumes",
        {"name": "foreign", "clone": True, "base_snap_id": snap.id},
        kind="clone volume",
        name="foreign",
    )
    err = _refused(nc, "foreign", snap.id)
    assert len(err.problems) == 1 and "does not carry this provider's marker" in err.problems[0]


def test_a_clone_of_another_snapshot_is_refused(nc: NimbleClient, snap: Any) -> None:
    other = snapshots.create_snapshot(nc, snap.vol_id, "other")
    volumes.clone_volume(nc, "elsewhere", other.id)
    err = _refused(nc, "elsewhere", snap.id)
    assert err.problems == [f"it is not a clone of snapshot {snap.id} (base_snap_id {other.id})"]


def test_a_clone_with_a_snapshot_is_refused(nc: NimbleClient, snap: Any) -> None:
    clone = volumes.clone_volume(nc, "snapped", snap.id)
    snapshots.create_snapshot(nc, clone.id, "s1")
    assert _refused(nc, "snapped", snap.id).problems == ["it has 1 snapshot(s)"]


def test_a_lost_response_never_adopts_a_touched_clone_even_inside_the_window(
    sim: Any, nc: NimbleClient, snap: Any
) -> None:
    clone = volumes.clone_volume(nc, "lost-then-old", snap.id)
    sim.model.sim_write(clone.id, 512, False)
    sim.faults.configure(
        {"rules": [{"method": "POST", "path": "^/v1/volumes$", "drop_rate": 1, "times": 1}]}
    )
    try:
        with pytest.raises(LostResponseMismatch) as info:
            volumes.clone_volume(nc, "lost-then-old", snap.id)
    finally:
        sim.faults.clear()
    # Created seconds ago, so inside the creation window: the leftover rule still refuses it.
    assert "data was written to it (512 bytes in use)" in str(info.value)


# --- temporary access ---------------------------------------------------------------------------


def _dead_owner() -> str:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    token = temp_access.owner_token(proc.pid)
    proc.wait()
    return token


def _job(nc: NimbleClient) -> image_master_ops.Job:
    return image_master_ops.Job(nc, lambda _: None, threading.Event(), None, log)


def test_temporary_access_uses_its_own_group_and_removes_only_leftovers(
    nc: NimbleClient,
) -> None:
    vol = volumes.create_volume(nc, "im-target", 64)
    other = volumes.create_volume(nc, "im-prod-vol", 64)
    prod = initiator_groups.create_initiator_group(nc, "prod-hosts", [HOST_IQN])
    prod_acr = access_control_records.create_access_control_record(nc, other.id, prod.id)
    marked = [(temp_access.TEMP_KEY, temp_access.TEMP_VALUE)]
    leftover = initiator_groups.create_initiator_group(
        nc,
        temp_access.TEMP_PREFIX + "deadbeef",
        [HOST_IQN],
        description=temp_access.TEMP_DESCRIPTION + "killed",
        metadata=[*marked, (temp_access.OWNER_KEY, _dead_owner())],
    )
    leftover_acr = access_control_records.create_access_control_record(nc, other.id, leftover.id)
    live = initiator_groups.create_initiator_group(  # a write running in another process
        nc,
        temp_access.TEMP_PREFIX + "0badcafe",
        [HOST_IQN],
        description=temp_access.TEMP_DESCRIPTION + "running",
        metadata=[*marked, (temp_access.OWNER_KEY, temp_access.owner_token(1))],
    )
    lookalike = initiator_groups.create_initiator_group(  # the prefix but no marker
        nc, temp_access.TEMP_PREFIX + "handmade", [HOST_IQN], description="mine"
    )
    before = {g.id: g for g in initiator_groups.list_initiator_groups(nc)}

    with image_master_ops.temporary_access(_job(nc), vol, HOST_IQN, "im-target"):
        acrs = access_control_records.list_access_control_records(nc, vol_id=vol.id)
        assert len(acrs) == 1
        group = initiator_groups.get_initiator_group(nc, acrs[0].initiator_group_id)
        assert group is not None and group.id not in before
        assert temp_access.is_temporary(group) and group.iqns == (HOST_IQN,)
        assert not temp_access.is_leftover(group)  # its owner is this process

    after = {g.id: g for g in initiator_groups.list_initiator_groups(nc)}
    assert leftover.id not in after and group.id not in after
    assert access_control_records.get_access_control_record(nc, leftover_acr.id) is None
    assert access_control_records.list_access_control_records(nc, vol_id=vol.id) == []
    for kept in (prod, live, lookalike):
        assert after[kept.id] == before[kept.id]
    assert access_control_records.get_access_control_record(nc, prod_acr.id) == prod_acr


def test_owner_gone_only_for_a_dead_process_of_this_host() -> None:
    assert temp_access.owner_gone(_dead_owner())
    assert not temp_access.owner_gone(temp_access.owner_token())
    assert not temp_access.owner_gone(temp_access.owner_token(1))
    assert not temp_access.owner_gone("another-host/12345/1")
    assert not temp_access.owner_gone("")


# --- dependents ---------------------------------------------------------------------------------


def test_wait_until_gone_waits_while_others_delete_and_refuses_when_idle() -> None:
    left = {"c1": "clone-1", "c2": "clone-2"}
    stop = threading.Event()

    def delete_slowly() -> None:
        with dependents.deleting("c1"):
            time.sleep(0.3)
            left.pop("c1")
        with dependents.deleting("c2"):
            time.sleep(0.3)
            left.pop("c2")

    t = threading.Thread(target=delete_slowly)
    t.start()
    assert dependents.wait_until_gone("snap", lambda: dict(left), stop, None, log, poll=0.05) == {}
    t.join()
    # Nothing else is being deleted and nothing goes: refused after `idle`, naming what is left.
    still = {"c3": "clone-3"}
    start = time.monotonic()
    got = dependents.wait_until_gone(
        "snap", lambda: dict(still), stop, None, log, idle=0.2, poll=0.05
    )
    assert got == still and time.monotonic() - start >= 0.2
    # A deadline too close: no wait at all.
    assert (
        dependents.wait_until_gone("snap", lambda: dict(still), stop, time.monotonic() + 1, log)
        == still
    )


# --- deletes send the offline request only when it is needed (_common.delete_volume) ----------


def _delete_ctx(nc: NimbleClient) -> Context:
    return Context(provider_data=nc, stop_event=threading.Event(), timeout=60)


@pytest.mark.parametrize(
    ("state_online", "array_online", "sent"),
    [
        (False, False, {"DELETE /v1/volumes/{id}": 1}),
        (True, True, {"PUT /v1/volumes/{id}": 1, "DELETE /v1/volumes/{id}": 1}),
        # state is stale: the array refuses (SM_eperm), the delete offlines and tries again
        (False, True, {"DELETE /v1/volumes/{id}": 2, "PUT /v1/volumes/{id}": 1}),
    ],
)
def test_delete_offlines_only_when_needed(
    sim: Any, nc: NimbleClient, state_online: bool, array_online: bool, sent: dict[str, int]
) -> None:
    vol = volumes.create_volume(nc, f"del-{state_online}-{array_online}", 16, online=array_online)
    sim.app.stats.reset()
    c.delete_volume(_delete_ctx(nc), vol.id, vol.name, "volume", was_online=state_online)
    assert sim.app.stats.to_json()["requests"] == sent
    assert volumes.get_volume(nc, vol.id) is None


def test_a_refused_delete_puts_back_online_only_what_it_took_offline(
    nc: NimbleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dependents, "IDLE", 0.0)
    monkeypatch.setattr(dependents, "POLL", 0.01)
    # (what state says, whether the array has it online): a volume with a clone stays
    for name, state_online, array_online in (
        ("refused-a", True, True),
        ("refused-b", False, True),
        ("refused-c", False, False),
    ):
        vol = volumes.create_volume(nc, name, 16)
        snap = snapshots.create_snapshot(nc, vol.id, "s")
        clone = volumes.clone_volume(nc, f"{name}-clone", snap.id)
        if not array_online:
            volumes.set_volume_online(nc, vol.id, False)
        with pytest.raises(DiagnosticError) as info:
            c.delete_volume(_delete_ctx(nc), vol.id, vol.name, "volume", was_online=state_online)
        assert clone.name in info.value.detail
        after = volumes.get_volume(nc, vol.id)
        assert after is not None and after.online == array_online, name
