"""The object sets an inventory tool lists answer as the array does: 200, paged, read-only.

A tool that gathers a group's inventory (HPE's Ansible info module, a CMDB collector) walks
every object set; a 404 on one stops it. These tests walk them all, page by page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sim_testkit import PASSWORD, USER, Api
from tfnimble.sim.constants import SOFTWARE_VERSION
from tfnimble.sim.server import SimServer
from tfnimble.sim.sets.catalog import DISK_SLOTS, PREDEFINED_TEMPLATES

# What an inventory walk lists: the sets this simulator already served, and the seven this
# module is about. (HPE's Ansible info module's default walk is arrays, groups, disks, folders,
# initiator groups, protection schedules and templates, protocol endpoints, snapshot
# collections, snapshots, software versions, users, volume collections and volumes.)
NEW_SETS = (
    "disks",
    "folders",
    "protection_templates",
    "snapshot_collections",
    "software_versions",
    "users",
    "protocol_endpoints",
)
INVENTORY = (
    "arrays",
    "groups",
    "pools",
    "performance_policies",
    "network_configs",
    "subnets",
    "volumes",
    "initiator_groups",
    "initiators",
    "access_control_records",
    "volume_collections",
    "protection_schedules",
    *NEW_SETS,
)


def walk(api: Api, object_set: str, page: int = 2) -> list[dict]:
    """Every row of a detail list, ``page`` rows at a time, as a tool pages."""
    rows: list[dict] = []
    start = 0
    while True:
        r = api.get(f"/v1/{object_set}/detail", startRow=start, endRow=start + page)
        assert r.status == 200, (object_set, r.json)
        rows.extend(r.data)
        assert r.json["startRow"] == start and r.json["endRow"] == start + len(r.data)
        if r.json["endRow"] >= r.json["totalRows"]:
            return rows
        start = r.json["endRow"]


def test_inventory_walk_every_set_answers_and_pages(api: Api) -> None:
    api.volume("inv-vol")
    counts = {}
    for name in INVENTORY:
        rows = walk(api, name)
        summary = api.get(f"/v1/{name}")
        assert summary.status == 200 and summary.json["totalRows"] == len(rows), name
        whole = api.get(f"/v1/{name}/detail")
        assert whole.data == rows, f"{name}: paging changed the rows"
        counts[name] = len(rows)
    assert counts["disks"] == DISK_SLOTS
    assert counts["protection_templates"] == len(PREDEFINED_TEMPLATES)
    assert counts["software_versions"] == 1 and counts["users"] == 1
    for empty in ("folders", "snapshot_collections", "protocol_endpoints"):
        assert counts[empty] == 0, empty


def test_disks_fill_one_shelf_and_add_up_to_the_raw_capacity(api: Api) -> None:
    disks = walk(api, "disks", page=5)
    assert sorted(d["slot"] for d in disks) == list(range(1, DISK_SLOTS + 1))
    assert {d["state"] for d in disks} == {"in use"} and {d["type"] for d in disks} == {"ssd"}
    assert {d["raid_state"] for d in disks} == {"okay"}
    assert {d["bank"] for d in disks} == {0, 1}
    assert len({d["serial"] for d in disks}) == DISK_SLOTS
    array = api.get("/v1/arrays/detail").data[0]
    assert {d["array_id"] for d in disks} == {array["id"]}
    assert {d["array_name"] for d in disks} == {array["name"]}
    group = api.get("/v1/groups/detail").data[0]
    assert abs(sum(d["size"] for d in disks) - group["raw_capacity"]) < DISK_SLOTS
    one = api.get(f"/v1/disks/{disks[3]['id']}")
    assert one.status == 200 and one.data == disks[3]
    assert api.get("/v1/disks").data[0] == {"id": disks[0]["id"]}
    assert api.get("/v1/disks/detail", slot="7", fields="slot,state").data == [
        {"slot": 7, "state": "in use"}
    ]


def test_protection_templates_are_the_ones_the_array_ships(api: Api) -> None:
    templates = {t["name"]: t for t in walk(api, "protection_templates")}
    assert set(templates) == {name for name, _ in PREDEFINED_TEMPLATES}
    weekly = templates["Retain-48Hourly-30Daily-52Weekly"]["schedule_list"]
    assert [(s["period_unit"], s["num_retain"]) for s in weekly] == [
        ("hours", 48),
        ("days", 30),
        ("weeks", 52),
    ]
    assert [s["num_retain"] for s in templates["Retain-90Daily"]["schedule_list"]] == [90]
    t = templates["Retain-30Daily"]
    assert t["id"].startswith("12") and t["full_name"] == t["search_name"] == "Retain-30Daily"
    assert api.get("/v1/protection_templates", name="Retain-30Daily").data == [
        {"id": t["id"], "name": "Retain-30Daily"}
    ]


def test_software_version_and_users(api: Api) -> None:
    versions = api.get("/v1/software_versions/detail").data
    assert [(v["version"], v["status"]) for v in versions] == [(SOFTWARE_VERSION, "installed")]
    assert api.get("/v1/software_versions").data == [
        {"version": SOFTWARE_VERSION, "name": SOFTWARE_VERSION}
    ]
    group = api.get("/v1/groups/detail").data[0]
    assert group["version_current"] == SOFTWARE_VERSION
    users = api.get("/v1/users/detail").data
    assert [(u["name"], u["role"], u["logged_in"]) for u in users] == [
        (USER, "administrator", True)
    ]
    assert api.get(f"/v1/users/{users[0]['id']}").data == users[0]


# Snapshot collections are made by hand too (POST, HPE's SDK tests): test_sim_protection_fidelity.
@pytest.mark.parametrize("object_set", [s for s in NEW_SETS if s != "snapshot_collections"])
def test_writes_are_refused_as_unsupported(api: Api, object_set: str) -> None:
    r = api.post(f"/v1/{object_set}", {"name": "x"})
    assert (r.status, r.code) == (405, "SM_http_method_not_allowed")
    if object_set in ("disks", "users", "protection_templates"):
        obj = api.get(f"/v1/{object_set}").data[0]
        for method in ("PUT", "DELETE"):
            body = {"description": "x"} if method == "PUT" else None
            r = api.request(method, f"/v1/{object_set}/{obj['id']}", body)
            assert (r.status, r.code) == (405, "SM_http_method_not_allowed"), method
    unknown = "2c" + "0" * 40
    assert api.get(f"/v1/{object_set}/{unknown}").code in ("SM_enoent", "SM_http_not_found")


def test_inventory_survives_a_restart_and_is_seeded_once(
    sim: SimServer, api: Api, tmp_path: Path
) -> None:
    before = {name: walk(api, name, page=50) for name in NEW_SETS}
    sim.stop()
    with SimServer(tmp_path / "state", "127.0.0.1", port=0, username=USER, password=PASSWORD) as s:
        again = Api(s.url, s.ca_file)
        after = {name: walk(again, name, page=50) for name in NEW_SETS}
    assert {k: [r.get("id", r.get("version")) for r in v] for k, v in after.items()} == {
        k: [r.get("id", r.get("version")) for r in v] for k, v in before.items()
    }
