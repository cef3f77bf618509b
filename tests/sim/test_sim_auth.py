"""Tokens, X-Auth-Token, inactivity expiry, versions."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sim_testkit import PASSWORD, USER, Api
from tfnimble.sim.server import SimServer
from tfnimble.sim.sets import sessions

UNAUTHORIZED = {
    "messages": [
        {
            "code": "SM_http_unauthorized",
            "severity": "error",
            "text": "The request requires user authentication.",
        }
    ]
}


def test_login_returns_token_object(sim: SimServer) -> None:
    api = Api(sim.url, sim.ca_file, login=False)
    r = api.request(
        "POST",
        "/v1/tokens",
        {"username": USER, "password": PASSWORD, "app_name": "tests"},
        auth=False,
    )
    assert r.status == 201
    tok = r.data
    assert re.fullmatch(r"19[0-9a-f]{40}", tok["id"])
    assert re.fullmatch(r"[0-9a-f]{32}", tok["session_token"])
    assert (tok["username"], tok["app_name"], tok["source_ip"]) == (USER, "tests", "127.0.0.1")
    assert tok["expiry_time"] >= tok["creation_time"] + 1799


def test_bad_credentials_and_missing_token_are_single_message_401(sim: SimServer) -> None:
    api = Api(sim.url, sim.ca_file, login=False)
    r = api.request("POST", "/v1/tokens", {"username": USER, "password": "wrong"}, auth=False)
    assert (r.status, r.json) == (401, UNAUTHORIZED)
    r = api.request("POST", "/v1/tokens", {"username": "nobody", "password": PASSWORD}, auth=False)
    assert r.status == 401
    assert api.get("/v1/volumes").json == UNAUTHORIZED
    r = api.request("GET", "/v1/volumes", headers={"X-Auth-Token": "f" * 32}, auth=False)
    assert (r.status, r.json) == (401, UNAUTHORIZED)
    r = api.request("POST", "/v1/tokens", {"password": PASSWORD}, auth=False)
    assert (r.status, r.code) == (400, "SM_missing_arg")


def test_token_read_list_and_logout(api: Api) -> None:
    r = api.get(f"/v1/tokens/{api.token_id}")
    assert r.status == 200 and r.data["session_token"] == api.token
    assert api.token_id in [t["id"] for t in api.get("/v1/tokens").data]
    assert api.delete(f"/v1/tokens/{api.token_id}").json == {}
    r = api.get("/v1/volumes")
    assert (r.status, r.json) == (401, UNAUTHORIZED)


def test_versions_on_both_paths_without_token(sim: SimServer) -> None:
    api = Api(sim.url, sim.ca_file, login=False)
    for path in ("/versions", "/v1/versions"):
        r = api.get(path)
        assert r.status == 200
        assert r.data[0]["name"] == "v1" and r.data[0]["software_version"].count(".") >= 3


class ManualClock:
    """The sim's clock in these tests: time passes only when the test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def clocked_api(tmp_path: Path, clock: ManualClock) -> Iterator[Api]:
    with SimServer(tmp_path, port=0, username=USER, password=PASSWORD, clock=clock) as sim:
        yield Api(sim.url, sim.ca_file)


def test_inactivity_timeout_from_group(clocked_api: Api, clock: ManualClock) -> None:
    api = clocked_api
    group = api.get("/v1/groups").data[0]
    r = api.put(f"/v1/groups/{group['id']}", {"user_inactivity_timeout": 1})
    assert r.status == 200 and r.data["user_inactivity_timeout"] == 1
    assert api.get("/v1/volumes").status == 200
    clock.advance(0.6)
    assert api.get("/v1/volumes").status == 200  # activity resets the clock
    clock.advance(0.9)
    assert api.get("/v1/volumes").status == 200  # 1.5 s after login, 0.9 s after last use
    clock.advance(1.3)
    r = api.get("/v1/volumes")
    assert (r.status, r.json) == (401, UNAUTHORIZED)
    assert api.login().status == 201
    assert api.get("/v1/volumes").status == 200
    r = api.put(f"/v1/groups/{group['id']}", {"user_inactivity_timeout": 0})
    assert (r.status, r.code) == (400, "SM_invalid_arg_value")


def test_token_expiry_time_follows_the_clock(clocked_api: Api, clock: ManualClock) -> None:
    api = clocked_api
    tok = api.get(f"/v1/tokens/{api.token_id}").data
    assert tok["expiry_time"] == int(clock.now) + 1800
    clock.advance(100)
    tok = api.get(f"/v1/tokens/{api.token_id}").data  # this read is activity too
    assert tok["expiry_time"] == int(clock.now) + 1800


def test_expired_sessions_are_pruned_by_the_clock(tmp_path: Path, clock: ManualClock) -> None:
    """Without the admin expiry: sessions idle past the timeout are forgotten at a login."""
    with SimServer(tmp_path, port=0, username=USER, password=PASSWORD, clock=clock) as sim:
        idle = [Api(sim.url, sim.ca_file) for _ in range(3)]
        clock.advance(sessions.TOKEN_PRUNE_INTERVAL + 1)
        api = Api(sim.url, sim.ca_file)
        # the first login after the prune interval pruned nothing (no one idle past 1800 s)
        assert len(api.get("/v1/tokens").data) == 4
        clock.advance(1801)
        api.login()
        assert [t["id"] for t in api.get("/v1/tokens").data] == [api.token_id]
        assert all(a.get("/v1/volumes").status == 401 for a in idle)


def test_session_timeout_option_sets_group_value(tmp_path) -> None:
    with SimServer(tmp_path, port=0, session_timeout=77) as sim:
        api = Api(sim.url, sim.ca_file, "admin", "admin")
        assert api.get("/v1/groups/detail").data[0]["user_inactivity_timeout"] == 77


def test_expire_all_sessions_admin(api: Api) -> None:
    r = api.admin("POST", "/sim/sessions/expire")
    assert r.status == 200 and r.json["expired"] >= 1
    assert api.get("/v1/volumes").status == 401
    api.login()
    assert api.get("/v1/volumes").status == 200


def test_sessions_survive_restart(tmp_path) -> None:
    with SimServer(tmp_path, port=0) as sim:
        api = Api(sim.url, sim.ca_file, "admin", "admin")
    with SimServer(tmp_path, port=0) as sim:
        api.url = sim.url
        assert api.get("/v1/volumes").status == 200


def test_expired_sessions_are_pruned_on_login(
    sim: SimServer, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "TOKEN_PRUNE_INTERVAL", 0.0)
    for _ in range(3):
        Api(sim.url, sim.ca_file)
    assert len(api.get("/v1/tokens").data) == 4
    api.admin("POST", "/sim/sessions/expire")
    api.login()
    assert [t["id"] for t in api.get("/v1/tokens").data] == [api.token_id]
