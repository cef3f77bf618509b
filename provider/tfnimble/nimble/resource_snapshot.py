"""nimble_snapshot: a point-in-time snapshot of a volume, the base of zero-copy clones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from tfnimble.plugin import Context, Value, known_or_none, need, types

from . import _common as c
from . import _fields as f
from . import _plancheck as pc
from . import diagnostics as diag
from ._base import NimbleResource

if TYPE_CHECKING:
    from .client import NimbleClient, Snapshot

KIND = "snapshot"


@dataclass
class SnapshotModel:
    id: Annotated[Value[str], f.array_id(KIND)] = None
    name: Annotated[
        Value[str],
        f.name("Name of the snapshot, unique per volume. Renamed in place.", c.VOLUME_NAME_RULE),
    ] = None
    volume_id: Annotated[
        Value[str],
        f.replacing_reference(
            "ID of the volume to snapshot. Changing it replaces the snapshot. A known ID the "
            "array does not have is refused at plan time.",
            c.id_rule("volume", "nimble_volume.NAME.id"),
        ),
    ] = None
    description: Annotated[Value[str], f.description(KIND)] = None
    online: Annotated[
        Value[bool],
        f.argument(
            types.Bool,
            "Whether the snapshot itself is online as an iSCSI target. Changed in "
            "place. Default `false` (clones do not need it online).",
            computed=True,
            default=False,
        ),
    ] = None
    writable: Annotated[
        Value[bool],
        f.argument(
            types.Bool,
            "Whether the snapshot may be written when online. Set at creation: "
            "changing it replaces the snapshot. Default `false`.",
            computed=True,
            default=False,
            replaces=True,
        ),
    ] = None
    volume_name: Annotated[Value[str], f.computed("Name of the snapshotted volume.")] = None
    size_mib: Annotated[
        Value[int],
        f.computed(
            "Size of the snapshotted volume when the snapshot was taken, in MiB.", types.Number
        ),
    ] = None
    target_name: Annotated[Value[str], f.computed("iSCSI target name (IQN) of the snapshot.")] = (
        None
    )
    serial_number: Annotated[Value[str], f.computed("SCSI serial number of the snapshot.")] = None
    timeouts: Annotated[Value[f.Timeouts], f.timeouts("create", "update", "delete")] = None


class SnapshotResource(NimbleResource):
    """A snapshot of a volume; clones are made from snapshots."""

    TYPE_NAME = "snapshot"
    Model = SnapshotModel
    DESCRIPTION = (
        "A point-in-time snapshot of a volume: the base that `nimble_clone_volume` clones from. "
        "The array refuses to delete a snapshot while clones of it exist; the error lists them. "
        "Import with the snapshot's ID or with `VOLUME_NAME/SNAPSHOT_NAME`."
    )

    def get(self, cl: NimbleClient, ident: str) -> Snapshot | None:
        from .client import snapshots

        return snapshots.get_snapshot(cl, ident)

    def to_model(self, obj: Snapshot, prior: SnapshotModel | None) -> SnapshotModel:
        return SnapshotModel(
            id=obj.id,
            name=obj.name,
            volume_id=obj.vol_id,
            description=c.text_or_prior(obj.description, getattr(prior, "description", None)),
            online=obj.online,
            writable=obj.writable,
            volume_name=obj.vol_name,
            size_mib=c.snapshot_size_mib(obj),
            target_name=obj.target_name,
            serial_number=obj.serial_number,
            timeouts=getattr(prior, "timeouts", None),
        )

    def modify_plan(
        self,
        ctx: Context,
        plan: SnapshotModel,
        state: SnapshotModel | None,
        config: SnapshotModel,
    ) -> SnapshotModel:
        prior = None if state is None else state.volume_id
        if pc.changed(plan.volume_id, prior, state is None):
            pc.report(ctx, lambda: pc.volume(ctx, "volume_id", str(plan.volume_id)))
        return plan

    def create(self, ctx: Context, plan: SnapshotModel) -> SnapshotModel:
        from .client import snapshots

        cl = c.client(ctx)
        name = need(plan.name, "name")
        snap = c.create(
            ctx,
            lambda: snapshots.create_snapshot(
                cl,
                need(plan.volume_id, "volume_id"),
                name,
                description=known_or_none(plan.description),
                online=bool(plan.online),
                writable=bool(plan.writable),
            ),
            KIND,
            name,
            missing="volume_id",
        )
        return self.to_model(snap, plan)

    def update(self, ctx: Context, plan: SnapshotModel, state: SnapshotModel) -> SnapshotModel:
        from .client import snapshots

        cl = c.client(ctx)
        ident, name = need(state.id, "id"), str(state.name)
        changes: dict[str, Any] = {}
        if plan.name != state.name:
            changes["name"] = plan.name
        if plan.description != state.description:
            changes["description"] = plan.description or ""
        ctx.check(f"updating snapshot {name}")
        snap = None
        if changes:
            snap = c.call(
                lambda: snapshots.update_snapshot(cl, ident, **changes), "update", KIND, name
            )
        if plan.online != state.online:
            snap = c.call(
                lambda: snapshots.set_snapshot_online(cl, ident, bool(plan.online)),
                "update",
                KIND,
                name,
            )
        if snap is None:
            snap = c.call(lambda: snapshots.get_snapshot(cl, ident), "update", KIND, name)
            if snap is None:
                raise diag.not_found(KIND, ident, "It was deleted outside Terraform.")
        return self.to_model(snap, plan)

    def delete(self, ctx: Context, state: SnapshotModel) -> None:
        from .client import NimbleError, NotFound, snapshots
        from .dependents import deleting

        cl = c.client(ctx)
        ident, name = need(state.id, "id"), str(state.name)
        ctx.check(f"deleting snapshot {name}")

        def clones() -> dict[str, str]:
            return {v.id: v.name for v in snapshots.list_clones_of_snapshot(cl, ident)}

        try:
            with deleting(ident):
                if state.online:
                    snapshots.set_snapshot_online(cl, ident, False)
                c.delete_after_dependents(
                    ctx,
                    ident,
                    lambda: snapshots.delete_snapshot(cl, ident, missing_ok=True),
                    clones,
                    ("SM_snap_has_clone", "SM_vol_has_clone"),
                    lambda names, err: diag.has_clones(KIND, name, names, err),
                )
        except NotFound:
            return
        except NimbleError as err:
            raise diag.api_error("delete", KIND, name, err) from err

    def import_state(self, ctx: Context, import_id: str) -> SnapshotModel:
        from .client import snapshots

        cl = c.client(ctx)
        snap = c.by_id_or_parts(
            ctx,
            import_id,
            lambda i: snapshots.get_snapshot(cl, i),
            lambda vol, n: snapshots.find_snapshot_by_name(cl, vol.id, n),
            KIND,
            ["VOLUME", "SNAPSHOT"],
            "Import a snapshot by its ID or as VOLUME_NAME/SNAPSHOT_NAME.",
        )
        if snap is None:
            raise diag.not_found(KIND, import_id)
        return self.to_model(snap, None)
