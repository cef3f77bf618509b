"""kill -9 of `nimble-sim serve --data-plane` loses nothing and blocks nothing: the restarted
sim reclaims its own tgtd and loop pool, comes up on the same portal, and every byte written
over iSCSI before the kill reads back identical."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sim_testkit import Api, SimProcess, start_sim_process
from testbed import caps
from tfnimble.sim.dataplane import DataPlane

pytestmark = pytest.mark.dataplane

MiB = 1 << 20
INITIATOR = "iqn.1993-08.org.debian:01:restart-test"
ROUNDS = 3


def _lun(portal: str, target: str) -> str:
    return (
        f"driver=raw,file.driver=iscsi,file.transport=tcp,file.portal={portal},"
        f"file.target={target},file.lun=1,file.initiator-name={INITIATOR}"
    )


def _qemu_img(*args: str) -> None:
    r = subprocess.run(["qemu-img", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def _tgtds_on(portal: str) -> list[int]:
    """Live (not zombie) tgtd processes started for ``portal``."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            argv = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if argv[0].endswith(b"tgtd") and f"portal={portal}".encode() in argv and state != "Z":
            found.append(int(d))
    return found


def _start(state: Path, portal: str) -> SimProcess:
    return start_sim_process(state, "--password", "pw", "--data-plane", "--iscsi-portal", portal)


def test_kill_9_then_restart_reclaims_the_data_plane(tmp_path: Path, record_property) -> None:
    caps.require_root()
    caps.require_loop()
    caps.require_tools(*caps.DATAPLANE_TOOLS)
    state = tmp_path / "state"
    portal = f"127.0.0.1:{caps.free_port()}"
    sim = _start(state, portal)
    try:
        api = Api(sim.info["url"], sim.info["ca_file"], "admin", "pw")
        vol = api.volume("keep", 16)
        api.grant(vol["id"], INITIATOR)
        target = vol["target_name"]
        image = tmp_path / "image.raw"
        image.write_bytes(os.urandom(16 * MiB))
        written = hashlib.sha256(image.read_bytes()).hexdigest()

        restarts: list[float] = []
        for round_ in range(ROUNDS):
            # each round writes a new 1 MiB over iSCSI, then the sim is killed with -9
            chunk = os.urandom(MiB)
            with open(image, "r+b") as f:
                f.seek(round_ * MiB)
                f.write(chunk)
            written = hashlib.sha256(image.read_bytes()).hexdigest()
            _qemu_img(
                "convert",
                "-n",
                "-f",
                "raw",
                "--target-image-opts",
                str(image),
                _lun(portal, target),
            )
            killed_tgtd = int((state / "dataplane" / "tgtd.pid").read_text().split()[0])
            sim.proc.send_signal(signal.SIGKILL)
            assert sim.stop() == -signal.SIGKILL
            assert _tgtds_on(portal) == [killed_tgtd]  # the leftover the restart must reclaim

            t0 = time.monotonic()
            sim = _start(state, portal)
            restarts.append(time.monotonic() - t0)  # a figure for docs, not a verdict
            tgtd = int((state / "dataplane" / "tgtd.pid").read_text().split()[0])
            assert tgtd != killed_tgtd
            assert _tgtds_on(portal) == [tgtd], "exactly one tgtd for this state dir"
            api = Api(sim.info["url"], sim.info["ca_file"], "admin", "pw")
            assert api.get(f"/v1/volumes/{vol['id']}").data["online"] is True
            out = tmp_path / f"read-{round_}.raw"
            _qemu_img("convert", "-O", "raw", "--image-opts", _lun(portal, target), str(out))
            assert hashlib.sha256(out.read_bytes()).hexdigest() == written
            out.unlink()
        record_property("kill9_restart_seconds", restarts)

        assert sim.stop() == 0  # a clean stop leaves nothing behind
        assert _tgtds_on(portal) == []
        assert not os.path.ismount(state / "dataplane" / "pool")
    finally:
        sim.stop(signal.SIGKILL)
        DataPlane(state / "dataplane").reclaim()
    assert _tgtds_on(portal) == []
