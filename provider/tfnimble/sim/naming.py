"""Ids, serial numbers and iSCSI target names, made the way the array makes them."""

from __future__ import annotations

import secrets

from .constants import (
    GROUP_TARGET_FORMAT,
    IQN_PREFIX,
    NIMBLE_OUI,
    SNAPSHOT_TARGET_FORMAT,
    VOLUME_TARGET_FORMAT,
)
from .store import Doc


def make_id(prefix: str, guid: str, seq: int) -> str:
    return f"{prefix}{guid}{'0' * 16}{seq:08x}"


def new_serial() -> str:
    return secrets.token_hex(8) + NIMBLE_OUI + secrets.token_hex(4)


def _serial_tail(serial: str) -> str:
    return bytes.fromhex(serial[-8:])[::-1].hex()


def volume_target(doc: Doc, guid: str) -> str:
    return VOLUME_TARGET_FORMAT.format(
        prefix=IQN_PREFIX,
        name=doc["name"],
        guid=guid,
        seq=doc["id"][-8:],
        serial_tail=_serial_tail(doc["serial_number"]),
    )


def snapshot_target(doc: Doc, vol_name: str, guid: str) -> str:
    return SNAPSHOT_TARGET_FORMAT.format(
        prefix=IQN_PREFIX,
        vol=vol_name,
        name=doc["name"],
        guid=guid,
        seq=doc["id"][-8:],
        serial_tail=_serial_tail(doc["serial_number"]),
    )


def group_target(group: Doc, guid: str) -> str:
    return GROUP_TARGET_FORMAT.format(prefix=IQN_PREFIX, group=group["name"], guid=guid)


def vpd(serial: str) -> dict[str, str]:
    """The SCSI VPD identifiers the array derives from a volume's or snapshot's serial."""
    return {"vpd_t10": "Nimble  " + serial, "vpd_ieee0": serial[:16], "vpd_ieee1": serial[16:]}
