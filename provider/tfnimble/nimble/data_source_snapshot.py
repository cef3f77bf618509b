"""nimble_snapshot data source: a snapshot by ID, or by volume and name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from tfnimble.plugin import AttributePath, Context, Value, types

from . import _common as c
from . import _fields as f
from . import diagnostics as diag
from ._base import NimbleDataSource

if TYPE_CHECKING:
    from .client import Snapshot

KIND = "snapshot"
S, B = types.String, types.Bool


@dataclass
class SnapshotDataModel:
    id: Annotated[Value[str], f.lookup_key("ID of the snapshot.")] = None
    volume_id: Annotated[
        Value[str],
        f.lookup_key("ID of the snapshotted volume (with `name`).", source="vol_id"),
    ] = None
    name: Annotated[Value[str], f.lookup_key("Name of the snapshot (with `volume_id`).")] = None
    volume_name: Annotated[Value[str], f.out(S, "Name of the snapshotted volume.", "vol_name")] = (
        None
    )
    description: Annotated[Value[str], f.out(S, "Description (empty when unset).")] = None
    online: Annotated[Value[bool], f.out(B, "Whether the snapshot is online.")] = None
    writable: Annotated[Value[bool], f.out(B, "Whether the snapshot is writable.")] = None
    size_mib: Annotated[
        Value[int],
        f.out(types.Number, "Size of the volume when snapshotted, in MiB.", c.snapshot_size_mib),
    ] = None
    target_name: Annotated[Value[str], f.out(S, "iSCSI target name (IQN).")] = None
    serial_number: Annotated[Value[str], f.out(S, "SCSI serial number.")] = None


class SnapshotDataSource(NimbleDataSource):
    TYPE_NAME = "snapshot"
    Model = SnapshotDataModel
    DESCRIPTION = (
        "Looks up a snapshot by `id`, or by `volume_id` and `name` (snapshot names are unique "
        "per volume), e.g. to clone a snapshot made outside Terraform."
    )

    def validate_config(self, ctx: Context, config: SnapshotDataModel) -> None:
        by_id = config.id is not None
        by_name = config.volume_id is not None or config.name is not None
        if by_id == by_name or (by_name and (config.volume_id is None or config.name is None)):
            ctx.diagnostics.add_error(
                "Invalid Snapshot Lookup",
                "Set either id, or both volume_id and name.",
                AttributePath.root().attr("name" if by_name else "id"),
            )

    def find(self, ctx: Context, config: SnapshotDataModel) -> Snapshot:
        from .client import snapshots

        cl = c.client(ctx)
        snap_id, vol_id, name = config.id, config.volume_id, config.name
        if isinstance(snap_id, str):
            ident = snap_id
            snap = c.call(lambda: snapshots.get_snapshot(cl, snap_id), "find", KIND, ident)
        else:
            ident = f"{vol_id}/{name}"
            snap = c.call(
                lambda: snapshots.find_snapshot_by_name(cl, str(vol_id), str(name)),
                "find",
                KIND,
                ident,
            )
        if snap is None:
            raise diag.not_found(KIND, ident)
        return snap
