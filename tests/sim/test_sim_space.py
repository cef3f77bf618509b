"""Honest space accounting: zero-copy clones, written data, reservations, SM_enospc."""

from __future__ import annotations

from pathlib import Path

from sim_testkit import Api
from tfnimble.sim.server import SimServer

MIB, GIB = 1 << 20, 1 << 30


def _write(api: Api, vol_id: str, nbytes: int, overwrite: bool = False) -> dict:
    r = api.admin("POST", f"/sim/volumes/{vol_id}/write", {"bytes": nbytes, "overwrite": overwrite})
    assert r.status == 200, r.json
    return r.data


def test_twenty_clones_of_an_image_cost_nothing_until_written(api: Api) -> None:
    image = api.volume("image", 10 * 1024)
    after_write = _write(api, image["id"], 10 * GIB)
    assert after_write["vol_usage_uncompressed_bytes"] == 10 * GIB
    assert after_write["total_usage_bytes"] == 10 * GIB
    snap = api.snapshot(image["id"], "golden")
    before = api.pool()
    clones = [api.clone(f"vm-{i}", snap["id"]) for i in range(20)]
    after = api.pool()
    assert after["usage"] == before["usage"] == 10 * GIB
    assert after["free_space"] == before["free_space"]
    assert all(c["size"] == 10 * 1024 and c["total_usage_bytes"] == 0 for c in clones)
    written = _write(api, clones[0]["id"], 300 * MIB)
    assert written["vol_usage_compressed_bytes"] == 300 * MIB
    assert api.pool()["usage"] == 10 * GIB + 300 * MIB
    group = api.get("/v1/groups/detail").data[0]
    assert group["usage"] == 10 * GIB + 300 * MIB
    assert group["free_space"] == api.pool()["free_space"]


def test_writes_are_capped_at_the_volume_size(api: Api) -> None:
    vol = api.volume("small", 10)
    assert _write(api, vol["id"], 1 << 40)["vol_usage_mapped_bytes"] == 10 * MIB
    shrunk = api.put(f"/v1/volumes/{vol['id']}", {"size": 4, "force": True}).data
    assert shrunk["vol_usage_mapped_bytes"] == 4 * MIB


def test_overwrite_after_snapshot_moves_blocks_to_the_snapshot(api: Api) -> None:
    vol = api.volume("db", 1024)
    _write(api, vol["id"], 100 * MIB)
    snap = api.snapshot(vol["id"], "before")
    after = _write(api, vol["id"], 30 * MIB, overwrite=True)
    assert after["vol_usage_uncompressed_bytes"] == 100 * MIB
    assert after["snap_usage_uncompressed_bytes"] == 30 * MIB
    assert after["total_usage_bytes"] == 130 * MIB
    s = api.get(f"/v1/snapshots/{snap['id']}").data
    assert s["new_data_uncompressed_bytes"] == 30 * MIB
    assert api.pool()["usage"] == 130 * MIB
    api.offline(vol["id"])
    assert api.delete(f"/v1/volumes/{vol['id']}").status == 200
    assert api.pool()["usage"] == 0


def test_restore_discards_data_written_after_the_snapshot(api: Api) -> None:
    vol = api.volume("r", 1024)
    _write(api, vol["id"], 10 * MIB)
    snap = api.snapshot(vol["id"], "s")
    _write(api, vol["id"], 50 * MIB)
    api.offline(vol["id"])
    r = api.post(
        f"/v1/volumes/{vol['id']}/actions/restore", {"id": vol["id"], "base_snap_id": snap["id"]}
    )
    assert r.data["vol_usage_uncompressed_bytes"] == 10 * MIB


def test_reservations_hold_space_and_refuse_overcommit(tmp_path: Path) -> None:
    with SimServer(tmp_path, port=0, pool_capacity=100 * GIB) as sim:
        api = Api(sim.url, sim.ca_file, "admin", "admin")
        assert api.pool()["capacity"] == 100 * GIB
        thin = api.volume("thin", 1024 * 1024)  # 1 TiB thin: over-provisioning is allowed
        assert thin["reserve"] == 0 and api.pool()["free_space"] == 100 * GIB
        thick = api.volume("thick", 40 * 1024, reserve=100)
        pool = api.pool()
        assert (pool["reserve"], pool["unused_reserve"]) == (40 * GIB, 40 * GIB)
        assert pool["free_space"] == 60 * GIB and pool["usage"] == 0
        _write(api, thick["id"], 10 * GIB)  # writes consume the volume's own reservation
        pool = api.pool()
        assert (pool["usage"], pool["unused_reserve"], pool["free_space"]) == (
            10 * GIB,
            30 * GIB,
            60 * GIB,
        )
        r = api.post("/v1/volumes", {"name": "too-big", "size": 61 * 1024, "reserve": 100})
        assert (r.status, r.codes) == (409, ["SM_http_conflict", "SM_enospc"])
        assert r.json["messages"][1]["text"] == "Available space insufficient for operation."
        assert api.get("/v1/volumes", name="too-big").data == []
        r = api.put(f"/v1/volumes/{thick['id']}", {"size": 101 * 1024})
        assert (r.status, r.code) == (409, "SM_enospc")
        r = api.put(f"/v1/volumes/{thin['id']}", {"reserve": 10})
        assert (r.status, r.code) == (409, "SM_enospc")
        assert api.put(f"/v1/volumes/{thick['id']}", {"size": 100 * 1024}).status == 200
        assert api.pool()["free_space"] == 0
        r = api.admin("POST", f"/sim/volumes/{thin['id']}/write", {"bytes": 1})
        assert (r.status, r.code) == (409, "SM_enospc")
        _write(api, thick["id"], 90 * GIB)  # inside its own reservation
        assert api.get(f"/v1/volumes/{thick['id']}").data["space_usage_level"] == "critical"


def test_pool_and_array_report_counts(api: Api) -> None:
    vol = api.volume("a")
    api.snapshot(vol["id"], "s")
    pool = api.pool()
    assert (pool["vol_count"], pool["snap_count"], pool["name"], pool["is_default"]) == (
        1,
        1,
        "default",
        True,
    )
    assert pool["capacity"] == 10 * (1 << 40)
    assert pool["vol_list"] == [
        {"id": vol["id"], "name": "a", "vol_id": vol["id"], "vol_name": "a"}
    ]
    array = api.get("/v1/arrays/detail").data[0]
    assert array["usable_capacity_bytes"] == pool["capacity"]
    assert array["available_bytes"] == pool["free_space"]
