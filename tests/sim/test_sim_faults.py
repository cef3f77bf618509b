"""Fault injection and the /sim admin API."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from sim_testkit import Api, hold_latency
from tfnimble.sim.faults import Faults, parse_cli_rule
from tfnimble.sim.server import SimServer


def test_admin_needs_credentials_and_never_lives_under_v1(sim: SimServer, api: Api) -> None:
    anon = Api(sim.url, sim.ca_file, login=False)
    assert anon.get("/sim/faults").status == 401
    r = requests.get(
        sim.url + "/sim/faults", auth=("admin", "wrong"), verify=sim.ca_file, timeout=10
    )
    assert r.status_code == 401
    assert anon.get("/sim/health").json == {"status": "ok"}
    assert api.get("/sim/faults").status == 200  # a session token also works
    for path in ("/v1/sim/faults", "/v1/faults", "/v1/sim/stats"):
        assert api.get(path).status == 404


def test_faults_get_put_delete_and_validation(api: Api) -> None:
    assert api.admin("GET", "/sim/faults").json["rules"] == []
    rule = {
        "method": ["GET", "post"],
        "path": "^/v1/volumes",
        "latency_ms": 5,
        "error_rate": 0.5,
        "error_status": 500,
        "drop_rate": 0.1,
        "expire_sessions_rate": 0.0,
        "times": 3,
    }
    r = api.admin("PUT", "/sim/faults", {"seed": 7, "rules": [rule]})
    assert r.status == 200
    assert r.json["seed"] == 7
    assert r.json["rules"][0] == {**rule, "method": ["GET", "POST"]}
    for bad in (
        {"rules": [{"error_rate": 2}]},
        {"rules": [{"error_status": 404}]},
        {"rules": [{"path": "("}]},
        {"rules": [{"bogus": 1}]},
        {"rules": "x"},
        {"seed": "x"},
        [1],
    ):
        r = api.admin("PUT", "/sim/faults", bad)
        assert (r.status, r.code) == (400, "SM_invalid_arg_value"), bad
    assert api.admin("DELETE", "/sim/faults").json["rules"] == []


def test_injected_errors_match_method_and_path(api: Api) -> None:
    api.admin(
        "PUT",
        "/sim/faults",
        {
            "rules": [
                {"method": "POST", "path": "^/v1/volumes$", "error_rate": 1, "error_status": 503}
            ]
        },
    )
    r = api.post("/v1/volumes", {"name": "x", "size": 1})
    assert (r.status, r.codes) == (503, ["SM_http_service_unavailable"])
    assert api.get("/v1/volumes").status == 200  # GET is not matched
    assert api.post("/v1/snapshots", {"name": "s", "vol_id": "x"}).status == 400
    api.admin("DELETE", "/sim/faults")
    assert api.post("/v1/volumes", {"name": "x", "size": 1}).status == 201


def test_times_limits_a_rule_and_500_is_not_performed(api: Api) -> None:
    api.admin(
        "PUT",
        "/sim/faults",
        {
            "rules": [
                {
                    "method": "POST",
                    "path": "^/v1/volumes$",
                    "error_rate": 1,
                    "error_status": 500,
                    "times": 2,
                }
            ]
        },
    )
    statuses = [api.post("/v1/volumes", {"name": f"t{i}", "size": 1}).status for i in range(3)]
    assert statuses == [500, 500, 201]
    assert [v["name"] for v in api.get("/v1/volumes").data] == ["t2"]


def test_seeded_faults_are_deterministic(tmp_path: Path) -> None:
    def run(seed: int) -> list[bool]:
        faults = Faults([parse_cli_rule("method=GET,path=^/v1/,error=0.5")], seed=seed)
        return [faults.decide("GET", "/v1/volumes").error_status is not None for _ in range(64)]

    assert run(3) == run(3)
    assert run(3) != run(4)
    assert 10 < sum(run(3)) < 54


def test_lost_response_still_performs_the_operation(sim: SimServer, api: Api) -> None:
    api.admin(
        "PUT",
        "/sim/faults",
        {"rules": [{"method": "POST", "path": "^/v1/volumes$", "drop_rate": 1, "times": 1}]},
    )
    with pytest.raises(requests.ConnectionError):
        api.post("/v1/volumes", {"name": "lost", "size": 1})
    vols = api.get("/v1/volumes", name="lost").data
    assert len(vols) == 1
    stats = api.admin("GET", "/sim/stats").json
    assert stats["requests"]["POST /v1/volumes"] == 1
    assert api.admin("GET", "/sim/faults").json["injected"]["drop"] == 1


def test_latency_is_added(sim: SimServer, api: Api) -> None:
    # the sim applies latency through Faults.sleep; recording it shows exactly what each
    # request was held for (a wall-clock margin would not, on a loaded machine)
    assert Faults().sleep is time.sleep
    slept: list[float] = []
    sim.faults.sleep = slept.append
    api.admin(
        "PUT",
        "/sim/faults",
        {"rules": [{"path": "^/v1/pools", "latency_ms": 300}, {"path": "s$", "latency_ms": 50}]},
    )
    assert api.get("/v1/pools").status == 200
    assert slept == [pytest.approx(0.35)]  # matching rules add up
    assert api.get("/v1/groups").status == 200
    assert slept == [pytest.approx(0.35), pytest.approx(0.05)]
    assert api.get("/v1/groups/detail").status == 200
    assert len(slept) == 2  # no rule matches: no latency
    assert api.admin("GET", "/sim/faults").json["injected"]["latency"] == 2


def test_expire_sessions_fault(api: Api) -> None:
    api.admin(
        "PUT",
        "/sim/faults",
        {
            "rules": [
                {"method": "GET", "path": "^/v1/groups", "expire_sessions_rate": 1, "times": 1}
            ]
        },
    )
    assert api.get("/v1/groups").status == 401
    api.login()
    assert api.get("/v1/groups").status == 200


def test_stats_count_routes_and_reset(api: Api) -> None:
    api.admin("DELETE", "/sim/stats")
    vol = api.volume("s")
    api.get(f"/v1/volumes/{vol['id']}")
    api.get(f"/v1/volumes/{vol['id']}")
    api.get("/v1/nothing")
    stats = api.admin("GET", "/sim/stats").json
    assert stats["requests"]["GET /v1/volumes/{id}"] == 2
    assert stats["requests"]["POST /v1/volumes"] == 1
    assert stats["statuses"]["404"] == 1 and stats["total"] == 4


def test_cli_fault_rules_and_seed_reach_the_server(tmp_path: Path) -> None:
    rules = [parse_cli_rule("method=GET,path=^/v1/arrays,error=1,status=500,times=1")]
    with SimServer(tmp_path, port=0, fault_rules=rules, fault_seed=5) as sim:
        api = Api(sim.url, sim.ca_file, "admin", "admin")
        assert api.get("/v1/arrays").status == 500
        assert api.get("/v1/arrays").status == 200
        assert api.admin("GET", "/sim/faults").json["seed"] == 5
    for bad in ("method=GET,error=3", "nonsense", "latency=x"):
        with pytest.raises(ValueError):
            parse_cli_rule(bad)


def test_sim_write_and_connections_validation(api: Api) -> None:
    vol = api.volume("w")
    for body in ({"bytes": -1}, {"bytes": "1"}, {"bytes": 1, "extra": 1}, None):
        r = api.admin("POST", f"/sim/volumes/{vol['id']}/write", body)
        assert r.status == 400, body
    r = api.admin("PUT", f"/sim/volumes/{vol['id']}/connections", {"count": -2})
    assert r.status == 400
    assert api.admin("GET", f"/sim/volumes/{vol['id']}/connections").data["connections"] == 0
    assert api.admin("POST", f"/sim/volumes/06{'a' * 40}/write", {"bytes": 1}).status == 404
    assert api.admin("POST", "/sim/volumes/bad/write", {"bytes": 1}).status == 400


def test_latency_delays_the_reply_not_the_work(sim: SimServer, api: Api) -> None:
    # While a create's reply is held inside its latency, the volume already exists for every
    # other client: the array did the work and the answer is late, as over a slow link.
    inside, release = hold_latency(sim)
    other = Api(sim.url, sim.ca_file)
    api.admin(
        "PUT",
        "/sim/faults",
        {"rules": [{"method": "POST", "path": "^/v1/volumes$", "latency_ms": 20}]},
    )
    created: list[Any] = []
    slow = threading.Thread(target=lambda: created.append(api.volume("late", 64)))
    slow.start()
    try:
        assert inside.wait(timeout=60)
        seen = other.get("/v1/volumes", name="late").data
        assert [v["name"] for v in seen] == ["late"] and created == []
    finally:
        release.set()
        slow.join(timeout=60)
    assert created and created[0]["id"] == seen[0]["id"]
