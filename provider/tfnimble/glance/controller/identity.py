"""Which volume a block device is: its SCSI identifiers, compared with a volume's serial.

The kernel and udev name a SCSI disk after what its target reports:

* VPD page 0x80 (unit serial number): ``/sys/class/block/<dev>/device/vpd_pg80`` (4 header
  bytes, then ASCII), and the ``/dev/disk/by-id/scsi-S<vendor>_<model>_<serial>`` link
  (sg3-utils' 55-scsi-sg3_id.rules).
* VPD page 0x83 (device identification), by designator type: ``scsi-1<T10 vendor id>``,
  ``scsi-2<EUI-64>``, ``scsi-3<NAA>`` and ``wwn-0x<NAA>``.

A Nimble volume's ``serial_number`` (32 hex digits) is its unit serial number and its
16-byte EUI-64 designator (``vpd_ieee0`` + ``vpd_ieee1``), so its by-id link is
``scsi-2<serial>``; its T10 designator is ``Nimble  <serial>``. A target that builds a
type-6 NAA from the serial (``6`` + the serial's first 31 digits, as tgtd does from its
``scsi_id``) names it ``scsi-36…`` / ``wwn-0x6…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..transport.base import Transport
from .base import ControllerError

__all__ = ["DeviceIdentity", "WrongVolume", "device_identity", "identity_matches"]

BY_ID = "/dev/disk/by-id"


class WrongVolume(ControllerError, summary="Device Is Another Volume"):
    """The disk found for the LUN is not the volume the store was given."""

    attribute = "volume_serial"


@dataclass(frozen=True)
class DeviceIdentity:
    """What identifies a block device: its unit serial number and its by-id link names."""

    device: str
    unit_serial: str | None
    by_id: tuple[str, ...]

    def describe(self) -> str:
        parts = [f"unit serial number {self.unit_serial}"] if self.unit_serial else []
        parts += [f"{BY_ID}/{name}" for name in self.by_id]
        return ", ".join(parts) or "no SCSI identifier at all"


def _vpd80(data: bytes | None) -> str | None:
    if not data or len(data) < 4:
        return None
    length = int.from_bytes(data[2:4], "big")
    text = data[4 : 4 + length].decode("ascii", "replace").strip().strip("\0").strip()
    return text or None


def device_identity(t: Transport, device: str) -> DeviceIdentity:
    """The unit serial number (sysfs) and the by-id links that resolve to ``device``."""
    name = device.rsplit("/", 1)[-1]
    serial = _vpd80(t.read_file(f"/sys/class/block/{name}/device/vpd_pg80"))
    r = t.run(
        ["find", BY_ID, "-maxdepth", "1", "-type", "l", "-lname", f"*/{name}"], idempotent=True
    )
    links = sorted(
        line.rsplit("/", 1)[-1]
        for line in (r.stdout.splitlines() if r.returncode == 0 else [])
        if line.strip() and "-part" not in line.rsplit("/", 1)[-1]
    )
    return DeviceIdentity(device, serial, tuple(links))


_HEX = re.compile(r"[0-9a-f]+")


def _naa_of(hexid: str, serial: str) -> bool:
    """An NAA designator that is the serial, or a type-6 NAA built from it."""
    if hexid == serial:
        return True
    return len(hexid) == 32 and hexid[0] == "6" and hexid[1:] == serial[:31]


def identity_matches(ident: DeviceIdentity, serial: str) -> bool:
    """Whether a device's identifiers name the volume with serial number ``serial``."""
    want = serial.strip().lower()
    if not want:
        return False
    if ident.unit_serial is not None and ident.unit_serial.lower() == want:
        return True
    for name in ident.by_id:
        low = name.lower()
        if low.startswith("scsi-2") and low[6:] == want:
            return True
        if low.startswith("scsi-3") and _HEX.fullmatch(low[6:]) and _naa_of(low[6:], want):
            return True
        if low.startswith("wwn-0x") and _HEX.fullmatch(low[6:]) and _naa_of(low[6:], want):
            return True
        if low.startswith(("scsi-s", "scsi-1")) and re.split(r"[_\s]+", low)[-1] == want:
            return True
    return False
