"""Protection templates, volume collections and their schedules answer as the array does, on
the points a review against HPE's SDKs found the simulator wrong (docs/nimble-array-facts.md,
"Volume collections and protection schedules")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim_testkit import PASSWORD, USER, Api
from tfnimble.sim.fields import words
from tfnimble.sim.server import SimServer
from tfnimble.sim.sets.catalog import PREDEFINED_TEMPLATES
from tfnimble.sim.store import Store
from tfnimble.sim.validate import OBJECT_ID

# What an NsSchedule (a collection's or template's schedule_list item) carries (Go SDK).
NS_SCHEDULE = set(
    words(
        "id schedule_id name schedule_name period period_unit at_time until_time days "
        "num_retain downstream_partner downstream_partner_id downstream_partner_name "
        "replicate_every num_retain_replica repl_alert_thres snap_verify "
        "skip_db_consistency_check disable_appsync schedule_type active"
    )
)
TEMPLATE_SCHEDULES = sum(len(schedules) for _, schedules in PREDEFINED_TEMPLATES)


def volcoll(api: Api, name: str = "vc1", **kw: Any) -> dict[str, Any]:
    r = api.post("/v1/volume_collections", {"name": name, **kw})
    assert r.status == 201, r.json
    return r.data  # type: ignore[no-any-return]


def templates(api: Api) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in api.get("/v1/protection_templates/detail").data}


def test_template_schedules_are_protection_schedules(api: Api) -> None:
    # HPE's SDK test: "by default 6 protection schedule are on array" after adding one to a new
    # template; the 5.2 capture: 3 templates, 1 collection, 6 schedules.
    listed = api.get("/v1/protection_schedules/detail")
    assert listed.json["totalRows"] == TEMPLATE_SCHEDULES == 5
    by_id = {s["id"]: s for s in listed.data}
    for template in templates(api).values():
        for item in template["schedule_list"]:
            assert OBJECT_ID.match(item["id"]) and item["id"].startswith("0c"), item["id"]
            assert set(item) == NS_SCHEDULE
            sched = by_id[item["id"]]
            assert sched["volcoll_or_prottmpl_type"] == "protection_template"
            assert sched["volcoll_or_prottmpl_id"] == template["id"]
            assert {k: sched[k] for k in NS_SCHEDULE - {"schedule_id", "schedule_name"}} == {
                k: item[k] for k in NS_SCHEDULE - {"schedule_id", "schedule_name"}
            }
            assert api.get(f"/v1/protection_schedules/{item['id']}").data == sched
    one = listed.data[0]
    # predefined templates cannot be edited or deleted, nor their schedules
    r = api.put(f"/v1/protection_schedules/{one['id']}", {"num_retain": 2})
    assert (r.status, r.code) == (409, "SM_eperm")
    assert api.delete(f"/v1/protection_schedules/{one['id']}").code == "SM_eperm"
    # a template has no volumes: its schedules never fire
    api.admin("POST", "/sim/clock", {"advance": 8 * 86400})
    api.login()
    again = api.get(f"/v1/protection_schedules/{one['id']}").data
    assert (again["last_snap_time"], again["next_snap_time"], again["snap_counter"]) == (0, 0, 0)


def test_collection_lists_its_schedules_as_ns_schedules(api: Api) -> None:
    vc = volcoll(api)
    assert vc["synchronous_replication_type"] == "not_applicable"
    assert vc["synchronous_replication_state"] == "not_applicable"
    assert "last_replicated_snapcoll_list" in vc and vc["last_replicated_snapcoll_list"] is None
    body = {
        "name": "hourly",
        "volcoll_or_prottmpl_type": "volume_collection",
        "volcoll_or_prottmpl_id": vc["id"],
        "period": 2,
        "period_unit": "hours",
        "num_retain": 12,
        "days": "monday,friday",
    }
    sched = api.post("/v1/protection_schedules", body).data
    item = api.get(f"/v1/volume_collections/{vc['id']}").data["schedule_list"][0]
    assert set(item) == NS_SCHEDULE
    assert (item["id"], item["schedule_id"], item["name"]) == (sched["id"], sched["id"], "hourly")
    for key in NS_SCHEDULE - {"schedule_id", "schedule_name"}:
        assert item[key] == sched[key], key


def test_collection_from_a_template_copies_its_schedules(api: Api) -> None:
    template = templates(api)["Retain-48Hourly-30Daily-52Weekly"]
    vc = volcoll(api, "from-tmpl", prottmpl_id=template["id"], description="mine")
    assert vc["description"] == "mine" and "prottmpl_id" not in vc
    copied = vc["schedule_list"]
    assert [(s["name"], s["period_unit"], s["num_retain"]) for s in copied] == [
        (s["name"], s["period_unit"], s["num_retain"]) for s in template["schedule_list"]
    ]
    assert not {s["id"] for s in copied} & {s["id"] for s in template["schedule_list"]}
    own = api.get("/v1/protection_schedules", volcoll_or_prottmpl_id=vc["id"]).json
    assert own["totalRows"] == 3
    assert vc["protection_type"] == "local"
    # the template is unchanged, and an unknown template is refused
    assert len(templates(api)["Retain-48Hourly-30Daily-52Weekly"]["schedule_list"]) == 3
    r = api.post("/v1/volume_collections", {"name": "x", "prottmpl_id": "12" + "0" * 40})
    assert r.code == "SM_enoent"


def test_vss_synchronization_needs_its_server_and_application(api: Api) -> None:
    # HPE's SDK test: app_sync vss with app_id but no app_server is SM_protpol_not_specified
    r = api.post("/v1/volume_collections", {"name": "x", "app_sync": "vss", "app_id": "sql2016"})
    assert (r.status, r.code) == (400, "SM_protpol_not_specified")
    assert r.json["messages"][1]["arguments"]["arg"] == "app_server"
    r = api.post("/v1/volume_collections", {"name": "x", "app_sync": "vss", "app_server": "h1"})
    assert r.code == "SM_protpol_not_specified"
    vc = volcoll(api, "x", app_sync="vss", app_server="h1", app_id="sql2016")
    assert (vc["app_sync"], vc["app_server"], vc["app_id"]) == ("vss", "h1", "sql2016")
    plain = volcoll(api, "y")
    r = api.put(f"/v1/volume_collections/{plain['id']}", {"app_sync": "vss"})
    assert r.code == "SM_protpol_not_specified"


def test_collection_actions_exist(api: Api) -> None:
    vc = volcoll(api)
    path = f"/v1/volume_collections/{vc['id']}/actions"
    # HPE's SDK tests: promoting a collection the group owns is SM_ealready; a malformed
    # partner ID is SM_invalid_arg_value
    r = api.post(f"{path}/promote", {"id": vc["id"]})
    assert (r.status, r.code) == (409, "SM_ealready")
    bad = {"id": vc["id"], "replication_partner_id": "1264126491231239123hgghsjhd"}
    assert api.post(f"{path}/demote", bad).code == "SM_invalid_arg_value"
    assert api.post(f"{path}/handover", bad).code == "SM_invalid_arg_value"
    assert api.post(f"{path}/demote", {"id": vc["id"]}).code == "SM_missing_arg"
    unknown = {"id": vc["id"], "replication_partner_id": "1f" + "0" * 40}
    r = api.post(f"{path}/handover", unknown)
    assert (r.status, r.code) == (404, "SM_no_such_partner")
    assert api.post(f"{path}/abort_handover", {"id": vc["id"]}).code == "SM_ealready"
    assert api.post(f"{path}/validate", {"id": vc["id"]}).code == "SM_protpol_invalid_app_sync"
    vss = volcoll(api, "v2", app_sync="vss", app_server="h1", app_id="sql2017")
    r = api.post(f"/v1/volume_collections/{vss['id']}/actions/validate", {"id": vss["id"]})
    assert r.status == 200
    assert api.post(f"{path}/promote", {"id": vss["id"]}).code == "SM_invalid_arg_value"
    assert api.post(f"{path}/explode", {"id": vc["id"]}).status == 404


def test_a_firing_makes_a_snapshot_collection(api: Api) -> None:
    # "Snapshot collections are collections of scheduled snapshots that are taken from volumes
    # sharing a volume collection" (HPE's Python SDK); a snapshot names its collection.
    vc = volcoll(api, "imgs")
    vols = [api.volume("sc-a"), api.volume("sc-b")]
    for vol in vols:
        assert api.put(f"/v1/volumes/{vol['id']}", {"volcoll_id": vc["id"]}).status == 200
    body = {
        "name": "minutely",
        "volcoll_or_prottmpl_type": "volume_collection",
        "volcoll_or_prottmpl_id": vc["id"],
        "period": 1,
        "period_unit": "minutes",
        "num_retain": 2,
    }
    sched = api.post("/v1/protection_schedules", body).data
    api.admin("POST", "/sim/clock", {"advance": 5 * 60})
    api.login()
    colls = api.get("/v1/snapshot_collections/detail").data
    # retention deleted the older firings' snapshots, and their collections with them
    assert len(colls) == 2
    newest = max(colls, key=lambda c: c["creation_time"])
    for coll in colls:
        assert coll["id"].startswith("05") and OBJECT_ID.match(coll["id"])
        assert (coll["volcoll_id"], coll["volcoll_name"]) == (vc["id"], "imgs")
        assert (coll["sched_id"], coll["sched_name"]) == (sched["id"], "minutely")
        assert coll["num_snaps"] == 2 and coll["online_status"] == "offline"
        assert {s["vol_id"] for s in coll["snapshots_list"]} == {v["id"] for v in vols}
        for item in coll["snapshots_list"]:
            snap = api.get(f"/v1/snapshots/{item['snap_id']}").data
            assert snap["name"] == coll["name"] == item["snap_name"]
            assert (snap["snap_collection_id"], snap["snap_collection_name"]) == (
                coll["id"],
                coll["name"],
            )
    vcd = api.get(f"/v1/volume_collections/{vc['id']}").data
    assert vcd["snapcoll_count"] == 2 and vcd["last_snapcoll"]["snapcoll_id"] == newest["id"]
    assert api.get("/v1/groups/detail").data[0]["num_snapcolls"] == 2
    # the collection's state is its snapshots'
    one = newest["snapshots_list"][0]["snap_id"]
    api.put(f"/v1/snapshots/{one}", {"online": True})
    got = api.get(f"/v1/snapshot_collections/{newest['id']}").data
    assert got["online_status"] == "partial"
    api.put(f"/v1/snapshots/{one}", {"online": False})
    api.delete(f"/v1/protection_schedules/{sched['id']}")
    assert api.get(f"/v1/snapshot_collections/{newest['id']}").data["is_unmanaged"] is True
    # a deleted volume's snapshots leave; the last one out deletes the collection
    for n, vol in enumerate(vols):
        api.put(f"/v1/volumes/{vol['id']}", {"volcoll_id": ""})
        api.offline(vol["id"])
        assert api.delete(f"/v1/volumes/{vol['id']}").status == 200
        left = api.get("/v1/snapshot_collections/detail").data
        assert [c["num_snaps"] for c in left] == ([1, 1] if n == 0 else [])


def test_snapshot_verification_needs_application_synchronization(api: Api) -> None:
    # HPE's SDK (protection_schedules.snap_verify): "can only be used with snapshot schedules
    # of a protection template that has application synchronization"
    plain = volcoll(api, "plain")
    vss = volcoll(api, "vss", app_sync="vss", app_server="h1", app_id="exchange")
    body = {"name": "s", "volcoll_or_prottmpl_type": "volume_collection", "snap_verify": True}
    r = api.post("/v1/protection_schedules", {**body, "volcoll_or_prottmpl_id": plain["id"]})
    assert r.code == "SM_invalid_arg_value"
    assert r.json["messages"][1]["arguments"]["arg"] == "snap_verify"
    ok = api.post("/v1/protection_schedules", {**body, "volcoll_or_prottmpl_id": vss["id"]})
    assert ok.status == 201 and ok.data["snap_verify"] is True
    del body["snap_verify"]
    s = api.post("/v1/protection_schedules", {**body, "volcoll_or_prottmpl_id": plain["id"]}).data
    r = api.put(f"/v1/protection_schedules/{s['id']}", {"snap_verify": True})
    assert r.code == "SM_invalid_arg_value"


def test_a_volume_is_protected_by_its_collections_schedules(api: Api) -> None:
    # HPE's SDK (volumes.protection_type): "Specifies if volume is protected with schedules"
    vc = volcoll(api, "prot")
    vol = api.volume("pv")
    assert vol["protection_type"] == "unprotected"
    api.put(f"/v1/volumes/{vol['id']}", {"volcoll_id": vc["id"]})
    assert api.get(f"/v1/volumes/{vol['id']}").data["protection_type"] == "unprotected"
    body = {
        "name": "daily",
        "volcoll_or_prottmpl_type": "volume_collection",
        "volcoll_or_prottmpl_id": vc["id"],
    }
    assert api.post("/v1/protection_schedules", body).status == 201
    assert api.get(f"/v1/volumes/{vol['id']}").data["protection_type"] == "local"
    rows = api.get("/v1/volumes/detail", protection_type="local", fields="id").data
    assert rows == [{"id": vol["id"]}]
    # a pinned member is listed as an NsVolumeSummary, as in volume_list (Go SDK)
    api.put(f"/v1/volumes/{vol['id']}", {"cache_pinned": True})
    vcd = api.get(f"/v1/volume_collections/{vc['id']}").data
    assert (
        vcd["cache_pinned_volume_list"]
        == vcd["volume_list"]
        == [{"id": vol["id"], "vol_id": vol["id"], "name": "pv", "vol_name": "pv"}]
    )
    left = api.put(f"/v1/volumes/{vol['id']}", {"volcoll_id": ""}).data
    assert left["protection_type"] == "unprotected"


def test_a_store_seeded_before_template_schedules_gains_them_once(tmp_path: Path) -> None:
    """A group made by a simulator whose templates kept their schedules as rows gets them as
    protection schedules at its next start, once."""
    state = tmp_path / "old"
    with SimServer(state, "127.0.0.1", port=0, username=USER, password=PASSWORD):
        pass
    store = Store(state)
    with store.write() as tx:  # as the older simulator left it: catalog 1, no schedule objects
        for sched in tx.list("prot_sched"):
            tx.delete(sched["id"])
        tx.set_meta("catalog", "1")
    store.close()
    for _ in range(2):
        with SimServer(state, "127.0.0.1", port=0, username=USER, password=PASSWORD) as s:
            api = Api(s.url, s.ca_file)
            listed = api.get("/v1/protection_schedules/detail").data
            assert len(listed) == TEMPLATE_SCHEDULES
            by_template = {t["id"]: len(t["schedule_list"]) for t in templates(api).values()}
            assert sorted(by_template.values()) == [1, 1, 3]


def test_a_snapshot_collection_is_taken_by_hand(api: Api) -> None:
    # HPE's SDK tests create snapshot collections with name and volcoll_id (and description,
    # replicate false, start_online), update the description, and expect SM_vol_has_online_snap
    # deleting one with an online snapshot and SM_repl_no_partner_avail for replicate true
    vc = volcoll(api, "manual")
    vols = [api.volume("mc-a"), api.volume("mc-b")]
    for vol in vols:
        api.put(f"/v1/volumes/{vol['id']}", {"volcoll_id": vc["id"]})
    assert api.post("/v1/snapshot_collections", {"name": "x"}).code == "SM_missing_arg"
    body = {"name": "before-upgrade", "volcoll_id": vc["id"], "description": "d"}
    r = api.post("/v1/snapshot_collections", {**body, "replicate": True})
    assert r.code == "SM_repl_no_partner_avail"
    r = api.post("/v1/snapshot_collections", {**body, "is_external_trigger": True})
    assert r.code == "SM_ext_trig_sched_not_present"
    coll = api.post("/v1/snapshot_collections", {**body, "start_online": True}).data
    assert coll["id"].startswith("05") and coll["is_manual"] is True and coll["sched_id"] == ""
    assert (coll["num_snaps"], coll["online_status"], coll["replicate"]) == (2, "online", False)
    assert coll["description"] == "d" and coll["volcoll_name"] == "manual"
    for vol in vols:
        (snap,) = api.get("/v1/snapshots/detail", vol_id=vol["id"]).data
        assert (snap["name"], snap["snap_collection_id"], snap["online"]) == (
            "before-upgrade",
            coll["id"],
            True,
        )
    assert api.post("/v1/snapshot_collections", body).code == "SM_eexist"
    vcd = api.get(f"/v1/volume_collections/{vc['id']}").data
    assert vcd["last_snapcoll"]["snapcoll_id"] == coll["id"] and vcd["snapcoll_count"] == 1
    up = api.put(f"/v1/snapshot_collections/{coll['id']}", {"description": "modified"})
    assert up.status == 200 and up.data["description"] == "modified"
    r = api.delete(f"/v1/snapshot_collections/{coll['id']}")
    assert (r.status, r.code) == (409, "SM_vol_has_online_snap")
    for item in coll["snapshots_list"]:
        api.put(f"/v1/snapshots/{item['snap_id']}", {"online": False})
    assert api.delete(f"/v1/snapshot_collections/{coll['id']}").status == 200
    assert api.get("/v1/snapshot_collections").json["totalRows"] == 0
    for vol in vols:
        assert api.get("/v1/snapshots", vol_id=vol["id"]).data == []


def test_leaving_vss_clears_the_application_with_inval(api: Api) -> None:
    # NsAppIdType has no empty value; "inval" is its "no application" (what the provider sends
    # when a collection leaves VSS), so app_sync none with app_id inval is accepted
    vc = volcoll(api, "app", app_sync="vss", app_server="sql1", app_id="sql2017")
    r = api.put(
        f"/v1/volume_collections/{vc['id']}",
        {"app_sync": "none", "app_server": "", "app_id": "inval"},
    )
    assert r.status == 200, r.json
    assert (r.data["app_sync"], r.data["app_server"], r.data["app_id"]) == ("none", "", "inval")
    r = api.put(f"/v1/volume_collections/{vc['id']}", {"app_sync": "vss", "app_server": "s"})
    assert r.code == "SM_protpol_not_specified"
    assert r.json["messages"][1]["arguments"]["arg"] == "app_id"
