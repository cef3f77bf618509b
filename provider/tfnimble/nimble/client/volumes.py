"""Volumes and zero-copy clones (``/v1/volumes``). Sizes are MiB."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from . import leftovers
from .errors import Conflict, NotFound
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

log = logging.getLogger("tfnimble.nimble.client")

_VOLUMES = ObjectSet("volumes", "volume", Volume.from_api)

#: The array's refusal to delete a volume that is online (409; what the simulator answers too).
ONLINE_DELETE_CODE = "SM_eperm"


def _optional(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def _create(
    client: NimbleClient,
    kind: str,
    body: dict[str, Any],
    mismatch: Callable[[Volume], str | None],
    never_adopt: str | None = None,
) -> Volume:
    """Create (or, after a lost response, adopt) a volume or clone named ``body["name"]``,
    marked as this provider's (``leftovers.marker_metadata``).

    An object found after a lost response must pass the same test as a leftover (this call's
    own object always does). When the array answers ``SM_eexist``, the volume in the way is
    adopted if neither ``leftovers.untouched_problems`` nor ``mismatch`` find anything against
    it (the object a killed run left behind) and ``never_adopt`` (a reason) is not given;
    else ``LeftoverNotAdopted`` says why.
    """
    name = str(body["name"])
    marked = {**body, "metadata": leftovers.marker_metadata()}
    try:
        return client.create_or_adopt(
            _VOLUMES.name,
            marked,
            kind=kind,
            name=name,
            parse=_VOLUMES.parse,
            find=lambda: find_volume_by_name(client, name),
            mismatch=lambda v: next(iter(leftover_problems(client, v, mismatch)), None),
        )
    except Conflict as err:
        if err.code != leftovers.EEXIST:
            raise
        conflict = err
    found = find_volume_by_name(client, name)
    if found is None:
        raise conflict  # gone since: the next apply creates it
    problems = leftover_problems(client, found, mismatch)
    if never_adopt:
        problems.insert(0, never_adopt)
    if problems:
        raise leftovers.not_adopted(conflict, kind, name, found.id, problems) from conflict
    log.warning(
        "create %s %s: adopted %s, left untouched by an interrupted earlier run",
        kind,
        name,
        found.id,
    )
    return found


def leftover_problems(
    client: NimbleClient, vol: Volume, mismatch: Callable[[Volume], str | None]
) -> list[str]:
    """Why ``vol`` may not be adopted as the volume a create asked for ([] = it may)."""
    problem = mismatch(vol)
    inherited: set[str] = set()
    if vol.clone and vol.parent_vol_id and vol.access_control_records:
        parent = get_volume(client, vol.parent_vol_id)
        if parent is not None:
            inherited = {a.initiator_group_id for a in parent.access_control_records}
    return ([problem] if problem else []) + leftovers.untouched_problems(vol, inherited)


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
    never_adopt: str | None = None,
) -> Volume:
    """Create a volume. A lost response adopts the volume of that name only if it was created
    within this call's time window and its size, pool and performance policy are the ones
    asked for (see ``NimbleClient.create_or_adopt``). A volume of that name left by an
    interrupted earlier run is adopted only by the ``leftovers`` rule, never when
    ``never_adopt`` gives a reason not to."""
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

    return _create(client, "volume", body, mismatch, never_adopt)


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
    name only if it was made from the same snapshot within this call's time window; a clone
    an interrupted earlier run left is adopted only by the ``leftovers`` rule.
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
