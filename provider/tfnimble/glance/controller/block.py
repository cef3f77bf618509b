"""Block devices: the udev by-path link of a LUN, what ``blkid`` finds on a device, ``mkfs``."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..transport.base import Transport
from .base import ControllerError, Sleep, failed, polls
from .iscsi import Portal

__all__ = [
    "BlkidInfo",
    "DeviceNotFound",
    "FilesystemMismatch",
    "blkid_probe",
    "by_path_link",
    "find_by_path_device",
    "format_lun",
    "mkfs",
    "parse_blkid_export",
    "resolve_path",
]


class DeviceNotFound(ControllerError, summary="iSCSI Device Not Found"):
    """No disk appeared for the LUN after login."""


class FilesystemMismatch(ControllerError, summary="Unexpected Filesystem On Device"):
    """The device holds something other than the store's filesystem, or is unusable."""


def format_lun(lun: int) -> str:
    """LUN as udev's path_id writes it: decimal below 256, else ``0x%04x%04x00000000``."""
    if lun < 256:
        return str(lun)
    return f"0x{lun & 0xFFFF:04x}{(lun >> 16) & 0xFFFF:04x}00000000"


def by_path_link(portal: Portal, iqn: str, lun: int) -> str:
    """``/dev/disk/by-path/ip-<addr>:<port>-iscsi-<iqn>-lun-<n>`` (IPv6 without brackets)."""
    return f"/dev/disk/by-path/ip-{portal.host}:{portal.port}-iscsi-{iqn}-lun-{format_lun(lun)}"


def resolve_path(t: Transport, path: str) -> str | None:
    """The device a link points to (``readlink -e``), or None while it does not exist."""
    r = t.run(["readlink", "-e", "-n", "--", path], idempotent=True)
    if r.returncode == 0 and r.stdout.strip():
        return r.stdout.strip()
    return None


def _glob_by_path(t: Transport, suffix: str) -> str | None:
    """Offload transports prefix the link (``pci-...-ip-...``): look for ``*<suffix>``."""
    r = t.run(
        ["find", "/dev/disk/by-path", "-maxdepth", "1", "-name", f"*{suffix}"], idempotent=True
    )
    if r.returncode != 0:
        return None
    links = sorted(line for line in r.stdout.splitlines() if line.strip())
    return links[0] if links else None


def find_by_path_device(
    t: Transport,
    portal: Portal,
    iqn: str,
    lun: int,
    *,
    attempts: int = 20,
    delay: float = 0.5,
    sleep: Sleep = time.sleep,
) -> tuple[str, str] | None:
    """Wait (bounded) for the by-path link; ``(link, resolved device)`` or None."""
    link = by_path_link(portal, iqn, lun)
    suffix = link.rsplit("/", 1)[1]
    for _ in polls(attempts, delay, sleep):
        device = resolve_path(t, link)
        if device:
            return link, device
        other = _glob_by_path(t, suffix)
        if other:
            device = resolve_path(t, other)
            if device:
                return other, device
    return None


@dataclass(frozen=True)
class BlkidInfo:
    """What ``blkid -p -o export`` found on a device."""

    values: dict[str, str]

    @property
    def type(self) -> str | None:
        return self.values.get("TYPE")

    @property
    def uuid(self) -> str | None:
        return self.values.get("UUID")

    @property
    def pttype(self) -> str | None:
        return self.values.get("PTTYPE")

    def describe(self) -> str:
        if self.type:
            extra = f" (UUID {self.uuid})" if self.uuid else ""
            return f"an existing {self.type} filesystem{extra}"
        if self.pttype:
            return f"an existing {self.pttype} partition table"
        found = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return f"data blkid recognises ({found})"


def parse_blkid_export(stdout: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip()] = re.sub(r"\\(.)", r"\1", value.strip())
    return values


def blkid_probe(t: Transport, device: str) -> BlkidInfo | None:
    """Low-level probe of ``device``: None when it holds nothing blkid recognises (status 2).

    Anything else (a filesystem, a partition table, RAID members...) is returned, and status 8
    (ambivalent: several signatures) is an error: such a device is never "empty".
    """
    r = t.run(["blkid", "-p", "-o", "export", "--", device], idempotent=True)
    if r.returncode == 2:
        return None
    if r.returncode == 0:
        return BlkidInfo(parse_blkid_export(r.stdout))
    if r.returncode == 8:
        raise FilesystemMismatch(
            f"{device} carries several conflicting signatures (blkid: ambivalent result). "
            "Inspect it with `wipefs --no-act`; it is not treated as empty",
            result=r,
        )
    raise failed(f"probing {device} with blkid", r)


def mkfs(
    t: Transport, device: str, fs_type: str, options: Sequence[str] = (), *, force: bool = False
) -> None:
    """Make a filesystem. Callers must have checked the device is empty (or been told to force)."""
    if not re.fullmatch(r"[a-z0-9]+", fs_type):
        raise ValueError(f"invalid filesystem type {fs_type!r}")
    argv = [f"mkfs.{fs_type}", "-q"]
    if force:
        argv.append("-f" if fs_type in ("xfs", "btrfs") else "-F")
    argv += [*options, device]
    r = t.run(argv, timeout=1800)
    if r.returncode != 0:
        raise failed(f"making a {fs_type} filesystem on {device}", r)
