"""pytest fixtures of the test bed (import with ``from testbed.fixtures import *``).

* ``dataplane``  -- a started :class:`tfnimble.sim.dataplane.DataPlane` in tmp (loop-mounted XFS
  reflink pool, private tgtd on 127.0.0.1:<free port>), torn down always.
* ``controller`` -- a :class:`testbed.controller.Controller`: a network namespace + private mount
  namespace with sshd, the iscsiadm and systemctl look-alikes, a glance user and config.
* ``controller_dataplane`` -- both, with the data plane also listening on the host side of the
  controller's veth, so the controller can reach the array at ``controller.array_ip``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from . import caps

__all__ = ["controller", "controller_dataplane", "dataplane", "make_dataplane"]

POOL_SIZE = 4 << 30


def make_dataplane(state_dir: Path, ip: str = "127.0.0.1"):  # -> DataPlane
    from tfnimble.sim.dataplane import DataPlane

    caps.require_root()
    caps.require_loop()
    caps.require_tools(*caps.DATAPLANE_TOOLS)
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
def controller_dataplane(controller, dataplane) -> Iterator:
    """(controller, dataplane) with the array reachable from the controller at
    ``f"{controller.array_ip}:{dataplane.portal_port}"``."""
    dataplane.add_portal(f"{controller.array_ip}:{dataplane.portal_port}")
    yield controller, dataplane
