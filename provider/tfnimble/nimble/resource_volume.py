"""nimble_volume: a thin-provisioned volume."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfnimble.plugin import (
    Attribute,
    AttributePath,
    Context,
    Resource,
    Schema,
    is_known,
    requires_replace,
    timeouts_block,
    types,
    use_state_for_unknown,
)

from . import _common as c
from . import diagnostics as diag

KIND = "volume"


@dataclass
class VolumeModel:
    id: Any = None
    name: Any = None
    size_mib: Any = None
    pool: Any = None
    performance_policy: Any = None
    description: Any = None
    online: Any = None
    target_name: Any = None
    serial_number: Any = None
    space_used_bytes: Any = None
    timeouts: Any = None


class VolumeResource(Resource):
    """A thin-provisioned volume, e.g. the Glance image store or an image master's volume."""

    TYPE_NAME = "volume"
    Model = VolumeModel
    DEFAULT_TIMEOUTS = c.DEFAULT_TIMEOUTS

    def schema(self) -> Schema:
        return Schema(
            description=(
                "A thin-provisioned volume. Size, description, performance policy and online "
                "state change in place; a new pool replaces it. Delete takes the volume "
                "offline first. Import with the volume's ID or name."
            ),
            attributes={
                "id": c.id_attribute(KIND),
                "name": Attribute(
                    type=types.String,
                    required=True,
                    validators=(c.VOLUME_NAME_RULE,),
                    description=(
                        "Name of the volume, unique on the array. Renamed in place (the iSCSI "
                        "target name stays)."
                    ),
                ),
                "size_mib": Attribute(
                    type=types.Number,
                    required=True,
                    validators=(c.SIZE_RULE,),
                    description=(
                        "Size in MiB (1 to 134217728). Grows in place; a smaller value is "
                        "refused at plan time, because shrinking loses data."
                    ),
                ),
                "pool": Attribute(
                    type=types.String,
                    optional=True,
                    computed=True,
                    plan_modifiers=(use_state_for_unknown(), requires_replace()),
                    description=(
                        "Name of the storage pool (see the `nimble_pool` data source). "
                        "Defaults to the array's default pool. Changing it replaces the volume."
                    ),
                ),
                "performance_policy": c.performance_policy_attribute(KIND),
                "description": c.description_attribute(KIND),
                "online": c.online_attribute(KIND),
                "target_name": c.computed("iSCSI target name (IQN) of the volume."),
                "serial_number": c.computed("SCSI serial number of the volume."),
                "space_used_bytes": c.space_used_attribute(KIND),
            },
            blocks={"timeouts": timeouts_block("create", "update", "delete")},
        )

    def modify_plan(
        self, ctx: Context, plan: VolumeModel, state: VolumeModel | None, config: VolumeModel
    ) -> VolumeModel:
        if (
            state is not None
            and is_known(plan.size_mib)
            and plan.size_mib is not None
            and state.size_mib is not None
            and plan.size_mib < state.size_mib
            and (plan.pool == state.pool or not is_known(plan.pool))
        ):
            raise diag.size_shrink(KIND, state.name, int(state.size_mib), int(plan.size_mib))
        return plan

    def _model(self, vol: Any, prior: VolumeModel | None) -> VolumeModel:
        return VolumeModel(pool=vol.pool_name, **c.volume_fields(vol, prior))

    def create(self, ctx: Context, plan: VolumeModel) -> VolumeModel:
        from .client import volumes

        cl = c.client(ctx)
        root = AttributePath.root()
        pool = c.pool_id(ctx, plan.pool, root.attr("pool")) if is_known(plan.pool) else None
        policy = None
        if is_known(plan.performance_policy):
            policy = c.policy_id(ctx, plan.performance_policy, root.attr("performance_policy"))
        ctx.check(f"creating volume {plan.name}")
        vol = c.call(
            lambda: volumes.create_volume(
                cl,
                plan.name,
                int(plan.size_mib),
                pool_id=pool,
                perfpolicy_id=policy,
                description=plan.description,
                online=bool(plan.online),
            ),
            "create",
            KIND,
            plan.name,
        )
        return self._model(vol, plan)

    def read(self, ctx: Context, state: VolumeModel) -> VolumeModel | None:
        from .client import volumes

        cl = c.client(ctx)
        vol = c.call(lambda: volumes.get_volume(cl, state.id), "read", KIND, state.name)
        return None if vol is None else self._model(vol, state)

    def update(self, ctx: Context, plan: VolumeModel, state: VolumeModel) -> VolumeModel:
        vol = c.volume_changes(ctx, plan, state, KIND)
        model = self._model(vol, plan)
        model.space_used_bytes = c.kept_reading(plan.space_used_bytes, vol.total_usage_bytes)
        return model

    def delete(self, ctx: Context, state: VolumeModel) -> None:
        c.delete_volume(ctx, state.id, state.name, KIND, was_online=bool(state.online))

    def import_state(self, ctx: Context, import_id: str) -> VolumeModel:
        vol = c.find_volume(ctx, import_id, KIND)
        if vol is None:
            raise diag.not_found(KIND, import_id)
        return self._model(vol, None)
