"""nimble_volumes data source: every volume (or clone) that matches some filters.

The pool, the base snapshot, the parent volume and the volume collection are sent to the array
as exact-match query parameters of ``GET /v1/volumes/detail`` with only the fields this data
source reports (``fields=``), page by page; the name prefix and the regular expression are then
applied by the provider (see ``_filters``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from tfnimble.plugin import AttributePath, Context, Value, types

from . import _common as c
from . import _fields as f
from . import _filters as flt
from . import _plancheck as pc

S, N, B = types.String, types.Number, types.Bool


def _raw(key: str) -> Any:
    """A column read from the array's own field (one the client model does not carry)."""
    return lambda v: str(v.raw.get(key) or "")


COLUMNS: flt.Columns = {
    "id": (S, "ID of the volume.", lambda v: v.id),
    "name": (S, "Name of the volume.", lambda v: v.name),
    "size_mib": (N, "Size in MiB.", lambda v: v.size_mib),
    "pool": (S, "Name of the pool.", lambda v: v.pool_name),
    "performance_policy": (S, "Name of the performance policy.", lambda v: v.perfpolicy_name),
    "description": (
        S,
        "Description; null when unset, as the resources hold it (so `description = "
        "each.value.description` adopts without a change).",
        lambda v: v.description or None,
    ),
    "online": (B, "Whether the volume is online.", lambda v: v.online),
    "clone": (B, "Whether the volume is a clone of a snapshot.", lambda v: v.clone),
    "base_snapshot_id": (
        S,
        "For a clone, the ID of its snapshot; else empty.",
        lambda v: v.base_snap_id,
    ),
    "parent_volume_id": (
        S,
        "For a clone, the ID of its snapshot's volume; else empty.",
        lambda v: v.parent_vol_id,
    ),
    "volume_collection_id": (
        S,
        "ID of the volume collection the volume belongs to; empty when none.",
        _raw("volcoll_id"),
    ),
    "target_name": (S, "iSCSI target name (IQN).", lambda v: v.target_name),
    "serial_number": (S, "SCSI serial number.", lambda v: v.serial_number),
}
#: The array's field names this data source reads (its ``fields=`` parameter).
API_FIELDS = (
    "id,name,size,pool_id,pool_name,perfpolicy_id,perfpolicy_name,description,online,clone,"
    "base_snap_id,base_snap_name,parent_vol_id,parent_vol_name,volcoll_id,volcoll_name,"
    "target_name,serial_number,creation_time,last_modified"
)


def _id_filter(kind: str, example: str, description: str) -> f.Field:
    return f.argument(S, description, validators=(c.id_rule(kind, example),))


@dataclass
class VolumesDataModel:
    name_prefix: Annotated[Value[str], flt.NAME_PREFIX] = None
    name_regex: Annotated[Value[str], flt.NAME_REGEX] = None
    pool: Annotated[
        Value[str],
        f.argument(S, "Only volumes in the pool of this name (sent to the array)."),
    ] = None
    base_snapshot_id: Annotated[
        Value[str],
        _id_filter(
            "snapshot",
            "nimble_snapshot.NAME.id",
            "Only clones of the snapshot with this ID, e.g. the `snapshot_id` of a "
            "`nimble_image_master` (sent to the array).",
        ),
    ] = None
    parent_volume_id: Annotated[
        Value[str],
        _id_filter(
            "volume",
            "nimble_volume.NAME.id",
            "Only clones of any snapshot of the volume with this ID (sent to the array).",
        ),
    ] = None
    volume_collection_id: Annotated[
        Value[str],
        _id_filter(
            "volume collection",
            "nimble_volume_collection.NAME.id",
            "Only volumes in the volume collection with this ID (sent to the array).",
        ),
    ] = None
    clone: Annotated[
        Value[bool],
        f.argument(B, "Only clones (`true`) or only volumes that are not clones (`false`)."),
    ] = None
    ids: Annotated[Value[list[str]], flt.strings("IDs of the matching volumes, by name.")] = None
    names: Annotated[Value[list[str]], flt.strings("Names of the matching volumes, sorted.")] = None
    volumes: Annotated[
        Value[list[dict[str, Any]]],
        flt.object_list(
            "The matching volumes, sorted by name. For `for_each`, key them by name: "
            "`{ for v in data.nimble_volumes.x.volumes : v.name => v }`.",
            COLUMNS,
        ),
    ] = None


class VolumesDataSource(flt.PluralDataSource):
    TYPE_NAME = "volumes"
    Model = VolumesDataModel
    DESCRIPTION = (
        "Lists the volumes and clones that match all the given filters (none: every volume), "
        "e.g. every clone of an image master's snapshot, to adopt them with `import` blocks "
        "and `for_each`. The pool, snapshot, parent volume and volume collection filters are "
        "applied by the array; the name filters by the provider."
    )

    def read(self, ctx: Context, config: VolumesDataModel) -> VolumesDataModel:
        from .client import volumes

        query: dict[str, Any] = {
            "base_snap_id": config.base_snapshot_id,
            "parent_vol_id": config.parent_volume_id,
            "volcoll_id": config.volume_collection_id,
            "clone": config.clone,
            "fields": API_FIELDS,
        }
        if isinstance(config.pool, str):
            query["pool_id"] = c.pool_id(ctx, config.pool, AttributePath.root().attr("pool"))
        cl = c.client(ctx)
        _check_references(ctx, config)
        found = c.call(lambda: volumes.list_volumes(cl, query), "list", "volume", "volumes")
        matched = flt.kept(found, lambda v: v.name, config.name_prefix, config.name_regex)
        config.ids = [v.id for v in matched]
        config.names = [v.name for v in matched]
        config.volumes = flt.rows(matched, COLUMNS)
        return config


def _check_references(ctx: Context, config: VolumesDataModel) -> None:
    """An ID filter must name an object on this array: an ID copied from another array (or
    a deleted object) would otherwise list nothing, silently."""
    if isinstance(config.base_snapshot_id, str):
        pc.snapshot(ctx, "base_snapshot_id", config.base_snapshot_id)
    if isinstance(config.parent_volume_id, str):
        pc.volume(ctx, "parent_volume_id", config.parent_volume_id)
    if isinstance(config.volume_collection_id, str):
        pc.volume_collection(ctx, "volume_collection_id", config.volume_collection_id)
