"""Acceptance fixtures for the nimble provider: a `sim` (nimble-sim over verified HTTPS).

One simulator process per test module (start-up is the slow part); tests keep apart by
using unique object names (`sim.unique("vm")`), and check_destroy compares the array with
what it held before the test.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIM = [sys.executable, "-m", "tfnimble.sim.main"]

PROVIDER_BLOCK = """
terraform {
  required_providers {
    nimble = { source = "ito/nimble" }
  }
}

provider "nimble" {}
"""


class Sim:
    """A running nimble-sim and helpers to look at (and poke) the array behind Terraform."""

    def __init__(self, info: dict[str, Any], password: str, proc: subprocess.Popen[bytes]) -> None:
        self.url: str = info["url"]
        self.ca_file: str = info["ca_file"]
        self.username: str = info["username"]
        self.password = password
        self.state_dir: str = info["state_dir"]
        self.proc = proc
        hostport = self.url.removeprefix("https://")
        self.host, _, port = hostport.rpartition(":")
        self.port = int(port)
        self._client: Any = None

    # --- configuration ---------------------------------------------------------------------

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "NIMBLE_HOST": self.host,
            "NIMBLE_PORT": str(self.port),
            "NIMBLE_USERNAME": self.username,
            "NIMBLE_PASSWORD": self.password,
            "NIMBLE_CA_FILE": self.ca_file,
        }
        env.update(overrides)
        return env

    @staticmethod
    def unique(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:6]}"

    # --- the REST client's view -------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            from tfnimble.nimble.client import NimbleClient

            self._client = NimbleClient(
                self.host, self.port, self.username, self.password, ca_file=self.ca_file
            )
        return self._client

    def volumes(self) -> dict[str, Any]:
        from tfnimble.nimble.client import volumes

        return {v.name: v for v in volumes.list_volumes(self.client)}

    def volume(self, name: str) -> Any:
        from tfnimble.nimble.client import volumes

        return volumes.find_volume_by_name(self.client, name)

    def inventory(self) -> dict[str, set[str]]:
        """Names of every volume, snapshot, initiator group and access control record."""
        from tfnimble.nimble.client import access_control_records as acrs
        from tfnimble.nimble.client import initiator_groups, snapshots

        vols = self.volumes()
        snaps = {
            f"{v.name}/{s.name}"
            for v in vols.values()
            for s in snapshots.list_snapshots(self.client, v.id)
        }
        return {
            "volumes": set(vols),
            "snapshots": snaps,
            "initiator_groups": {
                g.name for g in initiator_groups.list_initiator_groups(self.client)
            },
            "access_control_records": {
                f"{a.vol_name}/{a.initiator_group_name}"
                for a in acrs.list_access_control_records(self.client)
            },
        }

    def back_to(self, before: dict[str, set[str]]) -> Callable[[], None]:
        """A check_destroy: the array holds exactly what it held before."""

        def check() -> None:
            after = self.inventory()
            diff = {k: (before[k] ^ after[k]) for k in before if before[k] != after[k]}
            assert not diff, f"the array differs from before the test: {diff}"

        return check

    def assert_no_volume(self, *names: str) -> Callable[[], None]:
        def check() -> None:
            left = set(names) & set(self.volumes())
            assert not left, f"volumes left on the array: {sorted(left)}"

        return check

    # --- the /sim admin API -----------------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        import requests

        auth = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        resp = requests.request(
            method,
            f"{self.url}/sim/{path}",
            json=body,
            headers={"Authorization": f"Basic {auth}"},
            verify=self.ca_file,
            timeout=30,
        )
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def set_faults(self, rules: list[dict[str, Any]], seed: int | None = 1) -> None:
        self.admin("PUT", "faults", {"seed": seed, "rules": rules})

    def clear_faults(self) -> None:
        self.admin("DELETE", "faults")

    def faults(self) -> dict[str, Any]:
        return self.admin("GET", "faults")  # type: ignore[no-any-return]

    def expire_sessions(self) -> int:
        return int(self.admin("POST", "sessions/expire")["expired"])

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_sim(state_dir: Path) -> Sim:
    password = "pw-" + secrets.token_hex(8)
    env = {**os.environ, "NIMBLE_SIM_PASSWORD": password}
    proc = subprocess.Popen(
        [
            *SIM,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            str(state_dir),
            "--username",
            "admin",
            "--no-fsync",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=open(state_dir.parent / f"{state_dir.name}.log", "wb"),  # noqa: SIM115
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    line = proc.stdout.readline()
    if not line or time.monotonic() > deadline:
        proc.kill()
        raise RuntimeError(f"nimble-sim did not start (rc={proc.poll()})")
    return Sim(json.loads(line), password, proc)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """One simulator per test module; faults are cleared after each test."""
    state = tmp_path_factory.mktemp("nimble-sim") / "state"
    state.mkdir()
    s = start_sim(state)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(autouse=True)
def _clear_sim_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").clear_faults()
