"""nimble_clone_volume: a zero-copy clone of a snapshot (Image Transfer Optimization)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from tfnimble.plugin import (
    AttributePath,
    Context,
    DiagnosticError,
    Value,
    is_known,
    known_or_none,
    need,
    types,
)

from . import _common as c
from . import _fields as f
from . import _plancheck as pc
from . import diagnostics as diag
from ._base import VolumeBackedResource

if TYPE_CHECKING:
    from .client import Volume

KIND = "clone volume"


@dataclass
class CloneVolumeModel:
    id: Annotated[Value[str], f.array_id(KIND)] = None
    name: Annotated[
        Value[str],
        f.name(
            "Name of the clone, unique on the array. Renamed in place (the iSCSI target name "
            "stays).",
            c.VOLUME_NAME_RULE,
        ),
    ] = None
    snapshot_id: Annotated[
        Value[str],
        f.replacing_reference(
            "ID of the snapshot to clone, e.g. `nimble_snapshot.base.id` or "
            "`nimble_image_master.ubuntu.snapshot_id`. Changing it replaces the clone (its data "
            "is lost). A known ID the array does not have is refused at plan time.",
            c.id_rule("snapshot", "nimble_image_master.NAME.snapshot_id"),
        ),
    ] = None
    size_mib: Annotated[
        Value[int],
        f.argument(
            types.Number,
            "Size in MiB. Defaults to the snapshot's size; must be at least that. Grows in "
            "place; a smaller value is refused at plan time.",
            computed=True,
            validators=(c.SIZE_RULE,),
            keep_prior=True,
        ),
    ] = None
    description: Annotated[Value[str], f.description(KIND)] = None
    performance_policy: Annotated[Value[str], f.performance_policy(KIND)] = None
    online: Annotated[Value[bool], f.online(KIND)] = None
    target_name: Annotated[Value[str], f.computed("iSCSI target name (IQN) of the clone.")] = None
    serial_number: Annotated[Value[str], f.computed("SCSI serial number of the clone.")] = None
    parent_volume_id: Annotated[
        Value[str], f.computed("ID of the volume the snapshot belongs to.")
    ] = None
    base_snapshot_name: Annotated[
        Value[str], f.computed("Name of the snapshot the clone was made from.")
    ] = None
    space_used_bytes: Annotated[Value[int], f.space_used(KIND)] = None
    timeouts: Annotated[Value[dict[str, str | None]], f.timeouts("create", "update", "delete")] = (
        None
    )


class CloneVolumeResource(VolumeBackedResource):
    """A zero-copy clone of a snapshot: created instantly, sharing every block with the
    snapshot until written. Use one per instance boot disk made from an image master."""

    TYPE_NAME = "clone_volume"
    Model = CloneVolumeModel
    READ_FIELDS = (*c.VOLUME_READ_FIELDS, "base_snap_id", "parent_vol_id", "base_snap_name")
    DESCRIPTION = (
        "A zero-copy clone of a snapshot (`POST /v1/volumes` with `clone: true`): created in "
        "seconds, using no space until written. Delete takes the clone offline first. Import "
        "with the clone's ID or name."
    )

    def modify_plan(
        self,
        ctx: Context,
        plan: CloneVolumeModel,
        state: CloneVolumeModel | None,
        config: CloneVolumeModel,
    ) -> CloneVolumeModel:
        prior = None if state is None else state.snapshot_id
        creating = state is None or plan.snapshot_id != prior  # a create or a replacement
        if state is not None and not creating:
            c.refuse_shrink(KIND, state.name, plan.size_mib, state.size_mib)
        pc.report(ctx, lambda: self._check_snapshot(ctx, plan, config, creating))
        pc.pool_and_policy(ctx, plan, state)
        return plan

    def _check_snapshot(
        self, ctx: Context, plan: CloneVolumeModel, config: CloneVolumeModel, creating: bool
    ) -> None:
        """Plan: a known snapshot_id must name a snapshot (one memoised read per ID, see
        _plancheck), and a configured size_mib must hold it."""
        if not creating or not is_known(plan.snapshot_id) or plan.snapshot_id is None:
            return  # unknown: made in this apply; apply checks
        snap = pc.snapshot(ctx, "snapshot_id", plan.snapshot_id)
        if snap is None or not (is_known(config.size_mib) and config.size_mib):
            return
        snap_mib, size = c.snapshot_size_mib(snap), need(plan.size_mib, "size_mib")
        if size < snap_mib:
            raise diag.size_below_snapshot(str(plan.name), snap.name, snap_mib, size)

    def _check_size_against_snapshot(
        self, ctx: Context, name: Value[str], snapshot_id: str, size_mib: int
    ) -> None:
        from .client import snapshots

        cl = c.client(ctx)
        snap = c.call(
            lambda: snapshots.get_snapshot(cl, snapshot_id),
            "find",
            "snapshot",
            snapshot_id,
            AttributePath.root().attr("snapshot_id"),
        )
        if snap is None:
            raise diag.reference_id_not_found("snapshot", snapshot_id, "snapshot_id")
        snap_mib = c.snapshot_size_mib(snap)
        if size_mib < snap_mib:
            raise diag.size_below_snapshot(str(name), snap.name, snap_mib, size_mib)

    def family(self, state: CloneVolumeModel) -> dict[str, str] | None:
        """The clones of one snapshot: a fan-out of one image refreshes in one listing."""
        snap = state.snapshot_id
        return {"base_snap_id": snap} if is_known(snap) and snap and c.is_id(snap) else None

    def to_model(self, obj: Volume, prior: CloneVolumeModel | None) -> CloneVolumeModel:
        return CloneVolumeModel(
            snapshot_id=obj.base_snap_id,
            parent_volume_id=obj.parent_vol_id,
            base_snapshot_name=obj.base_snap_name,
            **c.volume_fields(obj, prior),
        )

    def create(self, ctx: Context, plan: CloneVolumeModel) -> CloneVolumeModel:
        from .client import volumes

        cl = c.client(ctx)
        name, snapshot_id = need(plan.name, "name"), need(plan.snapshot_id, "snapshot_id")
        size = known_or_none(plan.size_mib) or None
        if size is not None:
            self._check_size_against_snapshot(ctx, name, snapshot_id, size)
        policy = c.policy_id(
            ctx,
            known_or_none(plan.performance_policy),
            AttributePath.root().attr("performance_policy"),
        )
        vol = c.create(
            ctx,
            lambda: volumes.clone_volume(
                cl,
                name,
                snapshot_id,
                description=known_or_none(plan.description),
                perfpolicy_id=policy,
                online=bool(plan.online),
            ),
            KIND,
            name,
            missing="snapshot_id",
        )
        model = self.to_model(vol, plan)
        ctx.set_partial_state(model)
        if size is not None and size > vol.size_mib:
            ctx.check(f"growing clone volume {name}")
            vol_id = vol.id
            vol = c.call(
                lambda: volumes.update_volume(cl, vol_id, size_mib=size), "resize", KIND, name
            )
            model = self.to_model(vol, plan)
        return model

    def check_import(self, vol: Volume) -> None:
        if not vol.clone:
            raise DiagnosticError(
                "Volume Is Not A Clone",
                f'Volume "{vol.name}" ({vol.id}) is not a clone of a snapshot; import it as a '
                "nimble_volume instead.",
            )
