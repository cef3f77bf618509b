"""Volumes: the real detail object, the array's validation rules and state rules."""

from __future__ import annotations

import re

import pytest
from sim_testkit import Api

PYDOC_VOLUME_KEYS = {
    "access_control_records",
    "agent_type",
    "app_category",
    "app_uuid",
    "avg_stats_last_5mins",
    "base_snap_id",
    "base_snap_name",
    "block_size",
    "cache_needed_for_pin",
    "cache_pinned",
    "cache_policy",
    "caching_enabled",
    "cksum_last_verified",
    "clone",
    "content_repl_errors_found",
    "creation_time",
    "dedupe_enabled",
    "description",
    "dest_pool_id",
    "dest_pool_name",
    "encryption_cipher",
    "fc_sessions",
    "folder_id",
    "folder_name",
    "full_name",
    "id",
    "iscsi_sessions",
    "iscsi_target_scope",
    "last_content_snap_br_cg_uid",
    "last_content_snap_br_gid",
    "last_content_snap_id",
    "last_modified",
    "last_replicated_snap",
    "last_snap",
    "limit",
    "limit_iops",
    "limit_mbps",
    "metadata",
    "move_aborting",
    "move_bytes_migrated",
    "move_bytes_remaining",
    "move_est_compl_time",
    "move_start_time",
    "multi_initiator",
    "name",
    "needs_content_repl",
    "num_connections",
    "num_fc_connections",
    "num_iscsi_connections",
    "num_snaps",
    "offline_reason",
    "online",
    "online_snaps",
    "owned_by_group",
    "owned_by_group_id",
    "parent_vol_id",
    "parent_vol_name",
    "perfpolicy_id",
    "perfpolicy_name",
    "pinned_cache_size",
    "pool_id",
    "pool_name",
    "previously_deduped",
    "projected_num_snaps",
    "protection_type",
    "read_only",
    "replication_role",
    "reserve",
    "search_name",
    "serial_number",
    "size",
    "snap_limit",
    "snap_limit_percent",
    "snap_reserve",
    "snap_usage_compressed_bytes",
    "snap_usage_populated_bytes",
    "snap_usage_uncompressed_bytes",
    "snap_warn_level",
    "space_usage_level",
    "srep_last_sync",
    "srep_resync_percent",
    "target_name",
    "thinly_provisioned",
    "total_usage_bytes",
    "upstream_cache_pinned",
    "usage_valid",
    "vol_state",
    "vol_usage_compressed_bytes",
    "vol_usage_mapped_bytes",
    "vol_usage_uncompressed_bytes",
    "volcoll_id",
    "volcoll_name",
    "vpd_ieee0",
    "vpd_ieee1",
    "vpd_t10",
    "warn_level",
}


def test_create_returns_the_real_detail_object(api: Api) -> None:
    r = api.post("/v1/volumes", {"name": "vol-1", "size": 2048, "description": "first"})
    assert r.status == 201
    vol = r.data
    assert set(vol) == PYDOC_VOLUME_KEYS
    group = api.get("/v1/groups/detail").data[0]
    policy = api.get("/v1/performance_policies/detail", name="default").data[0]
    pool = api.pool()
    assert vol["size"] == 2048 and vol["description"] == "first"
    assert vol["full_name"] == "default:/vol-1" and vol["search_name"] == "vol-1"
    assert (vol["perfpolicy_id"], vol["perfpolicy_name"]) == (policy["id"], "default")
    assert (vol["pool_id"], vol["pool_name"]) == (pool["id"], "default")
    assert vol["online"] is True and vol["vol_state"] == "online"
    assert vol["offline_reason"] is None
    assert vol["access_control_records"] is None and vol["online_snaps"] is None
    assert vol["metadata"] is None and vol["num_snaps"] == 0
    assert vol["clone"] is False and vol["parent_vol_id"] == "" and vol["base_snap_id"] == ""
    assert vol["thinly_provisioned"] is True and vol["block_size"] == 4096
    assert (vol["reserve"], vol["limit"], vol["agent_type"]) == (0, 100, "none")
    assert vol["snap_limit"] == 9223372036854775807 and vol["snap_limit_percent"] == -1
    assert vol["total_usage_bytes"] == 0 and vol["vol_usage_mapped_bytes"] == 0
    assert vol["owned_by_group"] == group["name"] == "group-sim"
    assert vol["owned_by_group_id"] == group["id"]
    assert isinstance(vol["creation_time"], int) and vol["last_modified"] >= vol["creation_time"]


@pytest.mark.parametrize("target_scope", ["volume"])
def test_ids_serial_and_target_name_formats(api: Api) -> None:
    a, b = api.volume("a"), api.volume("b")
    group = api.get("/v1/groups/detail").data[0]
    guid = group["id"][2:18]
    for vol, seq in ((a, 1), (b, 2)):
        assert re.fullmatch(r"06[0-9a-f]{16}0{16}[0-9a-f]{8}", vol["id"])
        assert vol["id"][2:18] == guid and int(vol["id"][-8:], 16) == seq
        serial = vol["serial_number"]
        assert re.fullmatch(r"[0-9a-f]{16}6c9ce900[0-9a-f]{8}", serial)
        assert vol["vpd_t10"] == "Nimble  " + serial
        assert (vol["vpd_ieee0"], vol["vpd_ieee1"]) == (serial[:16], serial[16:])
        tail = bytes.fromhex(serial[-8:])[::-1].hex()
        assert vol["target_name"] == (
            f"iqn.2007-11.com.nimblestorage:{vol['name']}-v{guid}.{vol['id'][-8:]}.{tail}"
        )
    assert group["id"].startswith("00") and api.pool()["id"].startswith("0a")
    assert api.get("/v1/arrays").data[0]["id"].startswith("09")
    assert api.get("/v1/performance_policies", name="default").data[0]["id"].startswith("03")


def test_group_scoped_volumes_report_the_group_iqn(api: Api) -> None:
    a, b = api.volume("a"), api.volume("b")
    group = api.get("/v1/groups/detail").data[0]
    guid = group["id"][2:18]
    for vol in (a, b):
        assert vol["iscsi_target_scope"] == "group"
        assert vol["target_name"] == f"iqn.2007-11.com.nimblestorage:group-sim-g{guid}"
        assert vol["multi_initiator"] is False
    assert a["serial_number"] != b["serial_number"]


@pytest.mark.parametrize(
    "name",
    ["", "-lead", ".lead", "has space", "under_score", "a/b", "a,b", "x" * 216, "semi;colon"],
)
def test_invalid_volume_names_are_refused(api: Api, name: str) -> None:
    r = api.post("/v1/volumes", {"name": name, "size": 10})
    assert r.status == 400
    assert r.codes == ["SM_http_bad_request", "SM_invalid_arg_value"]
    assert r.json["messages"][1]["text"].startswith("Invalid value")


@pytest.mark.parametrize("name", ["a", "A1:b.c-d", "9" * 215])
def test_valid_volume_names_are_accepted(api: Api, name: str) -> None:
    assert api.volume(name, 1)["name"] == name


def test_duplicate_volume_name_is_eexist(api: Api) -> None:
    api.volume("dup")
    r = api.post("/v1/volumes", {"name": "dup", "size": 10})
    assert r.status == 409
    assert r.codes == ["SM_http_conflict", "SM_eexist"]
    assert r.json["messages"][1]["text"] == "Object exists."


def test_missing_unexpected_and_malformed_arguments(api: Api) -> None:
    r = api.post("/v1/volumes", {"name": "nosize"})
    assert (r.status, r.code) == (400, "SM_missing_arg")
    assert r.json["messages"][1]["text"] == "Missing the argument 'size' in the request."
    r = api.post("/v1/volumes", {"size": 10})
    assert (r.status, r.code) == (400, "SM_missing_arg")
    r = api.post("/v1/volumes", {"name": "x", "size": 10, "colour": "red"})
    assert (r.status, r.code) == (400, "SM_unexpected_arg")
    assert r.json["messages"][1]["text"] == "Unexpected argument 'colour'."
    for bad in (
        {"size": "ten"},
        {"size": 0},
        {"size": True},
        {"online": "yes"},
        {"reserve": 101},
        {"perfpolicy_id": "nope"},
        {"agent_type": "x"},
    ):
        r = api.post("/v1/volumes", {"name": "x", "size": 10, **bad})
        assert (r.status, r.code) == (400, "SM_invalid_arg_value"), bad
    for raw in (
        b'{"data": {"name": "x", "size": Infinity}}',
        b'{"data": {"name": "x", "size": NaN}}',
        b'{"data": {"name": "x", "size": 1.5}}',
    ):
        r = api.request("POST", "/v1/volumes", body=raw)
        assert (r.status, r.code) == (400, "SM_invalid_arg_value"), raw
    assert api.get("/v1/volumes").json["totalRows"] == 0


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe",
        b"{}",
        b'{"data": 5}',
        b'{"data": {}, "extra": 1}',
        b"null",
    ],
)
def test_bad_bodies_are_400_never_500(api: Api, body: bytes) -> None:
    for method, path in (("POST", "/v1/volumes"), ("PUT", f"/v1/volumes/{'06' + '0' * 40}")):
        r = api.request(method, path, body=body)
        assert r.status == 400, (method, body, r.json)
        assert r.codes[0] == "SM_http_bad_request"


def test_lenient_typing_coerces_strings(api: Api) -> None:
    vol = api.volume(
        "lenient", "1024", online="false", read_only="false", reserve="10", limit_iops="1000"
    )
    assert (vol["size"], vol["online"], vol["read_only"]) == (1024, False, False)
    assert (vol["reserve"], vol["limit_iops"]) == (10, 1000)
    r = api.put(f"/v1/volumes/{vol['id']}", {"online": "true", "size": "2048"})
    assert r.status == 200 and (r.data["online"], r.data["size"]) == (True, 2048)


def test_malformed_and_unknown_ids(api: Api) -> None:
    for bad in ("123", "zz" * 21, "06" + "0" * 39, "06" + "0" * 41):
        r = api.get(f"/v1/volumes/{bad}")
        assert (r.status, r.code) == (400, "SM_invalid_path_variable"), bad
    unknown = "06" + "1" * 40
    for method in ("GET", "PUT", "DELETE"):
        r = api.request(
            method, f"/v1/volumes/{unknown}", {"description": "x"} if method == "PUT" else None
        )
        assert r.status == 404 and r.codes == ["SM_http_not_found", "SM_enoent"]
        assert "No such object" in r.json["messages"][1]["text"]
    vol = api.volume("v")
    assert api.get(f"/v1/snapshots/{vol['id']}").status == 404  # right shape, wrong set


def test_get_by_id_with_fields_omits_id(api: Api) -> None:
    vol = api.volume("f")
    r = api.get(f"/v1/volumes/{vol['id']}", fields="name,size,online")
    assert r.data == {"name": "f", "size": 1024, "online": True}


def test_grow_online_and_shrink_needs_force(api: Api) -> None:
    vol = api.volume("resize", 1024)
    r = api.put(f"/v1/volumes/{vol['id']}", {"size": 4096})
    assert (r.status, r.data["size"], r.data["online"]) == (200, 4096, True)
    r = api.put(f"/v1/volumes/{vol['id']}", {"size": 2048})
    assert (r.status, r.code) == (409, "SM_vol_size_decreased")
    assert "Use force option" in r.json["messages"][1]["text"]
    assert api.get(f"/v1/volumes/{vol['id']}").data["size"] == 4096
    r = api.put(f"/v1/volumes/{vol['id']}", {"size": 2048, "force": True})
    assert (r.status, r.data["size"]) == (200, 2048)
    r = api.request("PUT", f"/v1/volumes/{vol['id']}", {"size": 1024}, params={"force": "true"})
    assert (r.status, r.data["size"]) == (200, 1024)


def test_offline_online_and_idempotence(api: Api) -> None:
    vol = api.volume("state")
    off = api.offline(vol["id"])
    assert (off["online"], off["vol_state"], off["offline_reason"]) == (False, "offline", "user")
    assert api.offline(vol["id"])["online"] is False  # offline again: a no-op for volumes
    r = api.put(f"/v1/volumes/{vol['id']}", {"online": True})
    assert (r.data["online"], r.data["offline_reason"]) == (True, None)


def test_offline_with_connections_needs_force(api: Api) -> None:
    vol = api.volume("busy")
    r = api.admin("PUT", f"/sim/volumes/{vol['id']}/connections", {"count": 2})
    assert r.status == 200 and r.data["connections"] == 2
    assert api.get(f"/v1/volumes/{vol['id']}").data["num_connections"] == 2
    r = api.put(f"/v1/volumes/{vol['id']}", {"online": False})
    assert (r.status, r.code) == (409, "SM_vol_has_connections")
    assert "Initiators are connected to" in r.json["messages"][1]["text"]
    off = api.offline(vol["id"], force=True)
    assert off["online"] is False and off["num_connections"] == 0


def test_delete_rules(api: Api) -> None:
    vol = api.volume("del")
    r = api.delete(f"/v1/volumes/{vol['id']}")
    assert (r.status, r.codes) == (409, ["SM_http_conflict", "SM_eperm"])
    snap = api.snapshot(vol["id"], "s-online", online=True)
    api.snapshot(vol["id"], "s-offline")
    api.offline(vol["id"])
    r = api.delete(f"/v1/volumes/{vol['id']}")
    assert (r.status, r.code) == (409, "SM_vol_has_online_snap")
    assert api.put(f"/v1/snapshots/{snap['id']}", {"online": False}).status == 200
    r = api.delete(f"/v1/volumes/{vol['id']}")
    assert (r.status, r.json) == (200, {})
    assert api.get(f"/v1/volumes/{vol['id']}").status == 404
    assert api.get(f"/v1/snapshots/{snap['id']}").status == 404
    assert api.get("/v1/snapshots", vol_id=vol["id"]).json["totalRows"] == 0


def test_delete_refused_while_clones_exist(api: Api) -> None:
    parent = api.volume("parent")
    snap = api.snapshot(parent["id"], "base")
    clone = api.clone("child", snap["id"])
    api.offline(parent["id"])
    r = api.delete(f"/v1/volumes/{parent['id']}")
    assert (r.status, r.code) == (409, "SM_vol_has_clone")
    assert "has a clone" in r.json["messages"][1]["text"]
    r = api.delete(f"/v1/snapshots/{snap['id']}")
    assert (r.status, r.code) == (409, "SM_snap_has_clone")
    assert r.json["messages"][1]["text"] == "Snapshot base for volume parent has a clone."
    api.offline(clone["id"])
    assert api.delete(f"/v1/volumes/{clone['id']}").status == 200
    assert api.delete(f"/v1/volumes/{parent['id']}").status == 200


def test_clone_inherits_and_reads_back_lineage(api: Api) -> None:
    policy = api.get("/v1/performance_policies", name="SQL Server").data[0]
    parent = api.volume("p", 3000, perfpolicy_id=policy["id"], limit_iops=5000)
    snap = api.snapshot(parent["id"], "snap")
    clone = api.clone("c", snap["id"])
    assert clone["clone"] is True and clone["size"] == 3000
    assert (clone["parent_vol_id"], clone["parent_vol_name"]) == (parent["id"], "p")
    assert (clone["base_snap_id"], clone["base_snap_name"]) == (snap["id"], "snap")
    assert clone["perfpolicy_id"] == policy["id"] and clone["block_size"] == 8192
    assert clone["limit_iops"] == 5000
    bigger = api.clone("c2", snap["id"], size=4000, description="big")
    assert bigger["size"] == 4000 and bigger["description"] == "big"
    r = api.post(
        "/v1/volumes", {"name": "c3", "clone": True, "base_snap_id": snap["id"], "size": 100}
    )
    assert (r.status, r.code) == (400, "SM_invalid_arg_value")
    r = api.post("/v1/volumes", {"name": "c4", "clone": True})
    assert (r.status, r.code) == (400, "SM_missing_arg")
    r = api.post("/v1/volumes", {"name": "c5", "clone": "true", "base_snap_id": "04" + "f" * 40})
    assert (r.status, r.code) == (404, "SM_enoent")


def test_restore_requires_offline_and_own_snapshot(api: Api) -> None:
    vol = api.volume("r")
    other = api.volume("other")
    snap = api.snapshot(vol["id"], "s")
    foreign = api.snapshot(other["id"], "s")
    path = f"/v1/volumes/{vol['id']}/actions/restore"
    r = api.post(path, {"id": vol["id"], "base_snap_id": snap["id"]})
    assert (r.status, r.code) == (409, "SM_vol_not_offline_on_restore")
    api.offline(vol["id"])
    r = api.post(path, {"id": vol["id"], "base_snap_id": foreign["id"]})
    assert (r.status, r.code) == (400, "SM_invalid_arg_value")
    r = api.post(path, {"id": vol["id"], "base_snap_id": snap["id"]})
    assert r.status == 200 and r.data["id"] == vol["id"]


@pytest.mark.parametrize("target_scope", ["group", "volume"])
def test_rename_keeps_target_and_checks_uniqueness(api: Api) -> None:
    a, _ = api.volume("a"), api.volume("b")
    r = api.put(f"/v1/volumes/{a['id']}", {"name": "b"})
    assert (r.status, r.code) == (409, "SM_eexist")
    r = api.put(f"/v1/volumes/{a['id']}", {"name": "a2", "id": a["id"]})
    assert r.status == 200 and r.data["name"] == "a2"
    assert r.data["target_name"] == a["target_name"]
    assert r.data["full_name"] == "default:/a2"
    r = api.put(f"/v1/volumes/{a['id']}", {"id": "06" + "0" * 40})
    assert (r.status, r.code) == (400, "SM_invalid_arg_value")


def test_metadata_merges_and_deletes_keys(api: Api) -> None:
    vol = api.volume("m", metadata=[{"key": "k1", "value": "v1"}, {"key": "k2", "value": "v2"}])
    assert vol["metadata"] == [{"key": "k1", "value": "v1"}, {"key": "k2", "value": "v2"}]
    r = api.put(
        f"/v1/volumes/{vol['id']}",
        {"metadata": [{"key": "k1", "value": ""}, {"key": "k3", "value": "v3"}]},
    )
    assert r.data["metadata"] == [{"key": "k2", "value": "v2"}, {"key": "k3", "value": "v3"}]
    r = api.put(f"/v1/volumes/{vol['id']}", {"metadata": [{"key": "k"}]})
    assert (r.status, r.code) == (400, "SM_invalid_arg_value")


def test_perfpolicy_change_needs_same_block_size(api: Api) -> None:
    vol = api.volume("pp")
    sql = api.get("/v1/performance_policies", name="SQL Server").data[0]
    esx = api.get("/v1/performance_policies", name="VMware ESX").data[0]
    r = api.put(f"/v1/volumes/{vol['id']}", {"perfpolicy_id": sql["id"]})
    assert (r.status, r.code) == (400, "SM_invalid_arg_value")
    r = api.put(f"/v1/volumes/{vol['id']}", {"perfpolicy_id": esx["id"]})
    assert r.status == 200 and r.data["perfpolicy_name"] == "VMware ESX"


def test_bulk_set_online_and_offline(api: Api) -> None:
    ids = [api.volume(f"bulk-{i}")["id"] for i in range(3)]
    r = api.post(
        "/v1/volumes/actions/bulk_set_online_and_offline", {"vol_ids": ids, "online": False}
    )
    assert r.status == 200
    assert all(not api.get(f"/v1/volumes/{i}").data["online"] for i in ids)


def test_unknown_routes_and_methods(api: Api) -> None:
    assert api.get("/v1/nothing").status == 404
    r = api.request("PATCH", "/v1/volumes")
    assert r.status == 405 and r.codes == ["SM_http_method_not_allowed"]
    assert api.request("POST", "/v1/pools", {"name": "p2"}).status == 405
    vol = api.volume("act")
    assert api.post(f"/v1/volumes/{vol['id']}/actions/nope", {"id": vol["id"]}).status == 404
