"""nimble_volume data source: a volume (or clone) by name or ID."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfnimble.plugin import Attribute, AttributePath, Context, DataSource, Schema, types

from . import _common as c
from . import diagnostics as diag

KIND = "volume"


@dataclass
class VolumeDataModel:
    id: Any = None
    name: Any = None
    size_mib: Any = None
    pool: Any = None
    performance_policy: Any = None
    description: Any = None
    online: Any = None
    target_name: Any = None
    serial_number: Any = None
    clone: Any = None
    base_snapshot_id: Any = None
    parent_volume_id: Any = None
    space_used_bytes: Any = None


def _out(ty: Any, description: str) -> Attribute:
    return Attribute(type=ty, computed=True, description=description)


class VolumeDataSource(DataSource):
    TYPE_NAME = "volume"
    Model = VolumeDataModel

    def schema(self) -> Schema:
        s, n, b = types.String, types.Number, types.Bool
        return Schema(
            description=(
                "Looks up an existing volume or clone by `name` or `id` (exactly one), e.g. a "
                "volume made outside Terraform."
            ),
            attributes={
                "id": Attribute(
                    type=s, optional=True, computed=True, description="ID of the volume."
                ),
                "name": Attribute(
                    type=s, optional=True, computed=True, description="Name of the volume."
                ),
                "size_mib": _out(n, "Size in MiB."),
                "pool": _out(s, "Name of the pool."),
                "performance_policy": _out(s, "Name of the performance policy."),
                "description": _out(s, "Description (empty when unset)."),
                "online": _out(b, "Whether the volume is online."),
                "target_name": _out(s, "iSCSI target name (IQN)."),
                "serial_number": _out(s, "SCSI serial number."),
                "clone": _out(b, "Whether the volume is a clone of a snapshot."),
                "base_snapshot_id": _out(s, "For a clone, the ID of its snapshot; else empty."),
                "parent_volume_id": _out(
                    s, "For a clone, the ID of the snapshot's volume; else empty."
                ),
                "space_used_bytes": _out(n, "Space used on the array, in bytes."),
            },
        )

    def validate_config(self, ctx: Context, config: VolumeDataModel) -> None:
        if (config.id is None) == (config.name is None):
            ctx.diagnostics.add_error(
                "Invalid Volume Lookup",
                "Set exactly one of id and name.",
                AttributePath.root().attr("name"),
            )

    def read(self, ctx: Context, config: VolumeDataModel) -> VolumeDataModel:
        ident = config.id if config.id is not None else config.name
        vol = c.find_volume(ctx, ident)
        if vol is None or (config.name is not None and vol.name != config.name):
            raise diag.not_found(KIND, ident)
        return VolumeDataModel(
            id=vol.id,
            name=vol.name,
            size_mib=vol.size_mib,
            pool=vol.pool_name,
            performance_policy=vol.perfpolicy_name,
            description=vol.description,
            online=vol.online,
            target_name=vol.target_name,
            serial_number=vol.serial_number,
            clone=vol.clone,
            base_snapshot_id=vol.base_snap_id,
            parent_volume_id=vol.parent_vol_id,
            space_used_bytes=vol.total_usage_bytes,
        )
