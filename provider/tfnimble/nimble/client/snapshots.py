"""Snapshots (``/v1/snapshots``). Snapshot names are unique per volume."""

from __future__ import annotations

from typing import Any

from .errors import BadRequest
from .models import Snapshot, Volume
from .objects import ObjectSet
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

_SNAPSHOTS = ObjectSet("snapshots", "snapshot", Snapshot.from_api)


def create_snapshot(
    client: NimbleClient,
    vol_id: str,
    name: str,
    description: str | None = None,
    online: bool = False,
    writable: bool = False,
) -> Snapshot:
    """Snapshot a volume. A lost response adopts the snapshot of that name on the same volume
    only if it was created within this call's time window."""
    body: dict[str, Any] = {"name": name, "vol_id": vol_id, "online": online, "writable": writable}
    if description is not None:
        body["description"] = description

    def mismatch(s: Snapshot) -> str | None:
        return None if s.vol_id == vol_id else f"it belongs to volume {s.vol_name or s.vol_id}"

    return _SNAPSHOTS.create_or_adopt(
        client,
        body,
        name=name,
        find=lambda: find_snapshot_by_name(client, vol_id, name),
        mismatch=mismatch,
    )


def get_snapshot(client: NimbleClient, snapshot_id: str) -> Snapshot | None:
    """The snapshot with that id, or ``None``."""
    return _SNAPSHOTS.get(client, snapshot_id)


def find_snapshot_by_name(client: NimbleClient, vol_id: str, name: str) -> Snapshot | None:
    """The snapshot of volume ``vol_id`` with that exact name, or ``None``."""
    return _SNAPSHOTS.find_by_name(client, name, vol_id=vol_id)


def list_snapshots(client: NimbleClient, vol_id: str) -> list[Snapshot]:
    """Every snapshot of one volume (some firmware refuses an unfiltered snapshot list)."""
    return _SNAPSHOTS.list(client, {"vol_id": vol_id})


def update_snapshot(client: NimbleClient, snapshot_id: str, **changes: Any) -> Snapshot:
    """Change ``name``, ``description``, ``online``, ``expiry_after``..."""
    return _SNAPSHOTS.update(client, snapshot_id, changes)


def set_snapshot_online(client: NimbleClient, snapshot_id: str, online: bool) -> Snapshot:
    """Bring a snapshot online or offline; "already in that state" is success."""
    return _SNAPSHOTS.set_online(client, snapshot_id, online)


def delete_snapshot(client: NimbleClient, snapshot_id: str, *, missing_ok: bool = False) -> None:
    """Delete a snapshot. Refused (``Conflict`` SM_snap_has_clone) while clones exist."""
    _SNAPSHOTS.delete(client, snapshot_id, missing_ok=missing_ok)


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
