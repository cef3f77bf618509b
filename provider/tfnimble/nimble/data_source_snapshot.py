"""nimble_snapshot data source: a snapshot by ID, or by volume and name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfnimble.plugin import Attribute, AttributePath, Context, DataSource, Schema, types

from . import _common as c
from . import diagnostics as diag

KIND = "snapshot"


@dataclass
class SnapshotDataModel:
    id: Any = None
    volume_id: Any = None
    name: Any = None
    volume_name: Any = None
    description: Any = None
    online: Any = None
    writable: Any = None
    size_mib: Any = None
    target_name: Any = None
    serial_number: Any = None


def _out(ty: Any, description: str) -> Attribute:
    return Attribute(type=ty, computed=True, description=description)


class SnapshotDataSource(DataSource):
    TYPE_NAME = "snapshot"
    Model = SnapshotDataModel

    def schema(self) -> Schema:
        s = types.String
        return Schema(
            description=(
                "Looks up a snapshot by `id`, or by `volume_id` and `name` (snapshot names are "
                "unique per volume), e.g. to clone a snapshot made outside Terraform."
            ),
            attributes={
                "id": Attribute(
                    type=s, optional=True, computed=True, description="ID of the snapshot."
                ),
                "volume_id": Attribute(
                    type=s,
                    optional=True,
                    computed=True,
                    description="ID of the snapshotted volume (with `name`).",
                ),
                "name": Attribute(
                    type=s,
                    optional=True,
                    computed=True,
                    description="Name of the snapshot (with `volume_id`).",
                ),
                "volume_name": _out(s, "Name of the snapshotted volume."),
                "description": _out(s, "Description (empty when unset)."),
                "online": _out(types.Bool, "Whether the snapshot is online."),
                "writable": _out(types.Bool, "Whether the snapshot is writable."),
                "size_mib": _out(types.Number, "Size of the volume when snapshotted, in MiB."),
                "target_name": _out(s, "iSCSI target name (IQN)."),
                "serial_number": _out(s, "SCSI serial number."),
            },
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

    def read(self, ctx: Context, config: SnapshotDataModel) -> SnapshotDataModel:
        from .client import snapshots

        cl = c.client(ctx)
        if config.id is not None:
            ident = config.id
            snap = c.call(lambda: snapshots.get_snapshot(cl, config.id), "find", KIND, ident)
        else:
            ident = f"{config.volume_id}/{config.name}"
            snap = c.call(
                lambda: snapshots.find_snapshot_by_name(cl, config.volume_id, config.name),
                "find",
                KIND,
                ident,
            )
        if snap is None:
            raise diag.not_found(KIND, ident)
        return SnapshotDataModel(
            id=snap.id,
            volume_id=snap.vol_id,
            name=snap.name,
            volume_name=snap.vol_name,
            description=snap.description,
            online=snap.online,
            writable=snap.writable,
            size_mib=-(-snap.size // c.MIB),
            target_name=snap.target_name,
            serial_number=snap.serial_number,
        )
