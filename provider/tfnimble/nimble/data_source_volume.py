"""nimble_volume data source: a volume (or clone) by name or ID."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from tfnimble.plugin import AttributePath, Context, Value, types

from . import _common as c
from . import _fields as f
from . import diagnostics as diag
from ._base import NimbleDataSource

if TYPE_CHECKING:
    from .client import Volume

KIND = "volume"
S, N, B = types.String, types.Number, types.Bool


@dataclass
class VolumeDataModel:
    id: Annotated[Value[str], f.lookup_key("ID of the volume.")] = None
    name: Annotated[Value[str], f.lookup_key("Name of the volume.")] = None
    size_mib: Annotated[Value[int], f.out(N, "Size in MiB.")] = None
    pool: Annotated[Value[str], f.out(S, "Name of the pool.", "pool_name")] = None
    performance_policy: Annotated[
        Value[str], f.out(S, "Name of the performance policy.", "perfpolicy_name")
    ] = None
    description: Annotated[Value[str], f.out(S, "Description (empty when unset).")] = None
    online: Annotated[Value[bool], f.out(B, "Whether the volume is online.")] = None
    target_name: Annotated[Value[str], f.out(S, "iSCSI target name (IQN).")] = None
    serial_number: Annotated[Value[str], f.out(S, "SCSI serial number.")] = None
    clone: Annotated[Value[bool], f.out(B, "Whether the volume is a clone of a snapshot.")] = None
    base_snapshot_id: Annotated[
        Value[str], f.out(S, "For a clone, the ID of its snapshot; else empty.", "base_snap_id")
    ] = None
    parent_volume_id: Annotated[
        Value[str],
        f.out(S, "For a clone, the ID of the snapshot's volume; else empty.", "parent_vol_id"),
    ] = None
    space_used_bytes: Annotated[
        Value[int], f.out(N, "Space used on the array, in bytes.", "total_usage_bytes")
    ] = None


class VolumeDataSource(NimbleDataSource):
    TYPE_NAME = "volume"
    Model = VolumeDataModel
    DESCRIPTION = (
        "Looks up an existing volume or clone by `name` or `id` (exactly one), e.g. a volume "
        "made outside Terraform."
    )

    def validate_config(self, ctx: Context, config: VolumeDataModel) -> None:
        if (config.id is None) == (config.name is None):
            ctx.diagnostics.add_error(
                "Invalid Volume Lookup",
                "Set exactly one of id and name.",
                AttributePath.root().attr("name"),
            )

    def find(self, ctx: Context, config: VolumeDataModel) -> Volume:
        ident = config.id if isinstance(config.id, str) else str(config.name)
        vol = c.find_volume(ctx, ident)
        if vol is None or (config.name is not None and vol.name != config.name):
            raise diag.not_found(KIND, ident)
        return vol
