"""nimble_pool data source: a storage pool by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from tfnimble.plugin import Context, Value, need, types

from . import _common as c
from . import _fields as f
from . import diagnostics as diag
from ._base import NimbleDataSource

if TYPE_CHECKING:
    from .client import Pool

N = types.Number


@dataclass
class PoolDataModel:
    name: Annotated[Value[str], f.lookup_key("Name of the pool.", required=True)] = None
    id: Annotated[Value[str], f.out(types.String, "ID of the pool.")] = None
    description: Annotated[Value[str], f.out(types.String, "Description of the pool.")] = None
    capacity_bytes: Annotated[Value[int], f.out(N, "Usable capacity in bytes.", "capacity")] = None
    usage_bytes: Annotated[Value[int], f.out(N, "Used space in bytes.", "usage")] = None
    free_space_bytes: Annotated[Value[int], f.out(N, "Free space in bytes.", "free_space")] = None
    volume_count: Annotated[Value[int], f.out(N, "Number of volumes in the pool.", "vol_count")] = (
        None
    )
    is_default: Annotated[
        Value[bool],
        f.out(types.Bool, "Whether new volumes go to this pool when none is named."),
    ] = None


class PoolDataSource(NimbleDataSource):
    TYPE_NAME = "pool"
    Model = PoolDataModel
    DESCRIPTION = "Looks up a storage pool by name, e.g. to check free space."

    def find(self, ctx: Context, config: PoolDataModel) -> Pool:
        from .client import pools

        cl, name = c.client(ctx), need(config.name, "name")
        return c.by_name(
            name,
            lambda n: pools.find_pool_by_name(cl, n),
            lambda: pools.list_pools(cl),
            "pool",
            lambda names: diag.not_found("pool", name, f"Available pools: {', '.join(names)}."),
            list_label="",
        )
