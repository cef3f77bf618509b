"""Object functions (volumes, clones, snapshots, initiator groups, ACRs) against the fake."""

from __future__ import annotations

import time
from typing import Any

import pytest
from nimble_fake_array import FakeArray
from tfnimble.nimble.client import (
    Conflict,
    Initiator,
    LostResponseMismatch,
    NimbleClient,
    NotFound,
    access_control_records,
    initiator_groups,
    performance_policies,
    pools,
    snapshots,
    volumes,
)


def _snap(fake: FakeArray, vol_size: int = 1024) -> tuple[dict[str, Any], dict[str, Any]]:
    vol = fake.add(
        "volumes",
        {"name": "master", "size": vol_size, "online": True, "clone": False, "base_snap_id": ""},
    )
    snap = fake.add(
        "snapshots", {"name": "base", "vol_id": vol["id"], "vol_name": "master", "size": vol_size}
    )
    return vol, snap


# ------------------------------------------------------------------ lost-response creates


@pytest.mark.parametrize("lost", ["lost", "chunked", "read_timeout"])
def test_create_volume_lost_response_adopts_matching_volume(
    client: NimbleClient, fake: FakeArray, lost: str
) -> None:
    fake.fault("POST", "/volumes", lost)  # applied, then the response never arrived
    vol = volumes.create_volume(client, "v1", 2048)
    assert vol.name == "v1" and vol.size_mib == 2048
    assert len(fake.objects["volumes"]) == 1
    assert fake.count("POST", "/volumes") == 1  # no duplicate POST


def test_create_volume_lost_response_refuses_mismatch(
    client: NimbleClient, fake: FakeArray
) -> None:
    fake.add("volumes", {"name": "v1", "size": 10, "online": True, "clone": False})
    fake.fault("POST", "/volumes", "lost_noapply")
    with pytest.raises(LostResponseMismatch) as info:
        volumes.create_volume(client, "v1", 2048)
    assert "size 10 MiB, asked 2048 MiB" in str(info.value)


def test_create_volume_lost_before_applied_is_resent_once(
    client: NimbleClient, fake: FakeArray
) -> None:
    fake.fault("POST", "/volumes", "lost_noapply")
    vol = volumes.create_volume(client, "v1", 2048)
    assert vol.size_mib == 2048 and len(fake.objects["volumes"]) == 1
    assert fake.count("POST", "/volumes") == 2


def test_clone_lost_response_adopts_clone_of_same_snapshot(
    client: NimbleClient, fake: FakeArray
) -> None:
    _, snap = _snap(fake)
    fake.fault("POST", "/volumes", "lost")
    clone = volumes.clone_volume(client, "c1", snap["id"])
    assert clone.clone and clone.base_snap_id == snap["id"] and clone.size_mib == 1024
    assert sum(1 for v in fake.objects["volumes"].values() if v["name"] == "c1") == 1


def test_clone_lost_response_refuses_clone_of_other_snapshot(
    client: NimbleClient, fake: FakeArray
) -> None:
    _, snap = _snap(fake)
    fake.add("volumes", {"name": "c1", "size": 1024, "clone": True, "base_snap_id": "other"})
    fake.fault("POST", "/volumes", "lost_noapply")
    with pytest.raises(LostResponseMismatch, match="not a clone of snapshot"):
        volumes.clone_volume(client, "c1", snap["id"])


def test_clone_lost_response_refuses_old_clone(client: NimbleClient, fake: FakeArray) -> None:
    _, snap = _snap(fake)
    fake.add(
        "volumes",
        {
            "name": "c1",
            "size": 1024,
            "clone": True,
            "base_snap_id": snap["id"],
            "creation_time": int(time.time()) - 86400,
        },
    )
    fake.fault("POST", "/volumes", "lost_noapply")
    with pytest.raises(LostResponseMismatch, match="time window"):
        volumes.clone_volume(client, "c1", snap["id"])


def test_clone_larger_than_snapshot_grows_after_create(
    client: NimbleClient, fake: FakeArray
) -> None:
    _, snap = _snap(fake)
    clone = volumes.clone_volume(client, "c1", snap["id"], size_mib=4096)
    assert clone.size_mib == 4096
    post = next(c for c in fake.calls if c.method == "POST" and c.path == "/volumes")
    assert post.body == {
        "data": {
            "name": "c1",
            "clone": True,
            "base_snap_id": snap["id"],
            "online": True,
            "metadata": [{"key": "tfnimble-created-by", "value": "terraform-provider-nimble"}],
        }
    }
    assert fake.count("PUT", "/volumes/") == 1


def test_create_snapshot_lost_response_adopts_same_volume(
    client: NimbleClient, fake: FakeArray
) -> None:
    vol, _ = _snap(fake)
    fake.fault("POST", "/snapshots", "lost")
    snap = snapshots.create_snapshot(client, vol["id"], "s2", online=False)
    assert snap.vol_id == vol["id"] and snap.name == "s2"
    assert len(fake.objects["snapshots"]) == 2


# ------------------------------------------------------------------ lost-response PUT/DELETE


def test_delete_lost_response_then_404_is_success(client: NimbleClient, fake: FakeArray) -> None:
    vol = fake.add("volumes", {"name": "v1", "size": 1, "online": False})
    fake.fault("DELETE", "/volumes/", "lost")
    volumes.delete_volume(client, vol["id"])
    assert fake.objects["volumes"] == {}
    assert fake.count("DELETE", "/volumes/") == 2


def test_put_lost_response_then_conflict_rereads_and_accepts(
    client: NimbleClient, fake: FakeArray
) -> None:
    vol = fake.add("volumes", {"name": "v1", "size": 1, "online": True})
    fake.fault("PUT", "/volumes/", "lost")
    got = volumes.update_volume(client, vol["id"], online=False)  # retry gets SM_ealready
    assert got.online is False


def test_put_conflict_without_lost_response_is_raised(
    client: NimbleClient, fake: FakeArray
) -> None:
    vol = fake.add("volumes", {"name": "v1", "size": 100, "online": True})
    with pytest.raises(Conflict) as info:
        volumes.update_volume(client, vol["id"], size_mib=50)
    assert info.value.code == "SM_vol_size_decreased"
    assert volumes.update_volume(client, vol["id"], size_mib=50, force=True).size_mib == 50


# ------------------------------------------------------------------ volumes


def test_set_volume_online_treats_already_as_success(client: NimbleClient, fake: FakeArray) -> None:
    vol = fake.add("volumes", {"name": "v1", "size": 1, "online": True})
    assert volumes.set_volume_online(client, vol["id"], True).online is True


def test_offline_and_delete_tolerates_offline_and_missing(
    client: NimbleClient, fake: FakeArray
) -> None:
    on = fake.add("volumes", {"name": "on", "size": 1, "online": True})
    off = fake.add("volumes", {"name": "off", "size": 1, "online": False})
    volumes.offline_and_delete_volume(client, on["id"])
    volumes.offline_and_delete_volume(client, off["id"])
    volumes.offline_and_delete_volume(client, on["id"])  # already gone
    assert fake.objects["volumes"] == {}


def test_delete_online_volume_is_refused(client: NimbleClient, fake: FakeArray) -> None:
    vol = fake.add("volumes", {"name": "v1", "size": 1, "online": True})
    with pytest.raises(Conflict, match="SM_eperm"):
        volumes.delete_volume(client, vol["id"])
    volumes.delete_volume(client, "06" + "f" * 40, missing_ok=True)


def test_list_volumes_walks_every_page(client: NimbleClient, fake: FakeArray) -> None:
    fake.page_size = 2
    for i in range(5):
        fake.add("volumes", {"name": f"v{i}", "size": i + 1})
    assert [v.name for v in volumes.list_volumes(client)] == [f"v{i}" for i in range(5)]
    starts = [c.query.get("startRow") for c in fake.calls if c.path == "/volumes/detail"]
    assert starts == [None, "2", "4"]


def test_find_volume_by_name_uses_filter(client: NimbleClient, fake: FakeArray) -> None:
    fake.add("volumes", {"name": "a", "size": 1})
    fake.add("volumes", {"name": "b", "size": 2})
    found = volumes.find_volume_by_name(client, "b")
    assert found is not None and found.size_mib == 2
    assert fake.calls[-1].query == {"name": "b"}
    assert volumes.find_volume_by_name(client, "zzz") is None


def test_restore_volume_posts_action(client: NimbleClient, fake: FakeArray) -> None:
    vol, snap = _snap(fake)
    volumes.restore_volume(client, vol["id"], snap["id"])
    call = fake.calls[-1]
    assert call.path == f"/volumes/{vol['id']}/actions/restore"
    assert call.body == {"data": {"id": vol["id"], "base_snap_id": snap["id"]}}


def test_list_clones_of_snapshot(client: NimbleClient, fake: FakeArray) -> None:
    _, snap = _snap(fake)
    volumes.clone_volume(client, "c1", snap["id"])
    volumes.clone_volume(client, "c2", snap["id"])
    assert sorted(v.name for v in snapshots.list_clones_of_snapshot(client, snap["id"])) == [
        "c1",
        "c2",
    ]


def test_async_job_is_awaited(client: NimbleClient, fake: FakeArray) -> None:
    vol = fake.add("volumes", {"name": "v1", "size": 1, "online": True})
    job = fake.add("jobs", {"state": "done", "result": "succeeded", "object_id": vol["id"]})
    original = fake._route

    def route(
        method: str, path: str, query: dict[str, str], body: Any, token: str | None
    ) -> tuple[int, Any]:
        if method == "PUT":
            original(method, path, query, body, token)
            return 202, {
                "messages": [
                    {
                        "code": "SM_async_job_id",
                        "severity": "info",
                        "arguments": {"job_id": job["id"]},
                    }
                ]
            }
        return original(method, path, query, body, token)

    fake._route = route  # type: ignore[method-assign]
    assert volumes.update_volume(client, vol["id"], description="x").description == "x"


# ------------------------------------------------------------------ other objects


def test_snapshot_lifecycle(client: NimbleClient, fake: FakeArray) -> None:
    vol, _ = _snap(fake)
    snap = snapshots.create_snapshot(client, vol["id"], "s1", description="d")
    assert snapshots.find_snapshot_by_name(client, vol["id"], "s1") == snap
    assert [s.name for s in snapshots.list_snapshots(client, vol["id"])] == ["base", "s1"]
    assert snapshots.set_snapshot_online(client, snap.id, False).online is False
    snapshots.delete_snapshot(client, snap.id)
    assert snapshots.get_snapshot(client, snap.id) is None


def test_initiator_group_create_and_replace_members(client: NimbleClient, fake: FakeArray) -> None:
    iqn1, iqn2 = "iqn.1993-08.org.debian:01:aaa", "iqn.1993-08.org.debian:01:bbb"
    ig = initiator_groups.create_initiator_group(client, "hosts", [iqn1], description="d")
    assert ig.iqns == (iqn1,) and ig.access_protocol == "iscsi"
    post = next(c for c in fake.calls if c.method == "POST" and c.path == "/initiator_groups")
    assert post.body["data"]["iscsi_initiators"] == [{"label": iqn1, "iqn": iqn1}]
    ig = initiator_groups.update_initiator_group(
        client, ig.id, initiators=[iqn2, Initiator("x", ip_address="10.0.0.1")]
    )
    assert ig.iqns == (iqn2,)
    put = fake.calls[-1]
    assert put.body["data"]["iscsi_initiators"] == [
        {"label": iqn2, "iqn": iqn2},
        {"label": "x", "ip_address": "10.0.0.1"},
    ]
    assert initiator_groups.find_initiator_group_by_name(client, "hosts") == ig
    initiator_groups.delete_initiator_group(client, ig.id)
    assert initiator_groups.get_initiator_group(client, ig.id) is None


def test_initiator_labels_are_valid_and_stable() -> None:
    long_iqn = "iqn.2004-10.com.example:" + "x" * 80
    (a,) = initiator_groups.initiators_from_iqns([long_iqn])
    (b,) = initiator_groups.initiators_from_iqns([long_iqn])
    assert a.label == b.label and len(a.label) <= 64
    (c,) = initiator_groups.initiators_from_iqns(["iqn.x_y/z"])
    assert c.label == "iqn.x-y-z"


def test_access_control_record_create_find_delete(client: NimbleClient, fake: FakeArray) -> None:
    vol, _ = _snap(fake)
    ig = initiator_groups.create_initiator_group(client, "hosts", [])
    fake.fault("POST", "/access_control_records", "lost")
    acr = access_control_records.create_access_control_record(client, vol["id"], ig.id)
    assert (acr.vol_id, acr.initiator_group_id, acr.apply_to) == (vol["id"], ig.id, "both")
    assert access_control_records.find_access_control_record(client, vol["id"], ig.id) == acr
    access_control_records.delete_access_control_record(client, acr.id)
    with pytest.raises(NotFound):
        access_control_records.delete_access_control_record(client, acr.id)


def test_pools_and_policies_by_name(client: NimbleClient) -> None:
    pool = pools.find_pool_by_name(client, "default")
    assert pool is not None and pool.is_default and pools.get_pool(client, pool.id) == pool
    assert pools.find_pool_by_name(client, "nope") is None
    assert [p.name for p in pools.list_pools(client)] == ["default"]
    pol = performance_policies.find_performance_policy_by_name(client, "default")
    assert pol is not None and pol.block_size == 4096
    assert performance_policies.get_performance_policy(client, pol.id) == pol
    assert len(performance_policies.list_performance_policies(client)) == 1
