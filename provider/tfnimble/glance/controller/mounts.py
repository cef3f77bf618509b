"""Mounts: ``findmnt`` (and its parser), ``mount`` by the fstab line, ``remount``, ``umount``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..transport.base import CommandResult, Transport
from .base import ControllerError, failed, output_tail, tail

__all__ = [
    "FstabError",
    "MountError",
    "MountInfo",
    "findmnt",
    "mount",
    "mounted_at",
    "parse_findmnt_raw",
    "remount",
    "umount",
]


class MountError(ControllerError, summary="Mount Failed"):
    """Mounting or unmounting failed, or the mount point is taken."""


class FstabError(ControllerError, summary="Cannot Edit /etc/fstab"):
    """The store's line cannot be added to /etc/fstab."""


@dataclass(frozen=True)
class MountInfo:
    source: str
    target: str
    fs_type: str
    options: str


def _unhex(value: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m[1], 16)), value)


def parse_findmnt_raw(stdout: str) -> list[MountInfo]:
    """Parse ``findmnt -rn -o SOURCE,TARGET,FSTYPE,OPTIONS`` (``\\x20``-escaped fields)."""
    mounts = []
    for line in stdout.splitlines():
        fields = line.split(" ")
        if len(fields) < 4:
            continue
        mounts.append(MountInfo(*(_unhex(f) for f in fields[:4])))
    return mounts


def findmnt(
    t: Transport, *, mount_point: str | None = None, source: str | None = None
) -> list[MountInfo]:
    """Mounts, optionally only those at ``mount_point`` or of ``source`` (empty if none)."""
    argv = ["findmnt", "-rn", "-o", "SOURCE,TARGET,FSTYPE,OPTIONS"]
    if mount_point is not None:
        argv += ["--mountpoint", mount_point]
    if source is not None:
        argv += ["--source", source]
    r = t.run(argv, idempotent=True)
    if r.returncode == 1 and not r.stdout.strip():
        return []
    if r.returncode != 0:
        raise failed("listing mounts with findmnt", r)
    return parse_findmnt_raw(r.stdout)


def mounted_at(t: Transport, mount_point: str) -> MountInfo | None:
    """The mount visible at ``mount_point`` (the top one if mounts are stacked), or None."""
    mounts = findmnt(t, mount_point=mount_point)
    return mounts[-1] if mounts else None


def mount(t: Transport, mount_point: str) -> None:
    """``mount MOUNT_POINT``: mount by the fstab line (and so validate it)."""
    doing = f"mounting {mount_point} from its /etc/fstab line"
    _mount(t, ["mount", "--", mount_point], doing, output_tail)


def remount(t: Transport, mount_point: str) -> None:
    """Re-apply the fstab options of a mounted filesystem."""
    doing = f"remounting {mount_point}"
    _mount(t, ["mount", "-o", "remount", "--", mount_point], doing, lambda r: tail(r.stderr))


def _mount(
    t: Transport, argv: list[str], doing: str, detail: Callable[[CommandResult], str]
) -> None:
    r = t.run(argv)
    if r.returncode != 0:
        raise MountError(f"{doing} failed (status {r.returncode}): {detail(r)}", result=r)


def umount(t: Transport, mount_point: str) -> bool:
    """Unmount; False if nothing was mounted there."""
    if mounted_at(t, mount_point) is None:
        return False
    r = t.run(["umount", "--", mount_point])
    if r.returncode == 0:
        return True
    if mounted_at(t, mount_point) is None:
        return True
    busy = "busy" in r.stderr
    hint = (
        f" Something still uses it: see `fuser -vm {mount_point}` (is glance-api still "
        "serving from it?)"
        if busy
        else ""
    )
    raise MountError(
        f"unmounting {mount_point} failed (status {r.returncode}): {tail(r.stderr)}.{hint}",
        result=r,
    )
