"""nimble_volume: a thin-provisioned volume."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from tfnimble.plugin import AttributePath, Context, Value, is_known, known_or_none, need, types

from . import _common as c
from . import _fields as f
from . import _plancheck as pc
from ._base import VolumeBackedResource

if TYPE_CHECKING:
    from .client import Volume

KIND = "volume"


@dataclass
class VolumeModel:
    id: Annotated[Value[str], f.array_id(KIND)] = None
    name: Annotated[
        Value[str],
        f.name(
            "Name of the volume, unique on the array. Renamed in place (the iSCSI target name "
            "stays).",
            c.VOLUME_NAME_RULE,
        ),
    ] = None
    size_mib: Annotated[
        Value[int],
        f.argument(
            types.Number,
            "Size in MiB (1 to 134217728). Grows in place; a smaller value is refused at "
            "plan time, because shrinking loses data.",
            required=True,
            validators=(c.SIZE_RULE,),
        ),
    ] = None
    pool: Annotated[
        Value[str],
        f.argument(
            types.String,
            "Name of the storage pool (see the `nimble_pool` data source). Defaults to the "
            "array's default pool. Changing it replaces the volume.",
            computed=True,
            keep_prior=True,
            replaces=True,
        ),
    ] = None
    performance_policy: Annotated[Value[str], f.performance_policy(KIND)] = None
    description: Annotated[Value[str], f.description(KIND)] = None
    online: Annotated[Value[bool], f.online(KIND)] = None
    target_name: Annotated[Value[str], f.computed("iSCSI target name (IQN) of the volume.")] = None
    serial_number: Annotated[Value[str], f.computed("SCSI serial number of the volume.")] = None
    space_used_bytes: Annotated[Value[int], f.space_used(KIND)] = None
    timeouts: Annotated[Value[dict[str, str | None]], f.timeouts("create", "update", "delete")] = (
        None
    )


class VolumeResource(VolumeBackedResource):
    """A thin-provisioned volume, e.g. the Glance image store or an image master's volume."""

    TYPE_NAME = "volume"
    Model = VolumeModel
    DESCRIPTION = (
        "A thin-provisioned volume. Size, description, performance policy and online state "
        "change in place; a new pool replaces it. Delete takes the volume offline first. "
        "Import with the volume's ID or name."
    )

    def modify_plan(
        self, ctx: Context, plan: VolumeModel, state: VolumeModel | None, config: VolumeModel
    ) -> VolumeModel:
        # A new pool replaces the volume, so any size is fine then.
        if state is not None and (plan.pool == state.pool or not is_known(plan.pool)):
            c.refuse_shrink(KIND, state.name, plan.size_mib, state.size_mib)
        pc.pool_and_policy(ctx, plan, state)
        return plan

    def to_model(self, obj: Volume, prior: VolumeModel | None) -> VolumeModel:
        return VolumeModel(pool=obj.pool_name, **c.volume_fields(obj, prior))

    def create(self, ctx: Context, plan: VolumeModel) -> VolumeModel:
        from .client import volumes

        cl = c.client(ctx)
        root = AttributePath.root()
        pool = c.pool_id(ctx, known_or_none(plan.pool), root.attr("pool"))
        policy = c.policy_id(
            ctx, known_or_none(plan.performance_policy), root.attr("performance_policy")
        )
        name = need(plan.name, "name")
        vol = c.create(
            ctx,
            lambda: volumes.create_volume(
                cl,
                name,
                need(plan.size_mib, "size_mib"),
                pool_id=pool,
                perfpolicy_id=policy,
                description=known_or_none(plan.description),
                online=bool(plan.online),
            ),
            KIND,
            name,
        )
        return self.to_model(vol, plan)
