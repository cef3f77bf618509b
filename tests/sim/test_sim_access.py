"""Snapshots, initiator groups, initiators and access control records."""

from __future__ import annotations

import re

import pytest
from sim_testkit import Api

IQN_A = "iqn.1993-08.org.debian:01:aaaa"
IQN_B = "iqn.1993-08.org.debian:01:bbbb"


def test_snapshot_defaults_and_uniqueness_per_volume(api: Api) -> None:
    v1, v2 = api.volume("v1", 2048), api.volume("v2")
    snap = api.snapshot(v1["id"], "daily", description="d")
    assert re.fullmatch(r"04[0-9a-f]{40}", snap["id"])
    assert (snap["online"], snap["writable"], snap["vol_id"], snap["vol_name"]) == (
        False,
        False,
        v1["id"],
        "v1",
    )
    assert snap["size"] == 2048 * 1024 * 1024  # bytes, as HPE's spec says
    assert re.fullmatch(r"[0-9a-f]{16}6c9ce900[0-9a-f]{8}", snap["serial_number"])
    r = api.post("/v1/snapshots", {"name": "daily", "vol_id": v1["id"]})
    assert (r.status, r.code) == (409, "SM_eexist")
    api.snapshot(v2["id"], "daily")  # same name on another volume is fine
    vol = api.get(f"/v1/volumes/{v1['id']}").data
    assert vol["num_snaps"] == 1 and vol["last_snap"]["snap_id"] == snap["id"]
    for bad in ({"name": "x y", "vol_id": v1["id"]}, {"name": "ok", "vol_id": "bad"}):
        r = api.post("/v1/snapshots", bad)
        assert (r.status, r.code) == (400, "SM_invalid_arg_value")
    r = api.post("/v1/snapshots", {"name": "ok"})
    assert (r.status, r.code) == (400, "SM_missing_arg")


def test_snapshot_list_needs_a_filter(api: Api) -> None:
    vol = api.volume("v")
    api.snapshot(vol["id"], "s1")
    r = api.get("/v1/snapshots")
    assert (r.status, r.code) == (400, "SM_missing_arg")
    assert [s["name"] for s in api.get("/v1/snapshots", vol_id=vol["id"]).data] == ["s1"]
    found = api.get("/v1/snapshots/detail", name="s1", vol_name="v").data
    assert len(found) == 1 and found[0]["vol_id"] == vol["id"]


def test_snapshot_online_offline_and_delete(api: Api) -> None:
    vol = api.volume("v")
    snap = api.snapshot(vol["id"], "s", online=True)
    assert snap["online"] is True
    listed = api.get(f"/v1/volumes/{vol['id']}").data["online_snaps"]
    assert listed == [{"id": snap["id"], "snap_id": snap["id"], "name": "s", "snap_name": "s"}]
    r = api.put(f"/v1/snapshots/{snap['id']}", {"online": True})
    assert (r.status, r.code) == (409, "SM_ealready")
    assert "Object is already in requested state" in r.json["messages"][1]["text"]
    r = api.delete(f"/v1/snapshots/{snap['id']}")
    assert (r.status, r.code) == (409, "SM_eperm")
    assert api.put(f"/v1/snapshots/{snap['id']}", {"online": "false"}).status == 200
    assert api.delete(f"/v1/snapshots/{snap['id']}").json == {}
    assert api.get(f"/v1/snapshots/{snap['id']}").status == 404


def test_initiator_group_with_inline_initiators(api: Api) -> None:
    r = api.post(
        "/v1/initiator_groups",
        {
            "name": "hosts",
            "access_protocol": "iscsi",
            "description": "d",
            "iscsi_initiators": [
                {"label": "a", "iqn": IQN_A, "ip_address": "10.0.0.1"},
                {"label": "b", "iqn": IQN_B},
            ],
        },
    )
    assert r.status == 201
    ig = r.data
    assert re.fullmatch(r"02[0-9a-f]{40}", ig["id"])
    inits = ig["iscsi_initiators"]
    assert [(i["label"], i["iqn"], i["ip_address"]) for i in inits] == [
        ("a", IQN_A, "10.0.0.1"),
        ("b", IQN_B, "*"),
    ]
    assert all(i["id"] == i["initiator_id"] for i in inits)
    r = api.put(
        f"/v1/initiator_groups/{ig['id']}", {"iscsi_initiators": [{"label": "c", "iqn": IQN_B}]}
    )
    assert [(i["label"], i["iqn"]) for i in r.data["iscsi_initiators"]] == [("c", IQN_B)]
    listed = api.get("/v1/initiators/detail", initiator_group_id=ig["id"]).data
    assert [(i["label"], i["initiator_group_name"]) for i in listed] == [("c", "hosts")]
    r = api.post("/v1/initiator_groups", {"name": "hosts", "access_protocol": "iscsi"})
    assert (r.status, r.code) == (409, "SM_eexist")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "g"}, 400, "SM_missing_arg"),
        ({"name": "g", "access_protocol": "nfs"}, 400, "SM_invalid_arg_value"),
        ({"name": "bad name", "access_protocol": "iscsi"}, 400, "SM_invalid_arg_value"),
        ({"name": "g" * 65, "access_protocol": "iscsi"}, 400, "SM_invalid_arg_value"),
        ({"name": "g", "access_protocol": "fc"}, 409, "SM_fc_svc_not_available"),
        (
            {"name": "g", "access_protocol": "iscsi", "iscsi_initiators": [{"iqn": IQN_A}]},
            400,
            "SM_missing_arg",
        ),
        (
            {
                "name": "g",
                "access_protocol": "iscsi",
                "iscsi_initiators": [{"label": "a", "iqn": "not-an-iqn"}],
            },
            400,
            "SM_invalid_initiator_iqn",
        ),
        (
            {
                "name": "g",
                "access_protocol": "iscsi",
                "iscsi_initiators": [{"label": "a", "iqn": IQN_A}, {"label": "b", "iqn": IQN_A}],
            },
            409,
            "SM_duplicate_initiator_with_args",
        ),
    ],
)
def test_initiator_group_validation(api: Api, body: dict, status: int, code: str) -> None:
    r = api.post("/v1/initiator_groups", body)
    assert (r.status, r.code) == (status, code)
    assert api.get("/v1/initiator_groups").json["totalRows"] == 0


def test_initiators_object_set(api: Api) -> None:
    ig = api.post("/v1/initiator_groups", {"name": "g", "access_protocol": "iscsi"}).data
    r = api.post(
        "/v1/initiators",
        {"access_protocol": "iscsi", "initiator_group_id": ig["id"], "label": "h1", "iqn": IQN_A},
    )
    assert r.status == 201 and r.data["initiator_group_name"] == "g"
    assert re.fullmatch(r"0e[0-9a-f]{40}", r.data["id"])
    r2 = api.post(
        "/v1/initiators",
        {"access_protocol": "iscsi", "initiator_group_id": ig["id"], "label": "h2", "iqn": IQN_A},
    )
    assert (r2.status, r2.code) == (409, "SM_duplicate_initiator_with_args")
    assert "already exists" in r2.json["messages"][1]["text"]
    assert api.put(f"/v1/initiators/{r.data['id']}", {"label": "x"}).status == 405
    ig = api.get(f"/v1/initiator_groups/{ig['id']}").data
    assert [i["iqn"] for i in ig["iscsi_initiators"]] == [IQN_A]
    assert api.delete(f"/v1/initiators/{r.data['id']}").status == 200
    assert api.get(f"/v1/initiator_groups/{ig['id']}").data["iscsi_initiators"] is None


def test_access_control_records(api: Api) -> None:
    vol = api.volume("exported")
    ig = api.post(
        "/v1/initiator_groups",
        {
            "name": "hosts",
            "access_protocol": "iscsi",
            "iscsi_initiators": [{"label": "a", "iqn": IQN_A}],
        },
    ).data
    r = api.post(
        "/v1/access_control_records", {"vol_id": vol["id"], "initiator_group_id": ig["id"]}
    )
    assert r.status == 201
    acr = r.data
    assert re.fullmatch(r"0d[0-9a-f]{40}", acr["id"])
    # under the group target the lowest free LUN; the simulator's target keeps LUN 0 for its
    # controller, so that is 1 (constants.MIN_GROUP_LUN)
    assert (acr["apply_to"], acr["lun"], acr["vol_name"], acr["initiator_group_name"]) == (
        "both",
        1,
        "exported",
        "hosts",
    )
    for apply_to in ("both", "volume", "snapshot"):
        r = api.post(
            "/v1/access_control_records",
            {"vol_id": vol["id"], "apply_to": apply_to, "initiator_group_id": ig["id"]},
        )
        assert (r.status, r.code) == (409, "SM_eexist"), apply_to
    embedded = api.get(f"/v1/volumes/{vol['id']}").data["access_control_records"]
    assert [(e["id"], e["initiator_group_id"], e["apply_to"]) for e in embedded] == [
        (acr["id"], ig["id"], "both")
    ]
    found = api.get(
        "/v1/access_control_records/detail", vol_id=vol["id"], initiator_group_id=ig["id"]
    ).data
    assert [f["id"] for f in found] == [acr["id"]]
    assert api.get(f"/v1/initiator_groups/{ig['id']}").data["volume_list"][0]["name"] == "exported"
    r = api.delete(f"/v1/initiator_groups/{ig['id']}")
    assert (r.status, r.code) == (409, "SM_ebusy")
    assert api.delete(f"/v1/access_control_records/{acr['id']}").json == {}
    assert api.get(f"/v1/volumes/{vol['id']}").data["access_control_records"] is None
    assert api.delete(f"/v1/initiator_groups/{ig['id']}").status == 200


def test_acr_apply_to_volume_and_snapshot_coexist(api: Api) -> None:
    vol = api.volume("v")
    ig = api.post("/v1/initiator_groups", {"name": "g", "access_protocol": "iscsi"}).data
    for apply_to in ("volume", "snapshot"):
        r = api.post(
            "/v1/access_control_records",
            {"vol_id": vol["id"], "apply_to": apply_to, "initiator_group_id": ig["id"]},
        )
        assert r.status == 201 and r.data["apply_to"] == apply_to


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "SM_missing_arg"),
        ({"apply_to": "all"}, 400, "SM_invalid_arg_value"),
        ({"lun": 3}, 400, "SM_invalid_arg_value"),
        ({"apply_to": "vvol_volume"}, 400, "SM_invalid_arg_value"),
        ({"apply_to": "pe"}, 400, "SM_missing_arg"),
        ({"initiator_group_id": "02" + "9" * 40}, 404, "SM_enoent"),
        ({"unknown": 1}, 400, "SM_unexpected_arg"),
    ],
)
@pytest.mark.parametrize("target_scope", ["volume"])
def test_acr_validation(api: Api, body: dict, status: int, code: str) -> None:
    vol = api.volume("v")
    if body:
        body = {"vol_id": vol["id"], **body}
    r = api.post("/v1/access_control_records", body)
    assert (r.status, r.code) == (status, code)


def test_volume_delete_removes_its_acrs_and_clone_inherits_them(api: Api) -> None:
    vol = api.volume("v")
    ig = api.post("/v1/initiator_groups", {"name": "g", "access_protocol": "iscsi"}).data
    api.post("/v1/access_control_records", {"vol_id": vol["id"], "initiator_group_id": ig["id"]})
    snap = api.snapshot(vol["id"], "s")
    clone = api.clone("c", snap["id"])
    assert [a["initiator_group_id"] for a in clone["access_control_records"]] == [ig["id"]]
    plain = api.clone("c2", snap["id"], inherit_acl=False)
    assert plain["access_control_records"] is None
    api.offline(clone["id"])
    assert api.delete(f"/v1/volumes/{clone['id']}").status == 200
    acrs = api.get("/v1/access_control_records/detail").data
    assert {a["vol_id"] for a in acrs} == {vol["id"]}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"lun": 2048}, 400, "SM_invalid_arg_value"),
        ({"lun": -1}, 400, "SM_invalid_arg_value"),
        ({"apply_to": "all"}, 400, "SM_invalid_arg_value"),
    ],
)
def test_acr_validation_on_the_group_target(api: Api, body: dict, status: int, code: str) -> None:
    vol = api.volume("v")
    r = api.post("/v1/access_control_records", {"vol_id": vol["id"], **body})
    assert (r.status, r.code) == (status, code)


def test_group_target_luns_are_unique_per_target_and_one_per_volume(api: Api) -> None:
    a, b, c = (api.volume(n, 16) for n in "abc")
    host1, host2 = api.initiator_group("host1", IQN_A), api.initiator_group("host2", IQN_B)
    # two volumes given to the same host under the group target get distinct LUNs
    # (numbered from 1: the simulator's target keeps LUN 0 for its controller)
    assert [api.acr(v["id"], host1)["lun"] for v in (a, b)] == [1, 2]
    # a volume keeps its LUN for every host it is given to
    assert api.acr(a["id"], host2)["lun"] == 1
    assert api.acr(c["id"], host2)["lun"] == 3
    # the volume's embedded list and the initiator groups show the same LUNs
    embedded = api.get(f"/v1/volumes/{a['id']}").data["access_control_records"]
    assert [(e["initiator_group_id"], e["lun"]) for e in embedded] == [(host1, 1), (host2, 1)]
    vols = api.get(f"/v1/initiator_groups/{host2}").data["volume_list"]
    assert sorted((x["name"], x["lun"]) for x in vols) == [("a", 1), ("c", 3)]
    # an explicit LUN another volume holds is refused, and so is a second LUN for one volume
    d = api.volume("d", 16)
    r = api.post(
        "/v1/access_control_records", {"vol_id": d["id"], "initiator_group_id": host1, "lun": 2}
    )
    assert (r.status, r.code) == (409, "SM_in_use_lun")
    assert "LUN 2" in r.json["messages"][1]["text"]
    # LUN 0 is the controller's on the simulator's group target: refused like a taken LUN
    r = api.post(
        "/v1/access_control_records", {"vol_id": d["id"], "initiator_group_id": host1, "lun": 0}
    )
    assert (r.status, r.code) == (409, "SM_in_use_lun")
    assert "LUN 0" in r.json["messages"][1]["text"]
    r = api.post(
        "/v1/access_control_records", {"vol_id": b["id"], "initiator_group_id": host2, "lun": 5}
    )
    assert (r.status, r.code) == (409, "SM_lun_mismatch")
    assert api.acr(b["id"], host2, lun=2)["lun"] == 2  # its own LUN, given again, is fine
    assert api.acr(d["id"], host1, lun=7)["lun"] == 7  # a free explicit LUN is taken
    # the lowest free number is given; a LUN is free again once its volume's records are gone
    for acr in api.get("/v1/access_control_records", vol_id=b["id"]).data:
        assert api.delete(f"/v1/access_control_records/{acr['id']}").status == 200
    e = api.volume("e", 16)
    assert api.acr(e["id"], host1)["lun"] == 2
    # an offline volume keeps its LUN
    api.offline(c["id"])
    f = api.volume("f", 16)
    assert api.acr(f["id"], host1)["lun"] == 4


def test_clone_and_scope_change_get_their_own_group_luns(api: Api) -> None:
    host = api.initiator_group("host", IQN_A)
    parent = api.volume("parent", 16)
    api.acr(parent["id"], host)
    snap = api.snapshot(parent["id"], "s")
    clone = api.clone("clone", snap["id"])
    assert [x["lun"] for x in clone["access_control_records"]] == [2]  # parent has 1
    # a volume moved to its own target answers at LUN 0 there, and frees its group LUN
    r = api.put(f"/v1/volumes/{clone['id']}", {"iscsi_target_scope": "volume"})
    assert r.status == 200 and r.data["target_name"] != parent["target_name"]
    assert [x["lun"] for x in r.data["access_control_records"]] == [0]
    other = api.volume("other", 16)
    assert api.acr(other["id"], host)["lun"] == 2
    r = api.put(f"/v1/volumes/{clone['id']}", {"iscsi_target_scope": "group"})
    assert r.data["target_name"] == parent["target_name"]
    assert [x["lun"] for x in r.data["access_control_records"]] == [3]


def test_snapshots_under_the_group_target_report_its_iqn(api: Api) -> None:
    group = api.get("/v1/groups/detail").data[0]
    vol = api.volume("v", 16)
    snap = api.snapshot(vol["id"], "s")
    assert snap["target_name"] == group["group_target_name"] == vol["target_name"]
    found = api.get("/v1/snapshots/detail", vol_id=vol["id"]).data
    assert [x["target_name"] for x in found] == [group["group_target_name"]]


@pytest.mark.parametrize("target_scope", ["volume"])
def test_volume_scoped_targets_give_every_volume_lun_0(api: Api) -> None:
    a, b = api.volume("a", 16), api.volume("b", 16)
    host = api.initiator_group("host", IQN_A)
    assert [api.acr(v["id"], host)["lun"] for v in (a, b)] == [0, 0]
    assert a["target_name"] != b["target_name"]
    snap = api.snapshot(a["id"], "s")
    assert snap["target_name"] not in (a["target_name"], b["target_name"])
