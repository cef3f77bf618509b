"""Volume collections (``/v1/volume_collections``) and their membership.

The array keeps membership on the volume: ``volcoll_id`` of ``/v1/volumes/{id}`` names its
collection (``""``: none), and a PUT of it moves the volume in or out. The collection lists
its members in ``volume_list``. A volume in a collection cannot be deleted
(``SM_vol_assoc_volcoll``), nor a collection that has volumes (``SM_ebusy``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .models import JSON, _ApiModel
from .objects import ObjectSet, gone
from .session import NimbleClient

__all__ = [
    "VolumeCollection",
    "create_volume_collection",
    "delete_volume_collection",
    "find_volume_collection_by_name",
    "get_volume_collection",
    "list_volume_collections",
    "set_volume_collection",
    "update_volume_collection",
    "volume_collection_of",
]


@dataclass(frozen=True)
class VolumeCollection(_ApiModel):
    """A volume collection: volumes snapshotted together by its protection schedules."""

    id: str
    name: str
    description: str = ""
    app_sync: str = "none"
    app_server: str = ""
    app_id: str = ""
    volume_count: int = 0
    creation_time: int = 0
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @property
    def volume_ids(self) -> tuple[str, ...]:
        """The IDs of the member volumes (``volume_list`` of the detail object)."""
        rows = self.raw.get("volume_list") or ()
        return tuple(str(r.get("id") or r.get("vol_id")) for r in rows if isinstance(r, dict))


_SET = ObjectSet("volume_collections", "volume collection", VolumeCollection.from_api)
_VOLUMES = "volumes"


def create_volume_collection(
    client: NimbleClient, name: str, **fields: str | None
) -> VolumeCollection:
    """Create a collection; ``fields`` are the array's (``description``, ``app_sync``, ...),
    None ones left out. A lost response adopts the collection of that name only if it was
    created within this call's time window with the same fields."""
    body: dict[str, Any] = {"name": name, **{k: v for k, v in fields.items() if v is not None}}
    return _SET.create_or_adopt(
        client,
        body,
        name=name,
        find=lambda: find_volume_collection_by_name(client, name),
        mismatch=differs_from(body),
    )


def differs_from(body: Mapping[str, Any]) -> Callable[[Any], str | None]:
    """For create_or_adopt: the first field of ``body`` an object found after a lost
    response reports otherwise (it has a ``raw`` dict), or None when all agree."""

    def mismatch(obj: Any) -> str | None:
        for key, want in body.items():
            if obj.raw.get(key, want) != want:
                return f"its {key} is {obj.raw.get(key)!r}"
        return None

    return mismatch


def get_volume_collection(client: NimbleClient, volcoll_id: str) -> VolumeCollection | None:
    return _SET.get(client, volcoll_id)


def find_volume_collection_by_name(client: NimbleClient, name: str) -> VolumeCollection | None:
    return _SET.find_by_name(client, name)


def list_volume_collections(client: NimbleClient) -> list[VolumeCollection]:
    """Every volume collection (all pages)."""
    return _SET.list(client)


def update_volume_collection(
    client: NimbleClient, volcoll_id: str, changes: dict[str, Any]
) -> VolumeCollection:
    """PUT ``changes`` (nothing to change reads the collection instead)."""
    if changes:
        return _SET.update(client, volcoll_id, changes)
    current = get_volume_collection(client, volcoll_id)
    if current is None:
        raise gone("update volume collection", volcoll_id, "no such volume collection")
    return current


def delete_volume_collection(
    client: NimbleClient, volcoll_id: str, *, missing_ok: bool = False
) -> None:
    _SET.delete(client, volcoll_id, missing_ok=missing_ok)


def volume_collection_of(client: NimbleClient, volume_id: str) -> str | None:
    """The ID of the collection the volume is in (``""``: none); None if there is no volume."""
    data = client.get_object(_VOLUMES, volume_id, kind="volume")
    return None if data is None else str(data.get("volcoll_id") or "")


def set_volume_collection(client: NimbleClient, volume_id: str, volcoll_id: str) -> None:
    """Put the volume in the collection (``""``: take it out of its collection)."""
    client.update_object(_VOLUMES, volume_id, {"volcoll_id": volcoll_id}, kind="volume")
