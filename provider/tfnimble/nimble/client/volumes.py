"""Volumes and zero-copy clones (``/v1/volumes``). Sizes are MiB."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import NotFound
from .models import Volume
from .objects import ObjectSet, object_path
from .session import NimbleClient

__all__ = [
    "clone_volume",
    "create_volume",
    "delete_volume",
    "find_volume_by_name",
    "get_volume",
    "list_volumes",
    "offline_and_delete_volume",
    "restore_volume",
    "set_volume_online",
    "update_volume",
]

_VOLUMES = ObjectSet("volumes", "volume", Volume.from_api)


def _optional(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def _create(
    client: NimbleClient, kind: str, body: dict[str, Any], mismatch: Callable[[Volume], str | None]
) -> Volume:
    """Create (or, after a lost response, adopt) a volume or clone named ``body["name"]``."""
    name = str(body["name"])
    return client.create_or_adopt(
        _VOLUMES.name,
        body,
        kind=kind,
        name=name,
        parse=_VOLUMES.parse,
        find=lambda: find_volume_by_name(client, name),
        mismatch=mismatch,
    )


def create_volume(
    client: NimbleClient,
    name: str,
    size_mib: int,
    pool_id: str | None = None,
    perfpolicy_id: str | None = None,
    description: str | None = None,
    online: bool = True,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Volume:
    """Create a volume. A lost response adopts the volume of that name only if it was created
    within this call's time window and its size, pool and performance policy are the ones
    asked for (see ``NimbleClient.create_or_adopt``)."""
    body = {
        "name": name,
        "size": int(size_mib),
        "online": online,
        **_optional(pool_id=pool_id, perfpolicy_id=perfpolicy_id, description=description),
        **(extra or {}),
    }

    def mismatch(v: Volume) -> str | None:
        if v.clone:
            return "it is a clone"
        if v.size_mib != int(size_mib):
            return f"size {v.size_mib} MiB, asked {size_mib} MiB"
        if pool_id and v.pool_id != pool_id:
            return f"pool {v.pool_name or v.pool_id}, asked {pool_id}"
        if perfpolicy_id and v.perfpolicy_id != perfpolicy_id:
            return f"performance policy {v.perfpolicy_name or v.perfpolicy_id}"
        return None

    return _create(client, "volume", body, mismatch)


def clone_volume(
    client: NimbleClient,
    name: str,
    base_snap_id: str,
    size_mib: int | None = None,
    description: str | None = None,
    perfpolicy_id: str | None = None,
    online: bool = True,
) -> Volume:
    """Create a zero-copy clone of a snapshot.

    The clone inherits the snapshot's size; a larger ``size_mib`` is applied afterwards with a
    PUT (what Cinder does: the API documents ``size`` on clone only as defaulting to the
    parent's, and a grow is always allowed online). A lost response adopts the clone of that
    name only if it was made from the same snapshot within this call's time window.
    """
    body = {
        "name": name,
        "clone": True,
        "base_snap_id": base_snap_id,
        "online": online,
        **_optional(description=description, perfpolicy_id=perfpolicy_id),
    }

    def mismatch(v: Volume) -> str | None:
        if not v.clone or v.base_snap_id != base_snap_id:
            return (
                f"it is not a clone of snapshot {base_snap_id} "
                f"(base_snap_id {v.base_snap_id or 'none'})"
            )
        return None

    vol = _create(client, "clone volume", body, mismatch)
    if size_mib is not None and int(size_mib) > vol.size_mib:
        vol = update_volume(client, vol.id, size_mib=int(size_mib))
    return vol


def get_volume(client: NimbleClient, volume_id: str) -> Volume | None:
    """The volume with that id, or ``None`` if the array has none."""
    return _VOLUMES.get(client, volume_id)


def find_volume_by_name(client: NimbleClient, name: str) -> Volume | None:
    """The volume with that exact name, or ``None``."""
    return _VOLUMES.find_by_name(client, name)


def list_volumes(
    client: NimbleClient, filters: Mapping[str, Any] | None = None, *, detail: bool = True
) -> list[Volume]:
    """Every volume matching the exact-match ``filters`` (all pages).

    With ``detail=False`` the array returns only ``id`` and ``name``; the other fields then
    hold their defaults.
    """
    return _VOLUMES.list(client, filters, detail=detail)


def update_volume(
    client: NimbleClient,
    volume_id: str,
    *,
    size_mib: int | None = None,
    force: bool = False,
    **changes: Any,
) -> Volume:
    """Change volume attributes (``name``, ``description``, ``perfpolicy_id``, ``online``...).

    ``size_mib`` is sent as ``size``. ``force`` is sent only when true (it allows a shrink).
    """
    body = dict(changes)
    if size_mib is not None:
        body["size"] = int(size_mib)
    if force:
        body["force"] = True
    return _VOLUMES.update(client, volume_id, body)


def set_volume_online(
    client: NimbleClient, volume_id: str, online: bool, force: bool = False
) -> Volume:
    """Bring a volume online or offline. "Already in that state" (SM_ealready) is success;
    ``force`` offlines even with connected initiators."""
    return _VOLUMES.set_online(client, volume_id, online, force=force)


def delete_volume(client: NimbleClient, volume_id: str, *, missing_ok: bool = False) -> None:
    """Delete a volume. The array refuses an online volume (offline it first, or use
    ``offline_and_delete_volume``)."""
    _VOLUMES.delete(client, volume_id, missing_ok=missing_ok)


def offline_and_delete_volume(client: NimbleClient, volume_id: str, *, force: bool = False) -> None:
    """Take a volume offline, then delete it. A volume that is already offline or already
    gone is fine."""
    try:
        set_volume_online(client, volume_id, False, force=force)
    except NotFound:
        return
    delete_volume(client, volume_id, missing_ok=True)


def restore_volume(client: NimbleClient, volume_id: str, base_snap_id: str) -> None:
    """Restore a volume to one of its snapshots. The volume must be offline."""
    # Restoring to the same snapshot twice gives the same result, so retries are safe.
    client.request(
        "POST",
        object_path(_VOLUMES.name, volume_id, "actions", "restore"),
        body={"data": {"id": volume_id, "base_snap_id": base_snap_id}},
        idempotent=True,
        operation="restore volume",
        object_name=volume_id,
    )
