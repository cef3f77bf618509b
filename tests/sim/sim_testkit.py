"""Fixtures for nimble-sim tests: an in-process simulator over real, verified HTTPS.

``sim`` is a fresh simulator per test (own state dir, own port); ``api`` is a logged-in client.
Requests pass ``verify=ca.pem`` per call and ignore the environment, because requests lets
REQUESTS_CA_BUNDLE override ``Session.verify``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from tfnimble.sim.server import SimServer

USER, PASSWORD = "admin", "s3cret-pass"


@dataclass
class Resp:
    status: int
    json: Any

    @property
    def data(self) -> Any:
        return self.json["data"]

    @property
    def codes(self) -> list[str]:
        return [m["code"] for m in self.json.get("messages", [])]

    @property
    def code(self) -> str:
        """The detail code (messages[1]) or, for single-message replies, the protocol code."""
        codes = self.codes
        return codes[1] if len(codes) > 1 else codes[0]


class Api:
    def __init__(
        self,
        url: str,
        ca_file: str,
        username: str = USER,
        password: str = PASSWORD,
        login: bool = True,
    ) -> None:
        self.url = url
        self.ca_file = ca_file
        self.session = requests.Session()
        self.session.trust_env = False
        self.token: str | None = None
        self.token_id: str | None = None
        self.username, self.password = username, password
        if login:
            self.login()

    def login(self) -> Resp:
        r = self.request(
            "POST", "/v1/tokens", {"username": self.username, "password": self.password}, auth=False
        )
        if r.status == 201:
            self.token = r.data["session_token"]
            self.token_id = r.data["id"]
        return r

    def request(
        self,
        method: str,
        path: str,
        data: Any = None,
        *,
        raw: Any = None,
        body: bytes | None = None,
        params: Any = None,
        auth: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Resp:
        hdrs = dict(headers or {})
        if auth and self.token:
            hdrs["X-Auth-Token"] = self.token
        kwargs: dict[str, Any] = {
            "headers": hdrs,
            "params": params,
            "verify": self.ca_file,
            "timeout": 30,
        }
        if body is not None:
            kwargs["data"] = body
            hdrs.setdefault("Content-Type", "application/json")
        elif raw is not None:
            kwargs["json"] = raw
        elif data is not None:
            kwargs["json"] = {"data": data}
        resp = self.session.request(method, self.url + path, **kwargs)
        return Resp(resp.status_code, resp.json() if resp.content else None)

    def get(self, path: str, **params: Any) -> Resp:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, data: Any = None, **kw: Any) -> Resp:
        return self.request("POST", path, data, **kw)

    def put(self, path: str, data: Any = None, **kw: Any) -> Resp:
        return self.request("PUT", path, data, **kw)

    def delete(self, path: str) -> Resp:
        return self.request("DELETE", path)

    def admin(self, method: str, path: str, body: Any = None) -> Resp:
        resp = self.session.request(
            method,
            self.url + path,
            json=body,
            verify=self.ca_file,
            auth=(self.username, self.password),
            timeout=30,
        )
        return Resp(resp.status_code, resp.json() if resp.content else None)

    # shortcuts that assert success
    def volume(self, name: str, size: int = 1024, **kw: Any) -> dict[str, Any]:
        r = self.post("/v1/volumes", {"name": name, "size": size, **kw})
        assert r.status == 201, r.json
        return r.data

    def clone(self, name: str, snap_id: str, **kw: Any) -> dict[str, Any]:
        r = self.post("/v1/volumes", {"name": name, "clone": True, "base_snap_id": snap_id, **kw})
        assert r.status == 201, r.json
        return r.data

    def snapshot(self, vol_id: str, name: str, **kw: Any) -> dict[str, Any]:
        r = self.post("/v1/snapshots", {"name": name, "vol_id": vol_id, **kw})
        assert r.status == 201, r.json
        return r.data

    def offline(self, vol_id: str, force: bool = False) -> dict[str, Any]:
        r = self.put(
            f"/v1/volumes/{vol_id}", {"online": False, **({"force": True} if force else {})}
        )
        assert r.status == 200, r.json
        return r.data

    def initiator_group(self, name: str, iqn: str) -> str:
        """A new initiator group holding initiator ``iqn``; its id."""
        body = {
            "name": name,
            "access_protocol": "iscsi",
            "iscsi_initiators": [{"label": "h", "iqn": iqn}],
        }
        r = self.post("/v1/initiator_groups", body)
        assert r.status == 201, r.json
        return str(r.data["id"])

    def acr(self, vol_id: str, ig_id: str, **kw: Any) -> dict[str, Any]:
        """A new access control record of the volume for the initiator group."""
        r = self.post(
            "/v1/access_control_records", {"vol_id": vol_id, "initiator_group_id": ig_id, **kw}
        )
        assert r.status == 201, r.json
        return dict(r.data)

    def grant(self, vol_id: str, iqn: str, group: str = "hosts") -> dict[str, Any]:
        """Let initiator ``iqn`` log in to the volume: an initiator group and an ACR."""
        return self.acr(vol_id, self.initiator_group(group, iqn))

    def pool(self) -> dict[str, Any]:
        return self.get("/v1/pools/detail").data[0]


@pytest.fixture
def target_scope() -> str:
    """The scope the simulated group gives new volumes: "group", as real groups do. A test about
    volume-scoped targets says ``@pytest.mark.parametrize("target_scope", ["volume"])``."""
    return "group"


@pytest.fixture
def sim(tmp_path: Path, target_scope: str) -> Iterator[SimServer]:
    server = SimServer(
        tmp_path / "state",
        "127.0.0.1",
        port=0,
        username=USER,
        password=PASSWORD,
        target_scope=target_scope,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(sim: SimServer) -> Api:
    return Api(sim.url, sim.ca_file)


@dataclass
class SimProcess:
    proc: subprocess.Popen[str]
    info: dict[str, Any]
    stderr: str = ""

    def stop(self, sig: int | None = None) -> int:
        """Signal (SIGTERM by default), wait, and keep what the process wrote on stderr."""
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=15)
        finally:
            if self.proc.stderr and not self.proc.stderr.closed:
                self.stderr = self.proc.stderr.read()
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()


def start_sim_process(state_dir: Path, *args: str, env: dict[str, str] | None = None) -> SimProcess:
    """Run ``nimble-sim serve`` and wait (bounded) for its ready line."""
    cmd = [
        sys.executable,
        "-m",
        "tfnimble.sim.main",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        str(state_dir),
        *args,
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout=30):
        proc.kill()
        raise AssertionError("nimble-sim did not print its ready line within 30 s")
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=10)
        err = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"nimble-sim exited with {proc.returncode}: {err}")
    return SimProcess(proc, json.loads(line))


def hold_latency(sim: SimServer) -> tuple[threading.Event, threading.Event]:
    """Make the simulator's injected latency wait for the test instead of the clock: returns
    (inside: set once a request is held, release: set it to let the request go)."""
    inside, release = threading.Event(), threading.Event()

    def hold(_seconds: float) -> None:
        inside.set()
        release.wait(timeout=120)

    sim.faults.sleep = hold
    return inside, release
