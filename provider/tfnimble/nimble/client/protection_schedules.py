"""Protection schedules (``/v1/protection_schedules``) of volume collections.

A schedule belongs to one collection (``volcoll_or_prottmpl_type`` ``volume_collection`` and
``volcoll_or_prottmpl_id``, fixed at create); its name is unique within the collection. On
each firing the array snapshots every volume of the collection and keeps the newest
``num_retain`` of them. Deleting a schedule keeps the snapshots it took.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .models import JSON, _ApiModel
from .objects import ObjectSet
from .session import NimbleClient
from .volume_collections import differs_from

__all__ = [
    "ProtectionSchedule",
    "create_protection_schedule",
    "delete_protection_schedule",
    "find_protection_schedule",
    "get_protection_schedule",
    "list_protection_schedules",
    "update_protection_schedule",
]

#: The timing and retention fields a schedule is created and updated with.
SCHEDULE_FIELDS = (
    "description",
    "period",
    "period_unit",
    "at_time",
    "until_time",
    "days",
    "num_retain",
    "disable_appsync",
)


@dataclass(frozen=True)
class ProtectionSchedule(_ApiModel):
    """A snapshot schedule of a volume collection. Times of day are seconds after midnight."""

    id: str
    name: str
    volcoll_id: str = field(default="", metadata={"api": "volcoll_or_prottmpl_id"})
    volcoll_or_prottmpl_type: str = ""
    description: str = ""
    period: int = 1
    period_unit: str = "days"
    at_time: int = 0
    until_time: int = 86399
    days: str = "all"
    num_retain: int = 1
    schedule_type: str = "regular"
    disable_appsync: bool = False
    last_snap_time: int = 0
    next_snap_time: int = 0
    creation_time: int = 0
    raw: JSON = field(default_factory=dict, compare=False, repr=False)


_SET = ObjectSet("protection_schedules", "protection schedule", ProtectionSchedule.from_api)


def create_protection_schedule(
    client: NimbleClient, volcoll_id: str, name: str, fields: dict[str, Any]
) -> ProtectionSchedule:
    """Create a schedule of the collection; a lost response adopts the schedule of that name
    in the collection only if it was created within this call's window with these fields."""
    body = {
        "name": name,
        "volcoll_or_prottmpl_type": "volume_collection",
        "volcoll_or_prottmpl_id": volcoll_id,
        **fields,
    }
    return _SET.create_or_adopt(
        client,
        body,
        name=name,
        find=lambda: find_protection_schedule(client, volcoll_id, name),
        mismatch=differs_from(fields),
    )


def get_protection_schedule(client: NimbleClient, schedule_id: str) -> ProtectionSchedule | None:
    return _SET.get(client, schedule_id)


def find_protection_schedule(
    client: NimbleClient, volcoll_id: str, name: str
) -> ProtectionSchedule | None:
    """The schedule of that name in the collection, or None."""
    return _SET.find_by_name(client, name, volcoll_or_prottmpl_id=volcoll_id)


def list_protection_schedules(client: NimbleClient, volcoll_id: str) -> list[ProtectionSchedule]:
    return _SET.list(client, {"volcoll_or_prottmpl_id": volcoll_id})


def update_protection_schedule(
    client: NimbleClient, schedule_id: str, changes: dict[str, Any]
) -> ProtectionSchedule:
    return _SET.update(client, schedule_id, changes)


def delete_protection_schedule(
    client: NimbleClient, schedule_id: str, *, missing_ok: bool = False
) -> None:
    _SET.delete(client, schedule_id, missing_ok=missing_ok)
