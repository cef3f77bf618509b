"""pytest fixtures of the test bed (import with ``from testbed.fixtures import *``).

* ``dataplane``  -- a started :class:`tfnimble.sim.dataplane.DataPlane` in tmp (loop-mounted XFS
  reflink pool, private tgtd on 127.0.0.1:<free port>), torn down always.
* ``controller`` -- a :class:`testbed.controller.Controller`: a network namespace + private mount
  namespace with sshd, the iscsiadm and systemctl look-alikes, a glance user and config.
* ``controller_dataplane`` -- both, with the data plane also listening on the host side of the
  controller's veth, so the controller can reach the array at ``controller.array_ip``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import caps

__all__ = [
    "controller",
    "controller_dataplane",
    "controller_real_glance",
    "dataplane",
    "make_dataplane",
    "sweep_dataplanes",
]

POOL_SIZE = 4 << 30


def sweep_dataplanes() -> None:
    """Release data planes left by crashed test processes: pool mounts whose state dir has an
    ``owner.pid`` that no live process holds locked (``DataPlane.reclaim`` decides that, and
    stops only that state dir's own tgtd and loop pool)."""
    from tfnimble.sim.dataplane import DataPlane, DataPlaneError

    try:
        mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    for line in mountinfo:
        fields = line.split()
        if len(fields) < 5 or not fields[4].endswith("/pool"):
            continue
        state = Path(fields[4].replace("\\040", " ")).parent
        if not (state / "owner.pid").exists():
            continue
        with contextlib.suppress(DataPlaneError):  # a live owner: leave it alone
            DataPlane(state, iscsi=False).reclaim()


def make_dataplane(state_dir: Path, ip: str = "127.0.0.1"):  # -> DataPlane
    """A DataPlane (not started) in ``state_dir`` with a loop XFS pool and a free portal port."""
    from tfnimble.sim.dataplane import DataPlane

    caps.require_root()
    caps.require_loop()
    caps.require_tools(*caps.DATAPLANE_TOOLS)
    sweep_dataplanes()
    state_dir.mkdir(parents=True, exist_ok=True)  # DataPlane.start() writes owner.pid
    return DataPlane(state_dir, f"{ip}:{caps.free_port(ip)}", pool_size_bytes=POOL_SIZE)


@pytest.fixture
def dataplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    dp = make_dataplane(tmp_path_factory.mktemp("dataplane"))
    dp.start()
    try:
        yield dp
    finally:
        dp.stop()


@pytest.fixture
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from .controller import Controller

    caps.require_root()
    caps.require_netns()
    caps.require_fuse()
    caps.require_loop()
    caps.require_tools(*caps.CONTROLLER_TOOLS, *caps.CHAIN_TOOLS, "iscsi-ls")
    ctl = Controller(tmp_path_factory.mktemp("controller"))
    try:
        ctl.start()
        yield ctl
    finally:
        ctl.stop()


@pytest.fixture
def controller_real_glance(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A controller whose ``glance-api`` unit runs the real glance 33 under gunicorn (as the
    glance user, legacy single-store conf, sqlite, no keystone); not started yet."""
    from .controller import Controller
    from .glance import glance_venv, gunicorn_command

    caps.require_root()
    caps.require_netns()
    caps.require_tools(*caps.CONTROLLER_TOOLS)
    venv = glance_venv()
    ctl = Controller(
        tmp_path_factory.mktemp("controller"),
        glance_command=gunicorn_command(venv, "{ip}:9292"),
        real_glance_venv=venv,
    )
    try:
        ctl.start()
        yield ctl
    finally:
        ctl.stop()


@pytest.fixture
def controller_dataplane(controller, dataplane) -> Iterator:
    """(controller, dataplane) with the array reachable from the controller at
    ``f"{controller.array_ip}:{dataplane.portal_port}"``."""
    dataplane.add_portal(f"{controller.array_ip}:{dataplane.portal_port}")
    yield controller, dataplane
