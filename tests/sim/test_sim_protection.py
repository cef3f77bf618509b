"""Volume collections and protection schedules: the array's rules and the scheduler on the
simulator's clock (advanced through /sim/clock, never waited for)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sim_testkit import PASSWORD, USER, Api
from tfnimble.sim import schedule as timing
from tfnimble.sim.server import SimServer

DAY = 86400
MIDNIGHT = 19675 * DAY  # 2023-11-14 00:00 UTC, a Tuesday


class StoppedClock:
    """The sim's base clock in these tests: it stands still, so only /sim/clock moves time
    and no firing depends on how long a request took."""

    def __call__(self) -> float:
        return float(MIDNIGHT)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimServer]:
    with SimServer(
        tmp_path / "state",
        "127.0.0.1",
        port=0,
        username=USER,
        password=PASSWORD,
        clock=StoppedClock(),
    ) as server:
        yield server


def volcoll(api: Api, name: str = "vc1", **kw: Any) -> dict[str, Any]:
    r = api.post("/v1/volume_collections", {"name": name, **kw})
    assert r.status == 201, r.json
    return r.data  # type: ignore[no-any-return]


def schedule(api: Api, vc_id: str, name: str = "hourly", **kw: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "volcoll_or_prottmpl_type": "volume_collection",
        "volcoll_or_prottmpl_id": vc_id,
        **kw,
    }
    r = api.post("/v1/protection_schedules", body)
    assert r.status == 201, r.json
    return r.data  # type: ignore[no-any-return]


def join(api: Api, vol_id: str, vc_id: str) -> dict[str, Any]:
    r = api.put(f"/v1/volumes/{vol_id}", {"volcoll_id": vc_id})
    assert r.status == 200, r.json
    return r.data  # type: ignore[no-any-return]


def advance(api: Api, seconds: int) -> dict[str, Any]:
    r = api.admin("POST", "/sim/clock", {"advance": seconds})
    assert r.status == 200, r.json
    api.login()  # the jump may outlast the session's inactivity timeout, as time would
    return r.json  # type: ignore[no-any-return]


def snaps(api: Api, vol_id: str) -> list[dict[str, Any]]:
    return api.get("/v1/snapshots/detail", vol_id=vol_id).data  # type: ignore[no-any-return]


def to_midnight(api: Api) -> None:
    """Move the clock to the next midnight UTC, so firing times are predictable."""
    now = api.admin("GET", "/sim/clock").json["now"]
    advance(api, DAY - now % DAY)


def test_collection_membership_lives_on_the_volume(api: Api) -> None:
    vc = volcoll(api, description="images", app_sync="none")
    assert vc["volume_count"] == 0 and vc["volume_list"] is None and vc["schedule_list"] is None
    assert vc["id"].startswith("07") and vc["app_sync"] == "none"
    assert vc["full_name"] == vc["search_name"] == "vc1"
    vol = api.volume("m1")
    joined = join(api, vol["id"], vc["id"])
    assert joined["volcoll_id"] == vc["id"] and joined["volcoll_name"] == "vc1"
    got = api.get(f"/v1/volume_collections/{vc['id']}").data
    assert got["volume_count"] == 1 and got["volume_list"][0]["name"] == "m1"
    found = api.get("/v1/volumes", volcoll_id=vc["id"]).data
    assert [v["id"] for v in found] == [vol["id"]]
    # a volume in a collection cannot be deleted; a collection with volumes neither
    api.offline(vol["id"])
    assert api.delete(f"/v1/volumes/{vol['id']}").code == "SM_vol_assoc_volcoll"
    assert api.delete(f"/v1/volume_collections/{vc['id']}").code == "SM_ebusy"
    left = api.put(f"/v1/volumes/{vol['id']}", {"volcoll_id": ""}).data
    assert left["volcoll_id"] == "" and left["volcoll_name"] == ""
    assert api.delete(f"/v1/volume_collections/{vc['id']}").status == 200
    assert api.delete(f"/v1/volumes/{vol['id']}").status == 200
    # a volume may also join at create
    vc2 = volcoll(api, "vc2")
    assert api.volume("m2", volcoll_id=vc2["id"])["volcoll_id"] == vc2["id"]


@pytest.mark.parametrize(
    ("body", "code", "arg"),
    [
        ({"name": "bad name"}, "SM_invalid_arg_value", "name"),
        ({"name": "x", "app_sync": "oracle"}, "SM_invalid_arg_value", "app_sync"),
        ({"name": "x", "app_id": "sql2017"}, "SM_invalid_arg_value", "app_id"),
        ({"name": "x", "app_sync": "vss", "vcenter_hostname": "vc"}, "SM_invalid_arg_value", None),
        ({"name": "x", "size": 1}, "SM_unexpected_arg", "size"),
        ({}, "SM_missing_arg", "name"),
    ],
)
def test_collection_refuses_what_the_array_refuses(
    api: Api, body: dict[str, Any], code: str, arg: str | None
) -> None:
    r = api.post("/v1/volume_collections", body)
    assert r.code == code
    if arg:
        assert r.json["messages"][1]["arguments"]["arg"] == arg


def test_collection_names_unique_and_updates(api: Api) -> None:
    vc = volcoll(api)
    assert api.post("/v1/volume_collections", {"name": "vc1"}).code == "SM_eexist"
    up = api.put(
        f"/v1/volume_collections/{vc['id']}",
        {"name": "vc1b", "description": "d", "app_sync": "vmware", "vcenter_hostname": "vc:443"},
    ).data
    assert (up["name"], up["description"], up["app_sync"]) == ("vc1b", "d", "vmware")
    assert "vcenter_password" not in up


@pytest.mark.parametrize(
    ("extra", "arg"),
    [
        ({"period_unit": "months"}, "period_unit"),
        ({"period": 0}, "period"),
        ({"at_time": 86400}, "at_time"),
        ({"until_time": -1}, "until_time"),
        ({"at_time": 7200, "until_time": 3600}, "until_time"),
        ({"days": "monday,funday"}, "days"),
        ({"days": ""}, "days"),
        ({"num_retain": 0}, "num_retain"),
        ({"schedule_type": "cron"}, "schedule_type"),
    ],
)
def test_schedule_refuses_bad_timing(api: Api, extra: dict[str, Any], arg: str) -> None:
    vc = volcoll(api)
    body = {
        "name": "s",
        "volcoll_or_prottmpl_type": "volume_collection",
        "volcoll_or_prottmpl_id": vc["id"],
        **extra,
    }
    r = api.post("/v1/protection_schedules", body)
    assert r.code == "SM_invalid_arg_value"
    assert r.json["messages"][1]["arguments"]["arg"] == arg


def test_schedule_create_rules(api: Api) -> None:
    vc = volcoll(api)
    r = api.post("/v1/protection_schedules", {"name": "s"})
    assert r.code == "SM_missing_arg"
    missing = "07" + "0" * 40
    r = api.post(
        "/v1/protection_schedules",
        {
            "name": "s",
            "volcoll_or_prottmpl_type": "volume_collection",
            "volcoll_or_prottmpl_id": missing,
        },
    )
    assert r.code == "SM_enoent"
    s = schedule(api, vc["id"])
    assert s["id"].startswith("0c")
    defaults = {k: s[k] for k in ("period", "period_unit", "at_time", "until_time", "days")}
    assert defaults == {
        "period": 1,
        "period_unit": "days",
        "at_time": 0,
        "until_time": 86399,
        "days": "all",
    }
    assert s["num_retain"] == 1 and s["schedule_type"] == "regular"
    assert (
        s["volcoll_or_prottmpl_id"] == vc["id"]
        and s["volcoll_or_prottmpl_type"] == "volume_collection"
    )
    assert (
        api.post(
            "/v1/protection_schedules",
            {
                "name": "hourly",
                "volcoll_or_prottmpl_type": "volume_collection",
                "volcoll_or_prottmpl_id": vc["id"],
            },
        ).code
        == "SM_eexist"
    )
    # the same name in another collection is fine; the owner is fixed after create
    schedule(api, volcoll(api, "vc2")["id"])
    r = api.put(f"/v1/protection_schedules/{s['id']}", {"volcoll_or_prottmpl_id": vc["id"]})
    assert r.code == "SM_unexpected_arg"
    got = api.get(f"/v1/volume_collections/{vc['id']}").data
    assert [x["name"] for x in got["schedule_list"]] == ["hourly"]
    assert got["protection_type"] == "local"


def test_scheduler_takes_and_prunes_snapshots_on_the_clock(api: Api) -> None:
    vc = volcoll(api, "images")
    a, b = api.volume("img-a"), api.volume("img-b")
    join(api, a["id"], vc["id"])
    join(api, b["id"], vc["id"])
    to_midnight(api)
    s = schedule(
        api,
        vc["id"],
        "every2h",
        period=2,
        period_unit="hours",
        at_time=3600,
        until_time=6 * 3600,
        num_retain=2,
    )
    api.snapshot(a["id"], "mine")  # a user's snapshot is never pruned
    assert advance(api, 3599)["snapshots_taken"] == 0
    assert advance(api, 1)["snapshots_taken"] == 2  # 01:00, both volumes
    taken = [x for x in snaps(api, a["id"]) if x["schedule_id"]]
    assert len(taken) == 1
    first = taken[0]
    assert first["schedule_name"] == "every2h" and first["is_unmanaged"] is False
    assert first["name"] == timing.snapshot_name("images", "every2h", first["creation_time"])
    assert first["name"].endswith("::01:00:00.000")
    # 03:00 and 05:00 fire; 07:00 is past until_time (06:00); retention keeps the newest two
    assert advance(api, 6 * 3600)["snapshots_taken"] == 4
    for vol in (a, b):
        names = sorted(x["name"][-14:] for x in snaps(api, vol["id"]) if x["schedule_id"])
        assert names == ["::03:00:00.000", "::05:00:00.000"]
    assert "mine" in {x["name"] for x in snaps(api, a["id"])}
    got = api.get(f"/v1/protection_schedules/{s['id']}").data
    assert got["last_snap_time"] % DAY == 5 * 3600
    assert got["next_snap_time"] - got["last_snap_time"] == DAY - 4 * 3600  # tomorrow 01:00
    vcd = api.get(f"/v1/volume_collections/{vc['id']}").data
    # three firings made three snapshot collections; retention deleted the oldest with its
    # snapshots, so two remain (docs/nimble-array-facts.md: snapcoll_count counts those that exist)
    assert vcd["snapcoll_count"] == 2 and vcd["last_snapcoll"]["snapcoll_name"].endswith(
        "05:00:00.000"
    )


def test_long_clock_jump_makes_only_what_is_kept(api: Api) -> None:
    vc = volcoll(api)
    vol = api.volume("v")
    join(api, vol["id"], vc["id"])
    schedule(api, vc["id"], "minutely", period=1, period_unit="minutes", num_retain=3)
    assert advance(api, 365 * DAY)["snapshots_taken"] == 3
    assert len(snaps(api, vol["id"])) == 3


def test_retention_skips_snapshots_with_clones_and_update_prunes(api: Api) -> None:
    vc = volcoll(api)
    vol = api.volume("v")
    join(api, vol["id"], vc["id"])
    to_midnight(api)
    s = schedule(api, vc["id"], "daily", num_retain=3)
    advance(api, 2 * DAY)
    oldest = min(snaps(api, vol["id"]), key=lambda x: x["creation_time"])
    api.clone("c1", oldest["id"])
    advance(api, 2 * DAY)
    kept = {x["id"] for x in snaps(api, vol["id"])}
    assert oldest["id"] in kept and len(kept) == 4  # three newest plus the clone's base
    up = api.put(f"/v1/protection_schedules/{s['id']}", {"num_retain": 1}).data
    assert up["num_retain"] == 1
    assert {x["id"] for x in snaps(api, vol["id"])} == {oldest["id"], max(kept - {oldest["id"]})}


def test_deleting_schedules_keeps_their_snapshots_unmanaged(api: Api) -> None:
    vc = volcoll(api)
    vol = api.volume("v")
    join(api, vol["id"], vc["id"])
    s = schedule(api, vc["id"], "daily", num_retain=5)
    advance(api, 2 * DAY)
    assert api.delete(f"/v1/protection_schedules/{s['id']}").status == 200
    left = snaps(api, vol["id"])
    assert len(left) == 2
    assert all(x["schedule_id"] == "" and x["is_unmanaged"] for x in left)
    s2 = schedule(api, vc["id"], "again", num_retain=1)
    advance(api, DAY)
    api.put(f"/v1/volumes/{vol['id']}", {"volcoll_id": ""})
    assert api.delete(f"/v1/volume_collections/{vc['id']}").status == 200
    assert api.get(f"/v1/protection_schedules/{s2['id']}").code == "SM_enoent"
    assert len(snaps(api, vol["id"])) == 3
    assert advance(api, DAY)["snapshots_taken"] == 0


def test_external_trigger_and_weekday_schedules(api: Api) -> None:
    vc = volcoll(api)
    vol = api.volume("v")
    join(api, vol["id"], vc["id"])
    schedule(api, vc["id"], "ext", schedule_type="external_trigger")
    advance(api, 3 * DAY)
    assert snaps(api, vol["id"]) == []
    sched = {
        "period": 1,
        "period_unit": "weeks",
        "at_time": 0,
        "until_time": 86399,
        "days": "monday",
    }
    times = list(timing.firings(sched, 0, 21 * DAY))
    assert all(timing.WEEKDAYS[(t // DAY + 3) % 7] == "monday" for t in times) and len(times) == 3
    sched.update(period=2, period_unit="days", days="all")
    assert [t // DAY for t in timing.firings(sched, 0, 7 * DAY)] == [2, 4, 6]
    assert timing.parse_days("tuesday,tuesday") is None


def test_clock_endpoint_refuses_bad_input(api: Api) -> None:
    for body in ({"advance": -1}, {"advance": "1"}, {}, {"advance": 1, "x": 2}):
        assert api.admin("POST", "/sim/clock", body).code == "SM_invalid_arg_value"
    before = api.admin("GET", "/sim/clock").json["now"]
    assert advance(api, 1000)["now"] >= before + 1000


def test_clock_and_schedule_progress_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with SimServer(
        state, "127.0.0.1", port=0, username=USER, password=PASSWORD, clock=StoppedClock()
    ) as sim:
        api = Api(sim.url, sim.ca_file)
        vc = volcoll(api)
        vol = api.volume("v")
        join(api, vol["id"], vc["id"])
        schedule(api, vc["id"], "daily", num_retain=10)
        moved = advance(api, 3 * DAY)["now"]
        assert len(snaps(api, vol["id"])) == 3
    with SimServer(
        state, "127.0.0.1", port=0, username=USER, password=PASSWORD, clock=StoppedClock()
    ) as sim:
        api = Api(sim.url, sim.ca_file)
        assert api.admin("GET", "/sim/clock").json["now"] >= moved
        assert len(snaps(api, vol["id"])) == 3  # nothing taken twice after the restart
        assert advance(api, DAY)["snapshots_taken"] == 1


def test_a_failing_scheduler_never_fails_a_request(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tfnimble.sim.sets import protection_schedules

    def broken(*_: object) -> None:
        raise RuntimeError("scheduler down")

    monkeypatch.setattr(protection_schedules, "run_due", broken)
    vc = volcoll(api)
    schedule(api, vc["id"], "daily")
    assert api.get("/v1/volume_collections").status == 200
    assert advance(api, DAY)["snapshots_taken"] == 0
