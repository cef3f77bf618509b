"""nimble_performance_policy data source: a performance policy by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from tfnimble.plugin import Context, Value, need, types

from . import _common as c
from . import _fields as f
from . import diagnostics as diag
from ._base import NimbleDataSource

if TYPE_CHECKING:
    from .client import PerformancePolicy

KIND = "performance policy"
B = types.Bool


@dataclass
class PerformancePolicyDataModel:
    name: Annotated[Value[str], f.lookup_key("Name of the policy.", required=True)] = None
    id: Annotated[Value[str], f.out(types.String, "ID of the policy.")] = None
    description: Annotated[Value[str], f.out(types.String, "Description of the policy.")] = None
    block_size: Annotated[
        Value[int],
        f.out(
            types.Number,
            "Block size in bytes. A volume can only move to a policy with the same block size.",
        ),
    ] = None
    compress: Annotated[Value[bool], f.out(B, "Whether data is compressed.")] = None
    cache: Annotated[Value[bool], f.out(B, "Whether data is cached.")] = None
    dedupe_enabled: Annotated[Value[bool], f.out(B, "Whether data is deduplicated.")] = None
    app_category: Annotated[Value[str], f.out(types.String, "Application category.")] = None


class PerformancePolicyDataSource(NimbleDataSource):
    TYPE_NAME = "performance_policy"
    Model = PerformancePolicyDataModel
    DESCRIPTION = (
        "Looks up a performance policy by name (for example `default` or `Windows File Server`)."
    )

    def find(self, ctx: Context, config: PerformancePolicyDataModel) -> PerformancePolicy:
        from .client import performance_policies as pp

        cl, name = c.client(ctx), need(config.name, "name")
        return c.by_name(
            name,
            lambda n: pp.find_performance_policy_by_name(cl, n),
            lambda: pp.list_performance_policies(cl),
            KIND,
            lambda names: diag.not_found(KIND, name, f"Available policies: {', '.join(names)}."),
            list_label="",
        )
