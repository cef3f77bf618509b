"""Protection schedules (``/v1/protection_schedules``) of volume collections.

A schedule belongs to one collection (``volcoll_or_prottmpl_type`` ``volume_collection`` and
``volcoll_or_prottmpl_id``, fixed at create); its name is unique within the collection. On
each firing the array snapshots every volume of the collection and keeps the newest
``num_retain`` of them. Deleting a schedule keeps the snapshots it took.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import Conflict
from .models import JSON, Snapshot, _ApiModel
from .objects import ObjectSet
from .session import NimbleClient
from .volume_collections import differs_from

__all__ = [
    "ProtectionSchedule",
    "create_protection_schedule",
    "delete_protection_schedule",
    "delete_schedule_and_its_snapshots",
    "find_protection_schedule",
    "get_protection_schedule",
    "list_protection_schedules",
    "snapshots_taken_by",
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


def snapshots_taken_by(client: NimbleClient, schedule: ProtectionSchedule) -> list[Snapshot]:
    """The snapshots the schedule took of the volumes now in its collection (each snapshot
    names its schedule in ``schedule_id``)."""
    from . import snapshots
    from . import volume_collections as vcs

    vc = vcs.get_volume_collection(client, schedule.volcoll_id)
    taken: list[Snapshot] = []
    for vol_id in vc.volume_ids if vc else ():
        rows = snapshots.list_snapshots(client, vol_id)
        taken += [s for s in rows if s.raw.get("schedule_id") == schedule.id]
    return taken


def delete_schedule_and_its_snapshots(client: NimbleClient, schedule_id: str) -> list[str]:
    """Delete the schedule (so it takes no more), then the snapshots it took of its
    collection's volumes. The ones the array keeps (online, or the base of a clone) are
    returned as ``VOLUME/SNAPSHOT (code)``; they stay, unmanaged."""
    from . import snapshots

    schedule = get_protection_schedule(client, schedule_id)
    if schedule is None:
        return []
    taken = snapshots_taken_by(client, schedule)
    delete_protection_schedule(client, schedule_id, missing_ok=True)
    kept = []
    for snap in taken:
        try:
            snapshots.delete_snapshot(client, snap.id, missing_ok=True)
        except Conflict as err:
            kept.append(f"{snap.vol_name}/{snap.name} ({err.code})")
    return kept
