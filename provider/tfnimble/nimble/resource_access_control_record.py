"""nimble_access_control_record: lets an initiator group see a volume at a LUN."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfnimble.plugin import (
    Attribute,
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
from tfnimble.plugin.validators import int_between, one_of

from . import _common as c
from . import diagnostics as diag

KIND = "access control record"


@dataclass
class AccessControlRecordModel:
    id: Any = None
    volume_id: Any = None
    initiator_group_id: Any = None
    apply_to: Any = None
    lun: Any = None
    volume_name: Any = None
    initiator_group_name: Any = None
    timeouts: Any = None


class AccessControlRecordResource(Resource):
    """Grants an initiator group access to a volume. The array cannot change a record, so
    every argument replaces it."""

    TYPE_NAME = "access_control_record"
    Model = AccessControlRecordModel
    DEFAULT_TIMEOUTS = c.DEFAULT_TIMEOUTS

    def schema(self) -> Schema:
        return Schema(
            description=(
                "Grants the hosts of an initiator group access to a volume, at a LUN. The "
                "array has no update for records: changing any argument replaces the record. "
                "Import with the record's ID or with `VOLUME_NAME/INITIATOR_GROUP_NAME`."
            ),
            attributes={
                "id": c.id_attribute(KIND),
                "volume_id": Attribute(
                    type=types.String,
                    required=True,
                    plan_modifiers=(requires_replace(),),
                    description="ID of the volume to grant access to.",
                ),
                "initiator_group_id": Attribute(
                    type=types.String,
                    required=True,
                    plan_modifiers=(requires_replace(),),
                    description="ID of the initiator group that gets access.",
                ),
                "apply_to": Attribute(
                    type=types.String,
                    optional=True,
                    computed=True,
                    default="both",
                    validators=(one_of("volume", "snapshot", "both"),),
                    plan_modifiers=(requires_replace(),),
                    description=(
                        "What the record covers: `volume`, `snapshot` (its snapshots) or "
                        "`both`. Default `both`."
                    ),
                ),
                "lun": Attribute(
                    type=types.Number,
                    optional=True,
                    computed=True,
                    validators=(int_between(0, 2047),),
                    plan_modifiers=(use_state_for_unknown(), requires_replace()),
                    description=("LUN the volume appears at. Chosen by the array when unset."),
                ),
                "volume_name": c.computed("Name of the volume."),
                "initiator_group_name": c.computed("Name of the initiator group."),
            },
            blocks={"timeouts": timeouts_block("create", "delete")},
        )

    def _model(self, acr: Any, prior: AccessControlRecordModel | None) -> AccessControlRecordModel:
        return AccessControlRecordModel(
            id=acr.id,
            volume_id=acr.vol_id,
            initiator_group_id=acr.initiator_group_id,
            apply_to=acr.apply_to or "both",
            lun=acr.lun,
            volume_name=acr.vol_name,
            initiator_group_name=acr.initiator_group_name,
            timeouts=getattr(prior, "timeouts", None),
        )

    def create(self, ctx: Context, plan: AccessControlRecordModel) -> AccessControlRecordModel:
        from .client import access_control_records as acrs

        cl = c.client(ctx)
        lun = int(plan.lun) if is_known(plan.lun) and plan.lun is not None else None
        label = f"{plan.volume_id}/{plan.initiator_group_id}"
        ctx.check(f"creating access control record {label}")
        acr = c.call(
            lambda: acrs.create_access_control_record(
                cl, plan.volume_id, plan.initiator_group_id, apply_to=plan.apply_to, lun=lun
            ),
            "create",
            KIND,
            label,
        )
        return self._model(acr, plan)

    def read(
        self, ctx: Context, state: AccessControlRecordModel
    ) -> AccessControlRecordModel | None:
        from .client import access_control_records as acrs

        cl = c.client(ctx)
        acr = c.call(lambda: acrs.get_access_control_record(cl, state.id), "read", KIND, state.id)
        return None if acr is None else self._model(acr, state)

    def delete(self, ctx: Context, state: AccessControlRecordModel) -> None:
        from .client import access_control_records as acrs

        cl = c.client(ctx)
        ctx.check(f"deleting access control record {state.id}")
        c.call(
            lambda: acrs.delete_access_control_record(cl, state.id, missing_ok=True),
            "delete",
            KIND,
            f"{state.volume_name}/{state.initiator_group_name}",
        )

    def import_state(self, ctx: Context, import_id: str) -> AccessControlRecordModel:
        from tfnimble.plugin import split_import_id

        from .client import access_control_records as acrs
        from .client import initiator_groups as ig

        cl = c.client(ctx)
        if c.is_id(import_id):
            acr = c.call(
                lambda: acrs.get_access_control_record(cl, import_id), "import", KIND, import_id
            )
            if acr is not None:
                return self._model(acr, None)
        if "/" not in import_id:
            raise diag.not_found(
                KIND,
                import_id,
                "Import a record by its ID or as VOLUME_NAME/INITIATOR_GROUP_NAME.",
            )
        parts = split_import_id(import_id, ["VOLUME", "INITIATOR_GROUP"], sep="/")
        vol = c.find_volume(ctx, parts["VOLUME"])
        if vol is None:
            raise diag.not_found("volume", parts["VOLUME"])
        group_ref = parts["INITIATOR_GROUP"]
        group = None
        if c.is_id(group_ref):
            group = c.call(lambda: ig.get_initiator_group(cl, group_ref), "import", KIND, import_id)
        if group is None:
            group = c.call(
                lambda: ig.find_initiator_group_by_name(cl, group_ref), "import", KIND, import_id
            )
        if group is None:
            raise diag.not_found("initiator group", group_ref)
        acr = c.call(
            lambda: acrs.find_access_control_record(cl, vol.id, group.id),
            "import",
            KIND,
            import_id,
        )
        if acr is None:
            raise DiagnosticError(
                "Access Control Record Not Found",
                f'Initiator group "{group.name}" has no access to volume "{vol.name}".',
            )
        return self._model(acr, None)
