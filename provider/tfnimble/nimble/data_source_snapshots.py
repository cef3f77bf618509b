"""nimble_snapshots data source: the snapshots of one volume, or of every volume, that match
some filters.

Some firmware refuses a snapshot list that is not filtered by volume (see the simulator's
``SNAPSHOT_LIST_NEEDS_FILTER``), so snapshots are always listed per volume: ``GET
/v1/snapshots/detail?vol_id=...`` for the configured volume, or for each volume the array lists
(optionally only those in a pool). The name prefix and regular expression are applied by the
provider (see ``_filters``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from tfnimble.plugin import AttributePath, Context, DiagnosticError, Value, types

from . import _common as c
from . import _fields as f
from . import _filters as flt
from . import _plancheck as pc
from . import diagnostics as diag

if TYPE_CHECKING:
    from .client import NimbleClient, Snapshot

S, N, B = types.String, types.Number, types.Bool

COLUMNS: flt.Columns = {
    "id": (S, "ID of the snapshot.", lambda s: s.id),
    "name": (S, "Name of the snapshot.", lambda s: s.name),
    "volume_id": (S, "ID of the snapshotted volume.", lambda s: s.vol_id),
    "volume_name": (S, "Name of the snapshotted volume.", lambda s: s.vol_name),
    "description": (
        S,
        "Description; null when unset, as the resources hold it (so `description = "
        "each.value.description` adopts without a change).",
        lambda s: s.description or None,
    ),
    "online": (B, "Whether the snapshot is online.", lambda s: s.online),
    "writable": (B, "Whether the snapshot is writable.", lambda s: s.writable),
    "size_mib": (N, "Size of the volume when snapshotted, in MiB.", c.snapshot_size_mib),
    "creation_time": (
        N,
        "When the snapshot was taken (seconds since the epoch).",
        lambda s: s.creation_time,
    ),
    "target_name": (S, "iSCSI target name (IQN).", lambda s: s.target_name),
    "serial_number": (S, "SCSI serial number.", lambda s: s.serial_number),
}


@dataclass
class SnapshotsDataModel:
    volume_id: Annotated[
        Value[str],
        f.argument(
            S,
            "Only snapshots of the volume with this ID (sent to the array). Conflicts with "
            "`volume_name`.",
            validators=(c.id_rule("volume", "nimble_volume.NAME.id"),),
        ),
    ] = None
    volume_name: Annotated[
        Value[str],
        f.argument(
            S,
            "Only snapshots of the volume of this name. Conflicts with `volume_id`. Without "
            "either, the snapshots of every volume (one request per volume).",
        ),
    ] = None
    pool: Annotated[
        Value[str],
        f.argument(
            S,
            "Only snapshots of volumes in the pool of this name (sent to the array). Not with "
            "`volume_id` or `volume_name`.",
        ),
    ] = None
    name_prefix: Annotated[Value[str], flt.NAME_PREFIX] = None
    name_regex: Annotated[Value[str], flt.NAME_REGEX] = None
    ids: Annotated[Value[list[str]], flt.strings("IDs of the matching snapshots.")] = None
    snapshots: Annotated[
        Value[list[dict[str, Any]]],
        flt.object_list(
            "The matching snapshots, sorted by volume name, then snapshot name.",
            COLUMNS,
        ),
    ] = None


class SnapshotsDataSource(flt.PluralDataSource):
    TYPE_NAME = "snapshots"
    Model = SnapshotsDataModel
    DESCRIPTION = (
        "Lists the snapshots that match all the given filters: those of one volume "
        "(`volume_id` or `volume_name`), or of every volume (optionally in one `pool`), "
        "narrowed by name."
    )

    def validate_config(self, ctx: Context, config: SnapshotsDataModel) -> None:
        root = AttributePath.root()
        if config.volume_id is not None and config.volume_name is not None:
            ctx.diagnostics.add_error(
                "Conflicting Snapshot Filters",
                "Set at most one of volume_id and volume_name: both name the volume.",
                root.attr("volume_name"),
            )
        if config.pool is not None and (config.volume_id, config.volume_name) != (None, None):
            ctx.diagnostics.add_error(
                "Conflicting Snapshot Filters",
                "pool narrows the volumes whose snapshots are listed; with volume_id or "
                "volume_name the volume is already chosen. Remove pool.",
                root.attr("pool"),
            )

    def read(self, ctx: Context, config: SnapshotsDataModel) -> SnapshotsDataModel:
        cl = c.client(ctx)
        found: list[Snapshot] = []
        for vol_id in self._volumes(ctx, cl, config):
            ctx.check("listing snapshots")
            found += _snapshots_of(cl, vol_id)
        matched = flt.kept(found, lambda s: s.name, config.name_prefix, config.name_regex)
        matched.sort(key=lambda s: (s.vol_name, s.name))
        config.ids = [s.id for s in matched]
        config.snapshots = flt.rows(matched, COLUMNS)
        return config

    @staticmethod
    def _volumes(ctx: Context, cl: NimbleClient, config: SnapshotsDataModel) -> list[str]:
        """IDs of the volumes whose snapshots are listed."""
        from .client import volumes

        if isinstance(config.volume_id, str):
            pc.volume(ctx, "volume_id", config.volume_id)
            return [config.volume_id]
        if isinstance(config.volume_name, str):
            name = config.volume_name
            vol = c.call(lambda: volumes.find_volume_by_name(cl, name), "find", "volume", name)
            if vol is None:
                err = diag.not_found("volume", name, "Check volume_name, or use volume_id.")
                raise DiagnosticError(
                    err.summary, err.detail, AttributePath.root().attr("volume_name")
                )
            return [vol.id]
        query: dict[str, Any] = {"fields": "id,name"}
        if isinstance(config.pool, str):
            query["pool_id"] = c.pool_id(ctx, config.pool, AttributePath.root().attr("pool"))
        vols = c.call(lambda: volumes.list_volumes(cl, query), "list", "volume", "volumes")
        return [v.id for v in vols]


def _snapshots_of(cl: NimbleClient, vol_id: str) -> list[Snapshot]:
    from .client import snapshots

    return c.call(lambda: snapshots.list_snapshots(cl, vol_id), "list", "snapshot", vol_id)
