"""Acceptance fixtures for the nimble provider: a `sim` (nimble-sim over verified HTTPS).

One simulator process per test module (start-up is the slow part); tests keep apart by
using unique object names (`sim.unique("vm")`), and check_destroy compares the array with
what it held before the test.
"""

from __future__ import annotations

import base64
import contextlib
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
        """Names of every volume, snapshot, initiator group, access control record, volume
        collection, protection schedule and CHAP user."""
        from tfnimble.nimble.client import access_control_records as acrs
        from tfnimble.nimble.client import chap_users, initiator_groups, snapshots

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
            "volume_collections": self._collections(),
            "chap_users": {u.name for u in chap_users.list_chap_users(self.client)},
        }

    def _collections(self) -> set[str]:
        """Each volume collection and each of its protection schedules, by name."""
        from tfnimble.nimble.client import protection_schedules as ps
        from tfnimble.nimble.client import volume_collections as vcs

        out = set()
        for vc in vcs.list_volume_collections(self.client):
            out.add(vc.name)
            out |= {f"{vc.name}/{s.name}" for s in ps.list_protection_schedules(self.client, vc.id)}
        return out

    def advance_clock(self, seconds: int) -> dict[str, Any]:
        """Move the simulator's clock on: the protection schedules fire as they would have."""
        import requests

        resp = requests.post(
            f"{self.url}/sim/clock",
            json={"advance": seconds},
            auth=(self.username, self.password),
            verify=self.ca_file,
            timeout=60,
        )
        resp.raise_for_status()
        return resp.json()  # type: ignore[no-any-return]

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

    def group_target(self) -> str | None:
        """The group target's IQN when new volumes are group-scoped (the default), else None."""
        from tfnimble.nimble.client.groups import get_group

        g = get_group(self.client)
        return g.group_target_name if g.default_iscsi_target_scope == "group" else None

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


def start_sim(state_dir: Path, extra_args: tuple[str, ...] = (), timeout: float = 30) -> Sim:
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
            *extra_args,
        ],
        stdout=subprocess.PIPE,
        stderr=open(state_dir.parent / f"{state_dir.name}.log", "wb"),  # noqa: SIM115
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline()
    if not line or time.monotonic() > deadline:
        proc.kill()
        raise RuntimeError(f"nimble-sim did not start (rc={proc.poll()})")
    return Sim(json.loads(line), password, proc)


@contextlib.contextmanager
def own_sim(
    tmp_path_factory: pytest.TempPathFactory, label: str, extra_args: tuple[str, ...] = ()
) -> Iterator[Sim]:
    """A simulator process of its own (state, certificate, password, group ID), stopped after."""
    state = tmp_path_factory.mktemp(f"nimble-sim-{label}") / "state"
    state.mkdir()
    s = start_sim(state, extra_args)
    try:
        yield s
    finally:
        s.stop()


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


@pytest.fixture(scope="module", params=["group", "volume"])
def scoped_sim(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sim]:
    """A simulator per test module and target scope: a test that takes it runs once with
    group-scoped targets (the array's default) and once with volume-scoped ones."""
    state = tmp_path_factory.mktemp(f"nimble-sim-{request.param}") / "state"
    state.mkdir()
    s = start_sim(state, ("--target-scope", request.param))
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def sim_dp_volume_scope(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataPlaneSim]:
    """Like `sim_dp`, but new volumes get volume-scoped targets (a target per volume)."""
    yield from _start_sim_dp(tmp_path_factory, ("--target-scope", "volume"))


@pytest.fixture(autouse=True)
def clear_sim_faults_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for name in ("sim", "scoped_sim"):
        if name in request.fixturenames:
            request.getfixturevalue(name).clear_faults()


class DataPlaneSim(Sim):
    """A nimble-sim with the real data plane: volumes are reflink files exported by tgtd at
    `portal`, access control records are tgtd initiator bindings."""

    portal: str

    @property
    def dataplane_dir(self) -> Path:
        return Path(self.state_dir) / "dataplane"

    def volume_file(self, vol_id: str) -> Path:
        return self.dataplane_dir / "pool" / "volumes" / vol_id

    def pool_used_bytes(self) -> int:
        """Bytes the pool filesystem really uses (statvfs), so shared extents count once."""
        st = os.statvfs(self.dataplane_dir / "pool")
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    def stop(self) -> None:
        # The data plane stops tgtd and unmounts the pool on SIGTERM: give it time.
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        super().stop()


@pytest.fixture(scope="session")
def sim_dp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataPlaneSim]:
    """One nimble-sim with `--data-plane` (loop-mounted XFS reflink pool + private tgtd on a
    free port) for the session. Needs root; in CI a missing capability fails."""
    yield from _start_sim_dp(tmp_path_factory)


def _start_sim_dp(
    tmp_path_factory: pytest.TempPathFactory, extra: tuple[str, ...] = (), ip: str = "127.0.0.1"
) -> Iterator[DataPlaneSim]:
    from testbed import caps
    from testbed.fixtures import sweep_dataplanes

    caps.require_root()
    caps.require_loop()
    caps.require_tools(*caps.DATAPLANE_TOOLS, "sfdisk", "mkfs.ext4")
    sweep_dataplanes()
    state = tmp_path_factory.mktemp("nimble-sim-dp") / "state"
    (state / "dataplane").mkdir(parents=True)
    # sweep_dataplanes() of a later session cleans up after a crashed one by this pid
    (state / "dataplane" / "owner.pid").write_text(f"{os.getpid()}\n")
    portal = f"{ip}:{caps.free_port(ip)}"
    s = start_sim(state, ("--data-plane", "--iscsi-portal", portal, *extra), timeout=120)
    s.__class__ = DataPlaneSim
    assert isinstance(s, DataPlaneSim)
    s.portal = portal
    try:
        yield s
    finally:
        s.stop()


@contextlib.contextmanager
def array_for_controller(
    controller: Any, tmp_path_factory: pytest.TempPathFactory, extra: tuple[str, ...] = ()
) -> Iterator[DataPlaneSim]:
    """A data-plane nimble-sim whose iSCSI portal a test bed controller reaches (the host side
    of its veth). Before the array stops, the controller lets go of its LUNs (unmount the
    store, log out) while the targets still answer, even when a test failed half-way."""
    with contextlib.contextmanager(_start_sim_dp)(
        tmp_path_factory, extra, controller.array_ip
    ) as s:
        try:
            yield s
        finally:
            controller.run(["umount", "/var/lib/glance/images"], timeout=60)
            controller.iscsiadm("-m", "node", "--logoutall=all")


class DiskImage:
    """A real disk image: an MBR partition table and an ext4 filesystem with files, as raw
    and as qcow2 (what nimble_image_master is given)."""

    def __init__(self, directory: Path, size_mib: int = 64) -> None:
        self.dir = directory
        self.raw = directory / "disk.raw"
        self.qcow2 = directory / "disk.qcow2"
        self.size_mib = size_mib
        files = directory / "files"
        (files / "etc").mkdir(parents=True)
        (files / "etc" / "hostname").write_text("ito-image\n")
        (files / "payload.bin").write_bytes(secrets.token_bytes(3 * 1024 * 1024))
        part = directory / "part.ext4"
        with open(self.raw, "wb") as f:
            f.truncate(size_mib << 20)
        run = {"check": True, "capture_output": True, "timeout": 60}
        subprocess.run(["sfdisk", "-q", str(self.raw)], input=b"label: dos\n2048,,83\n", **run)
        with open(part, "wb") as f:
            f.truncate((size_mib - 1) << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(files), str(part)], **run)
        with open(self.raw, "r+b") as out, open(part, "rb") as src:
            out.seek(1 << 20)
            while chunk := src.read(1 << 20):
                out.write(chunk)
        part.unlink()
        subprocess.run(
            ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(self.raw), str(self.qcow2)],
            **run,
        )
        self.raw_sha256 = sha256_of(self.raw)
        self.qcow2_sha256 = sha256_of(self.qcow2)


def sha256_of(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def iscsi_opts(portal: str, target: str, initiator: str, lun: int) -> str:
    """qemu --image-opts for LUN `lun` (as the target numbers it) of the data-plane sim."""
    return (
        f"driver=raw,file.driver=iscsi,file.transport=tcp,file.portal={portal},"
        f"file.target={target},file.lun={lun},file.initiator-name={initiator}"
    )


def exported_lun(acr_lun: int | None) -> int:
    """The LUN the data-plane sim's target shows a volume at, from its access record's `lun`:
    the group target numbers LUNs as the array does (from 1: the simulator's target keeps LUN 0
    for its controller); a volume's own target shows its LUN 0 as LUN 1, its one disk."""
    assert acr_lun is not None, "an access record that applies to the volume has a LUN"
    return acr_lun if acr_lun > 0 else 1


def read_lun(
    portal: str, target: str, initiator: str, out: Path, size: int | None = None, *, lun: int
) -> str:
    """Read LUN `lun` (as the target numbers it: see `exported_lun`) over iSCSI into `out` (its
    first `size` bytes) and return their sha256."""
    subprocess.run(
        [
            "qemu-img",
            "convert",
            "-O",
            "raw",
            "--image-opts",
            iscsi_opts(portal, target, initiator, lun),
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    if size is not None:
        with open(out, "r+b") as f:
            f.truncate(size)
    return sha256_of(out)


def read_back(sim: DataPlaneSim, vol: Any, initiator: str, out: Path) -> str:
    """The sha256 of volume `vol` read over iSCSI as `initiator`, through an initiator group
    and access record made for this read and removed after it."""
    from tfnimble.nimble.client import access_control_records as acrs
    from tfnimble.nimble.client import initiator_groups as igs

    group = igs.create_initiator_group(sim.client, sim.unique("reader"), [initiator])
    acr = acrs.create_access_control_record(sim.client, vol.id, group.id)
    try:
        return read_lun(sim.portal, vol.target_name, initiator, out, lun=exported_lun(acr.lun))
    finally:
        acrs.delete_access_control_record(sim.client, acr.id)
        igs.delete_initiator_group(sim.client, group.id)


@pytest.fixture(scope="session")
def disk_image(tmp_path_factory: pytest.TempPathFactory, sim_dp: DataPlaneSim) -> DiskImage:
    return DiskImage(tmp_path_factory.mktemp("image"))
