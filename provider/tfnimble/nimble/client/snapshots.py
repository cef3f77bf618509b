"""Snapshots (``/v1/snapshots``). Snapshot names are unique per volume."""

from __future__ import annotations

from typing import Any

from .errors import BadRequest, Conflict, NotFound
from .models import Snapshot, Volume
from .session import NimbleClient

__all__ = [
    "create_snapshot",
    "delete_snapshot",
    "find_snapshot_by_name",
    "get_snapshot",
    "list_clones_of_snapshot",
    "list_snapshots",
    "set_snapshot_online",
    "update_snapshot",
]

_SET = "snapshots"


def create_snapshot(
    client: NimbleClient,
    vol_id: str,
    name: str,
    description: str | None = None,
    online: bool = False,
    writable: bool = False,
) -> Snapshot:
    """Snapshot a volume. A lost response adopts the snapshot of that name on the same
    volume."""
    body: dict[str, Any] = {"name": name, "vol_id": vol_id, "online": online, "writable": writable}
    if description is not None:
        body["description"] = description

    def mismatch(s: Snapshot, _start: float, _end: float) -> str | None:
        return None if s.vol_id == vol_id else f"it belongs to volume {s.vol_name or s.vol_id}"

    return client.create_or_adopt(
        _SET,
        body,
        kind="snapshot",
        name=name,
        parse=Snapshot.from_api,
        find=lambda: find_snapshot_by_name(client, vol_id, name),
        mismatch=mismatch,
    )


def get_snapshot(client: NimbleClient, snapshot_id: str) -> Snapshot | None:
    """The snapshot with that id, or ``None``."""
    data = client.get_object(_SET, snapshot_id, kind="snapshot")
    return Snapshot.from_api(data) if data is not None else None


def find_snapshot_by_name(client: NimbleClient, vol_id: str, name: str) -> Snapshot | None:
    """The snapshot of volume ``vol_id`` with that exact name, or ``None``."""
    for row in client.iter_objects(_SET, {"vol_id": vol_id, "name": name}, kind="snapshot"):
        if row.get("name") == name and row.get("vol_id", vol_id) == vol_id:
            return Snapshot.from_api(row)
    return None


def list_snapshots(client: NimbleClient, vol_id: str) -> list[Snapshot]:
    """Every snapshot of one volume (some firmware refuses an unfiltered snapshot list)."""
    return [
        Snapshot.from_api(r) for r in client.iter_objects(_SET, {"vol_id": vol_id}, kind="snapshot")
    ]


def update_snapshot(client: NimbleClient, snapshot_id: str, **changes: Any) -> Snapshot:
    """Change ``name``, ``description``, ``online``, ``expiry_after``..."""
    return Snapshot.from_api(client.update_object(_SET, snapshot_id, changes, kind="snapshot"))


def set_snapshot_online(client: NimbleClient, snapshot_id: str, online: bool) -> Snapshot:
    """Bring a snapshot online or offline; "already in that state" is success."""
    try:
        return update_snapshot(client, snapshot_id, online=online)
    except Conflict as err:
        if err.code != "SM_ealready":
            raise
    snap = get_snapshot(client, snapshot_id)
    if snap is None:
        raise NotFound(
            404, None, "the snapshot disappeared", (), "set snapshot online", snapshot_id
        )
    return snap


def delete_snapshot(client: NimbleClient, snapshot_id: str, *, missing_ok: bool = False) -> None:
    """Delete a snapshot. Refused (``Conflict`` SM_snap_has_clone) while clones exist."""
    client.delete_object(_SET, snapshot_id, kind="snapshot", missing_ok=missing_ok)


def list_clones_of_snapshot(client: NimbleClient, snapshot_id: str) -> list[Volume]:
    """Every clone volume made from this snapshot.

    Filters on ``base_snap_id`` server-side and checks again client-side; if the array
    rejects the filter, every volume is listed and filtered here.
    """
    try:
        rows = client.list_objects("volumes", {"base_snap_id": snapshot_id}, kind="volume")
    except BadRequest:
        rows = client.list_objects("volumes", kind="volume")
    return [Volume.from_api(r) for r in rows if r.get("base_snap_id") == snapshot_id]
