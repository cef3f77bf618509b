"""Capability checks: skip with a clear reason, except in CI (CI=true) where a missing capability
is a failure."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"test bed capability missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_root() -> None:
    if os.geteuid() != 0:
        missing("needs root (loop devices, mounts, network namespaces, tgtd)")


def require_tools(*tools: str) -> None:
    absent = [
        t
        for t in tools
        if shutil.which(t) is None
        and not Path("/usr/sbin", t).exists()
        and not Path("/sbin", t).exists()
    ]
    if absent:
        missing(f"missing tools: {', '.join(absent)} (see .ci/apt-packages.txt)")


def require_fuse() -> None:
    if not Path("/dev/fuse").exists():
        missing("no /dev/fuse (the userspace iSCSI block device chain needs FUSE)")


def require_loop() -> None:
    if not Path("/dev/loop-control").exists():
        missing("no /dev/loop-control (loop devices)")


def require_netns() -> None:
    if not Path("/proc/self/ns/net").exists() or shutil.which("ip") is None:
        missing("no network namespace support / iproute2")


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


DATAPLANE_TOOLS = ("tgtd", "tgtadm", "mkfs.xfs", "iscsi-ls", "qemu-img")
CHAIN_TOOLS = ("qemu-nbd", "nbdfuse", "fusermount3", "losetup", "blkid", "mkfs.ext4")
CONTROLLER_TOOLS = ("ip", "unshare", "nsenter", "sshd", "ssh-keygen", "mount")
