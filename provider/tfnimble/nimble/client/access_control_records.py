"""Access control records (``/v1/access_control_records``): no update, create and delete."""

from __future__ import annotations

from typing import Any

from .models import AccessControlRecord
from .objects import ObjectSet
from .session import NimbleClient

__all__ = [
    "create_access_control_record",
    "delete_access_control_record",
    "find_access_control_record",
    "get_access_control_record",
    "list_access_control_records",
]

_RECORDS = ObjectSet(
    "access_control_records", "access control record", AccessControlRecord.from_api
)


def create_access_control_record(
    client: NimbleClient,
    vol_id: str,
    initiator_group_id: str,
    apply_to: str = "both",
    lun: int | None = None,
    chap_user_id: str | None = None,
) -> AccessControlRecord:
    """Grant an initiator group access to a volume (its initiators authenticating as the CHAP
    user ``chap_user_id``, if given). A duplicate raises ``Conflict`` (SM_eexist); a lost
    response adopts the record for the same volume and group only if it was created within
    this call's time window with the same ``apply_to`` and CHAP user."""
    body: dict[str, Any] = {
        "vol_id": vol_id,
        "initiator_group_id": initiator_group_id,
        "apply_to": apply_to,
    }
    if lun is not None:
        body["lun"] = lun
    if chap_user_id:
        body["chap_user_id"] = chap_user_id

    def mismatch(acr: AccessControlRecord) -> str | None:
        if acr.chap_user_id != (chap_user_id or ""):
            return f"CHAP user {acr.chap_user_id or 'none'}"
        return None if acr.apply_to in ("", apply_to) else f"apply_to {acr.apply_to}"

    return _RECORDS.create_or_adopt(
        client,
        body,
        name=f"{vol_id}/{initiator_group_id}",
        find=lambda: find_access_control_record(client, vol_id, initiator_group_id),
        mismatch=mismatch,
    )


def get_access_control_record(client: NimbleClient, acr_id: str) -> AccessControlRecord | None:
    """The record with that id, or ``None``."""
    return _RECORDS.get(client, acr_id)


def list_access_control_records(
    client: NimbleClient, vol_id: str | None = None, initiator_group_id: str | None = None
) -> list[AccessControlRecord]:
    """The records of that volume and/or initiator group (filtered on the array, checked
    again here); every record when both are ``None``."""
    records = _RECORDS.list(client, {"vol_id": vol_id, "initiator_group_id": initiator_group_id})
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
    """Delete a record; a 404 is an error unless ``missing_ok``."""
    _RECORDS.delete(client, acr_id, missing_ok=missing_ok)
