"""nimble_performance_policy data source: a performance policy by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfnimble.plugin import Attribute, Context, DataSource, Schema, types

from . import _common as c
from . import diagnostics as diag

KIND = "performance policy"


@dataclass
class PerformancePolicyDataModel:
    name: Any = None
    id: Any = None
    description: Any = None
    block_size: Any = None
    compress: Any = None
    cache: Any = None
    dedupe_enabled: Any = None
    app_category: Any = None


class PerformancePolicyDataSource(DataSource):
    TYPE_NAME = "performance_policy"
    Model = PerformancePolicyDataModel

    def schema(self) -> Schema:
        b = types.Bool
        return Schema(
            description=(
                "Looks up a performance policy by name (for example `default` or "
                "`Windows File Server`)."
            ),
            attributes={
                "name": Attribute(
                    type=types.String, required=True, description="Name of the policy."
                ),
                "id": Attribute(type=types.String, computed=True, description="ID of the policy."),
                "description": Attribute(
                    type=types.String, computed=True, description="Description of the policy."
                ),
                "block_size": Attribute(
                    type=types.Number,
                    computed=True,
                    description=(
                        "Block size in bytes. A volume can only move to a policy with the same "
                        "block size."
                    ),
                ),
                "compress": Attribute(
                    type=b, computed=True, description="Whether data is compressed."
                ),
                "cache": Attribute(type=b, computed=True, description="Whether data is cached."),
                "dedupe_enabled": Attribute(
                    type=b, computed=True, description="Whether data is deduplicated."
                ),
                "app_category": Attribute(
                    type=types.String, computed=True, description="Application category."
                ),
            },
        )

    def read(self, ctx: Context, config: PerformancePolicyDataModel) -> PerformancePolicyDataModel:
        from .client import performance_policies as pp

        cl = c.client(ctx)
        policy = c.call(
            lambda: pp.find_performance_policy_by_name(cl, config.name), "find", KIND, config.name
        )
        if policy is None:
            names = [
                p.name for p in c.call(lambda: pp.list_performance_policies(cl), "find", KIND, "")
            ]
            raise diag.not_found(KIND, config.name, f"Available policies: {', '.join(names)}.")
        return PerformancePolicyDataModel(
            name=policy.name,
            id=policy.id,
            description=policy.description,
            block_size=policy.block_size,
            compress=policy.compress,
            cache=policy.cache,
            dedupe_enabled=policy.dedupe_enabled,
            app_category=policy.app_category,
        )
