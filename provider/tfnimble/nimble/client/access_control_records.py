"""Access control records (``/v1/access_control_records``): no update, create and delete."""

from __future__ import annotations

from typing import Any

from .models import AccessControlRecord
from .session import NimbleClient

__all__ = [
    "create_access_control_record",
    "delete_access_control_record",
    "find_access_control_record",
    "get_access_control_record",
    "list_access_control_records",
]

_SET = "access_control_records"


def create_access_control_record(
    client: NimbleClient,
    vol_id: str,
    initiator_group_id: str,
    apply_to: str = "both",
    lun: int | None = None,
) -> AccessControlRecord:
    """Grant an initiator group access to a volume. A duplicate raises ``Conflict``
    (SM_eexist); a lost response adopts the record for the same volume and group."""
    body: dict[str, Any] = {
        "vol_id": vol_id,
        "initiator_group_id": initiator_group_id,
        "apply_to": apply_to,
    }
    if lun is not None:
        body["lun"] = lun

    def mismatch(acr: AccessControlRecord, _start: float, _end: float) -> str | None:
        return None if acr.apply_to in ("", apply_to) else f"apply_to {acr.apply_to}"

    return client.create_or_adopt(
        _SET,
        body,
        kind="access control record",
        name=f"{vol_id}/{initiator_group_id}",
        parse=AccessControlRecord.from_api,
        find=lambda: find_access_control_record(client, vol_id, initiator_group_id),
        mismatch=mismatch,
    )


def get_access_control_record(client: NimbleClient, acr_id: str) -> AccessControlRecord | None:
    data = client.get_object(_SET, acr_id, kind="access control record")
    return AccessControlRecord.from_api(data) if data is not None else None


def list_access_control_records(
    client: NimbleClient, vol_id: str | None = None, initiator_group_id: str | None = None
) -> list[AccessControlRecord]:
    filters = {"vol_id": vol_id, "initiator_group_id": initiator_group_id}
    records = [
        AccessControlRecord.from_api(r)
        for r in client.iter_objects(_SET, filters, kind="access control record")
    ]
    return [
        r
        for r in records
        if (vol_id is None or r.vol_id == vol_id)
        and (initiator_group_id is None or r.initiator_group_id == initiator_group_id)
    ]


def find_access_control_record(
    client: NimbleClient, vol_id: str, initiator_group_id: str
) -> AccessControlRecord | None:
    """The record granting that group access to that volume, or ``None``."""
    records = list_access_control_records(client, vol_id, initiator_group_id)
    return records[0] if records else None


def delete_access_control_record(
    client: NimbleClient, acr_id: str, *, missing_ok: bool = False
) -> None:
    client.delete_object(_SET, acr_id, kind="access control record", missing_ok=missing_ok)
