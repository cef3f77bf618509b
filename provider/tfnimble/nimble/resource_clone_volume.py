"""nimble_clone_volume: a zero-copy clone of a snapshot (Image Transfer Optimization)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfnimble.plugin import (
    Attribute,
    AttributePath,
    Context,
    DiagnosticError,
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

KIND = "clone volume"


@dataclass
class CloneVolumeModel:
    id: Any = None
    name: Any = None
    snapshot_id: Any = None
    size_mib: Any = None
    description: Any = None
    performance_policy: Any = None
    online: Any = None
    target_name: Any = None
    serial_number: Any = None
    parent_volume_id: Any = None
    base_snapshot_name: Any = None
    space_used_bytes: Any = None
    timeouts: Any = None


class CloneVolumeResource(Resource):
    """A zero-copy clone of a snapshot: created instantly, sharing every block with the
    snapshot until written. Use one per instance boot disk made from an image master."""

    TYPE_NAME = "clone_volume"
    Model = CloneVolumeModel
    DEFAULT_TIMEOUTS = c.DEFAULT_TIMEOUTS

    def schema(self) -> Schema:
        return Schema(
            description=(
                "A zero-copy clone of a snapshot (`POST /v1/volumes` with `clone: true`): "
                "created in seconds, using no space until written. Delete takes the clone "
                "offline first. Import with the clone's ID or name."
            ),
            attributes={
                "id": c.id_attribute(KIND),
                "name": Attribute(
                    type=types.String,
                    required=True,
                    validators=(c.VOLUME_NAME_RULE,),
                    description=(
                        "Name of the clone, unique on the array. Renamed in place (the iSCSI "
                        "target name stays)."
                    ),
                ),
                "snapshot_id": Attribute(
                    type=types.String,
                    required=True,
                    plan_modifiers=(requires_replace(),),
                    description=(
                        "ID of the snapshot to clone, e.g. `nimble_snapshot.base.id`. "
                        "Changing it replaces the clone (its data is lost)."
                    ),
                ),
                "size_mib": Attribute(
                    type=types.Number,
                    optional=True,
                    computed=True,
                    validators=(c.SIZE_RULE,),
                    plan_modifiers=(use_state_for_unknown(),),
                    description=(
                        "Size in MiB. Defaults to the snapshot's size; must be at least that. "
                        "Grows in place; a smaller value is refused at plan time."
                    ),
                ),
                "description": c.description_attribute(KIND),
                "performance_policy": c.performance_policy_attribute(KIND),
                "online": c.online_attribute(KIND),
                "target_name": c.computed("iSCSI target name (IQN) of the clone."),
                "serial_number": c.computed("SCSI serial number of the clone."),
                "parent_volume_id": c.computed("ID of the volume the snapshot belongs to."),
                "base_snapshot_name": c.computed("Name of the snapshot the clone was made from."),
                "space_used_bytes": c.space_used_attribute(KIND),
            },
            blocks={"timeouts": timeouts_block("create", "update", "delete")},
        )

    def modify_plan(
        self,
        ctx: Context,
        plan: CloneVolumeModel,
        state: CloneVolumeModel | None,
        config: CloneVolumeModel,
    ) -> CloneVolumeModel:
        if state is None:
            if is_known(plan.snapshot_id) and is_known(config.size_mib) and config.size_mib:
                self._check_size_against_snapshot(ctx, plan.name, plan.snapshot_id, plan.size_mib)
            return plan
        replacing = plan.snapshot_id != state.snapshot_id
        if (
            not replacing
            and is_known(plan.size_mib)
            and plan.size_mib is not None
            and state.size_mib is not None
            and plan.size_mib < state.size_mib
        ):
            raise diag.size_shrink(KIND, state.name, int(state.size_mib), int(plan.size_mib))
        return plan

    def _check_size_against_snapshot(
        self, ctx: Context, name: Any, snapshot_id: str, size_mib: int
    ) -> None:
        from .client import snapshots

        cl = c.client(ctx)
        snap = c.call(
            lambda: snapshots.get_snapshot(cl, snapshot_id), "find", "snapshot", snapshot_id
        )
        if snap is None:
            raise DiagnosticError(
                "Snapshot Not Found",
                f'The array has no snapshot with ID "{snapshot_id}" to clone '
                f'"{name if is_known(name) else "this clone"}" from.',
                AttributePath.root().attr("snapshot_id"),
            )
        snap_mib = -(-snap.size // c.MIB)
        if size_mib < snap_mib:
            raise diag.size_below_snapshot(str(name), snap.name, snap_mib, int(size_mib))

    def _model(self, vol: Any, prior: CloneVolumeModel | None) -> CloneVolumeModel:
        return CloneVolumeModel(
            snapshot_id=vol.base_snap_id,
            parent_volume_id=vol.parent_vol_id,
            base_snapshot_name=vol.base_snap_name,
            **c.volume_fields(vol, prior),
        )

    def create(self, ctx: Context, plan: CloneVolumeModel) -> CloneVolumeModel:
        from .client import volumes

        cl = c.client(ctx)
        size = int(plan.size_mib) if is_known(plan.size_mib) and plan.size_mib else None
        if size is not None:
            self._check_size_against_snapshot(ctx, plan.name, plan.snapshot_id, size)
        policy = None
        if is_known(plan.performance_policy):
            policy = c.policy_id(
                ctx, plan.performance_policy, AttributePath.root().attr("performance_policy")
            )
        ctx.check(f"creating clone volume {plan.name}")
        vol = c.call(
            lambda: volumes.clone_volume(
                cl,
                plan.name,
                plan.snapshot_id,
                description=plan.description,
                perfpolicy_id=policy,
                online=bool(plan.online),
            ),
            "create",
            KIND,
            plan.name,
        )
        model = self._model(vol, plan)
        ctx.set_partial_state(model)
        if size is not None and size > vol.size_mib:
            ctx.check(f"growing clone volume {plan.name}")
            vol = c.call(
                lambda: volumes.update_volume(cl, vol.id, size_mib=size), "resize", KIND, plan.name
            )
            model = self._model(vol, plan)
        return model

    def read(self, ctx: Context, state: CloneVolumeModel) -> CloneVolumeModel | None:
        from .client import volumes

        cl = c.client(ctx)
        vol = c.call(lambda: volumes.get_volume(cl, state.id), "read", KIND, state.name)
        return None if vol is None else self._model(vol, state)

    def update(
        self, ctx: Context, plan: CloneVolumeModel, state: CloneVolumeModel
    ) -> CloneVolumeModel:
        vol = c.volume_changes(ctx, plan, state, KIND)
        model = self._model(vol, plan)
        model.space_used_bytes = c.kept_reading(plan.space_used_bytes, vol.total_usage_bytes)
        return model

    def delete(self, ctx: Context, state: CloneVolumeModel) -> None:
        c.delete_volume(ctx, state.id, state.name, KIND, was_online=bool(state.online))

    def import_state(self, ctx: Context, import_id: str) -> CloneVolumeModel:
        vol = c.find_volume(ctx, import_id, KIND)
        if vol is None:
            raise diag.not_found(KIND, import_id)
        if not vol.clone:
            raise DiagnosticError(
                "Volume Is Not A Clone",
                f'Volume "{vol.name}" ({vol.id}) is not a clone of a snapshot; import it as a '
                "nimble_volume instead.",
            )
        return self._model(vol, None)
