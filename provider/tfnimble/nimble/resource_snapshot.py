"""nimble_snapshot: a point-in-time snapshot of a volume, the base of zero-copy clones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfnimble.plugin import (
    Attribute,
    Context,
    Resource,
    Schema,
    requires_replace,
    timeouts_block,
    types,
)

from . import _common as c
from . import diagnostics as diag

KIND = "snapshot"


@dataclass
class SnapshotModel:
    id: Any = None
    name: Any = None
    volume_id: Any = None
    description: Any = None
    online: Any = None
    writable: Any = None
    volume_name: Any = None
    size_mib: Any = None
    target_name: Any = None
    serial_number: Any = None
    timeouts: Any = None


class SnapshotResource(Resource):
    """A snapshot of a volume; clones are made from snapshots."""

    TYPE_NAME = "snapshot"
    Model = SnapshotModel
    DEFAULT_TIMEOUTS = c.DEFAULT_TIMEOUTS

    def schema(self) -> Schema:
        return Schema(
            description=(
                "A point-in-time snapshot of a volume: the base that `nimble_clone_volume` "
                "clones from. The array refuses to delete a snapshot while clones of it exist; "
                "the error lists them. Import with the snapshot's ID or with "
                "`VOLUME_NAME/SNAPSHOT_NAME`."
            ),
            attributes={
                "id": c.id_attribute(KIND),
                "name": Attribute(
                    type=types.String,
                    required=True,
                    validators=(c.VOLUME_NAME_RULE,),
                    description="Name of the snapshot, unique per volume. Renamed in place.",
                ),
                "volume_id": Attribute(
                    type=types.String,
                    required=True,
                    plan_modifiers=(requires_replace(),),
                    description=(
                        "ID of the volume to snapshot. Changing it replaces the snapshot."
                    ),
                ),
                "description": c.description_attribute(KIND),
                "online": Attribute(
                    type=types.Bool,
                    optional=True,
                    computed=True,
                    default=False,
                    description=(
                        "Whether the snapshot itself is online as an iSCSI target. Changed in "
                        "place. Default `false` (clones do not need it online)."
                    ),
                ),
                "writable": Attribute(
                    type=types.Bool,
                    optional=True,
                    computed=True,
                    default=False,
                    plan_modifiers=(requires_replace(),),
                    description=(
                        "Whether the snapshot may be written when online. Set at creation: "
                        "changing it replaces the snapshot. Default `false`."
                    ),
                ),
                "volume_name": c.computed("Name of the snapshotted volume."),
                "size_mib": c.computed(
                    "Size of the snapshotted volume when the snapshot was taken, in MiB.",
                    types.Number,
                ),
                "target_name": c.computed("iSCSI target name (IQN) of the snapshot."),
                "serial_number": c.computed("SCSI serial number of the snapshot."),
            },
            blocks={"timeouts": timeouts_block("create", "update", "delete")},
        )

    def _model(self, snap: Any, prior: SnapshotModel | None) -> SnapshotModel:
        return SnapshotModel(
            id=snap.id,
            name=snap.name,
            volume_id=snap.vol_id,
            description=c.text_or_prior(snap.description, getattr(prior, "description", None)),
            online=snap.online,
            writable=snap.writable,
            volume_name=snap.vol_name,
            size_mib=-(-snap.size // c.MIB),
            target_name=snap.target_name,
            serial_number=snap.serial_number,
            timeouts=getattr(prior, "timeouts", None),
        )

    def create(self, ctx: Context, plan: SnapshotModel) -> SnapshotModel:
        from .client import snapshots

        cl = c.client(ctx)
        ctx.check(f"creating snapshot {plan.name}")
        snap = c.call(
            lambda: snapshots.create_snapshot(
                cl,
                plan.volume_id,
                plan.name,
                description=plan.description,
                online=bool(plan.online),
                writable=bool(plan.writable),
            ),
            "create",
            KIND,
            plan.name,
        )
        return self._model(snap, plan)

    def read(self, ctx: Context, state: SnapshotModel) -> SnapshotModel | None:
        from .client import snapshots

        cl = c.client(ctx)
        snap = c.call(lambda: snapshots.get_snapshot(cl, state.id), "read", KIND, state.name)
        return None if snap is None else self._model(snap, state)

    def update(self, ctx: Context, plan: SnapshotModel, state: SnapshotModel) -> SnapshotModel:
        from .client import snapshots

        cl = c.client(ctx)
        changes: dict[str, Any] = {}
        if plan.name != state.name:
            changes["name"] = plan.name
        if plan.description != state.description:
            changes["description"] = plan.description or ""
        ctx.check(f"updating snapshot {state.name}")
        snap = None
        if changes:
            snap = c.call(
                lambda: snapshots.update_snapshot(cl, state.id, **changes),
                "update",
                KIND,
                state.name,
            )
        if plan.online != state.online:
            snap = c.call(
                lambda: snapshots.set_snapshot_online(cl, state.id, bool(plan.online)),
                "update",
                KIND,
                state.name,
            )
        if snap is None:
            snap = c.call(lambda: snapshots.get_snapshot(cl, state.id), "update", KIND, state.name)
            if snap is None:
                raise diag.not_found(KIND, state.id, "It was deleted outside Terraform.")
        return self._model(snap, plan)

    def delete(self, ctx: Context, state: SnapshotModel) -> None:
        from .client import Conflict, NimbleError, NotFound, snapshots

        cl = c.client(ctx)
        ctx.check(f"deleting snapshot {state.name}")
        try:
            if state.online:
                snapshots.set_snapshot_online(cl, state.id, False)
            snapshots.delete_snapshot(cl, state.id, missing_ok=True)
        except NotFound:
            return
        except Conflict as err:
            if err.code in ("SM_snap_has_clone", "SM_vol_has_clone"):
                clones = [
                    v.name
                    for v in c.call(
                        lambda: snapshots.list_clones_of_snapshot(cl, state.id),
                        "delete",
                        KIND,
                        state.name,
                    )
                ]
                raise diag.has_clones(KIND, state.name, sorted(clones), err) from err
            raise diag.api_error("delete", KIND, state.name, err) from err
        except NimbleError as err:
            raise diag.api_error("delete", KIND, state.name, err) from err

    def import_state(self, ctx: Context, import_id: str) -> SnapshotModel:
        from tfnimble.plugin import split_import_id

        from .client import snapshots

        cl = c.client(ctx)
        if c.is_id(import_id):
            snap = c.call(lambda: snapshots.get_snapshot(cl, import_id), "import", KIND, import_id)
            if snap is not None:
                return self._model(snap, None)
        if "/" not in import_id:
            raise diag.not_found(
                KIND, import_id, "Import a snapshot by its ID or as VOLUME_NAME/SNAPSHOT_NAME."
            )
        parts = split_import_id(import_id, ["VOLUME", "SNAPSHOT"], sep="/")
        vol = c.find_volume(ctx, parts["VOLUME"])
        if vol is None:
            raise diag.not_found("volume", parts["VOLUME"])
        snap = c.call(
            lambda: snapshots.find_snapshot_by_name(cl, vol.id, parts["SNAPSHOT"]),
            "import",
            KIND,
            import_id,
        )
        if snap is None:
            raise diag.not_found(KIND, import_id)
        return self._model(snap, None)
