"""nimble_pool data source: a storage pool by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfnimble.plugin import Attribute, Context, DataSource, Schema, types

from . import _common as c
from . import diagnostics as diag


@dataclass
class PoolDataModel:
    name: Any = None
    id: Any = None
    description: Any = None
    capacity_bytes: Any = None
    usage_bytes: Any = None
    free_space_bytes: Any = None
    volume_count: Any = None
    is_default: Any = None


class PoolDataSource(DataSource):
    TYPE_NAME = "pool"
    Model = PoolDataModel

    def schema(self) -> Schema:
        n = types.Number
        return Schema(
            description="Looks up a storage pool by name, e.g. to check free space.",
            attributes={
                "name": Attribute(
                    type=types.String, required=True, description="Name of the pool."
                ),
                "id": Attribute(type=types.String, computed=True, description="ID of the pool."),
                "description": Attribute(
                    type=types.String, computed=True, description="Description of the pool."
                ),
                "capacity_bytes": Attribute(
                    type=n, computed=True, description="Usable capacity in bytes."
                ),
                "usage_bytes": Attribute(type=n, computed=True, description="Used space in bytes."),
                "free_space_bytes": Attribute(
                    type=n, computed=True, description="Free space in bytes."
                ),
                "volume_count": Attribute(
                    type=n, computed=True, description="Number of volumes in the pool."
                ),
                "is_default": Attribute(
                    type=types.Bool,
                    computed=True,
                    description="Whether new volumes go to this pool when none is named.",
                ),
            },
        )

    def read(self, ctx: Context, config: PoolDataModel) -> PoolDataModel:
        from .client import pools

        cl = c.client(ctx)
        pool = c.call(lambda: pools.find_pool_by_name(cl, config.name), "find", "pool", config.name)
        if pool is None:
            names = [p.name for p in c.call(lambda: pools.list_pools(cl), "find", "pool", "")]
            raise diag.not_found("pool", config.name, f"Available pools: {', '.join(names)}.")
        return PoolDataModel(
            name=pool.name,
            id=pool.id,
            description=pool.description,
            capacity_bytes=pool.capacity,
            usage_bytes=pool.usage,
            free_space_bytes=pool.free_space,
            volume_count=pool.vol_count,
            is_default=pool.is_default,
        )
