"""nimble_access_control_record: lets an initiator group see a volume at a LUN."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from tfnimble.plugin import (
    AttributePath,
    Context,
    DiagnosticError,
    Value,
    known_or_none,
    need,
    types,
)
from tfnimble.plugin.validators import int_between, one_of

from . import _common as c
from . import _fields as f
from . import _plancheck as pc
from . import diagnostics as diag
from ._base import NimbleResource

if TYPE_CHECKING:
    from .client import AccessControlRecord, NimbleClient, Volume

KIND = "access control record"


@dataclass
class AccessControlRecordModel:
    id: Annotated[Value[str], f.array_id(KIND)] = None
    volume_id: Annotated[
        Value[str],
        f.replacing_reference(
            "ID of the volume to grant access to. A known ID the array does not have is "
            "refused at plan time.",
            c.id_rule("volume", "nimble_volume.NAME.id"),
        ),
    ] = None
    initiator_group_id: Annotated[
        Value[str],
        f.replacing_reference(
            "ID of the initiator group that gets access. A known ID the array does not have "
            "is refused at plan time.",
            c.id_rule("initiator group", "nimble_initiator_group.NAME.id"),
        ),
    ] = None
    apply_to: Annotated[
        Value[str],
        f.argument(
            types.String,
            "What the record covers: `volume`, `snapshot` (its snapshots) or `both`. "
            "Default `both`.",
            computed=True,
            default="both",
            validators=(one_of("volume", "snapshot", "both"),),
            replaces=True,
        ),
    ] = None
    lun: Annotated[
        Value[int],
        f.argument(
            types.Number,
            "LUN the volume appears at on its iSCSI target: always 0 on a volume-scoped "
            "target; on a group-scoped target (one target for every volume) 0-2047, unique on "
            "that target, chosen by the array when unset. Wire it into what finds the disk, "
            "e.g. `glance_iscsi_store.lun = nimble_access_control_record.NAME.lun`. A LUN the "
            "array refuses (another volume uses it) fails the apply, pointing at `lun`.",
            computed=True,
            validators=(int_between(0, 2047),),
            keep_prior=True,
            replaces=True,
        ),
    ] = None
    chap_user_id: Annotated[
        Value[str],
        f.argument(
            types.String,
            "ID of a CHAP user (`nimble_chap_user.NAME.id`) the initiators must authenticate "
            "as; unset: no CHAP. A known ID the array does not have is refused at plan time. "
            "A change replaces the record.",
            validators=(c.id_rule("CHAP user", "nimble_chap_user.NAME.id"),),
            replaces=True,
        ),
    ] = None
    volume_name: Annotated[Value[str], f.computed("Name of the volume.")] = None
    initiator_group_name: Annotated[Value[str], f.computed("Name of the initiator group.")] = None
    timeouts: Annotated[Value[f.Timeouts], f.timeouts("create", "delete")] = None


class AccessControlRecordResource(NimbleResource):
    """Grants an initiator group access to a volume. The array cannot change a record, so
    every argument replaces it."""

    TYPE_NAME = "access_control_record"
    Model = AccessControlRecordModel
    DESCRIPTION = (
        "Grants the hosts of an initiator group access to a volume, at a LUN, optionally only "
        "when they authenticate as a CHAP user (`chap_user_id`). The array has no "
        "update for records: changing any argument replaces the record. Import with the "
        "record's ID or with `VOLUME_NAME/INITIATOR_GROUP_NAME`."
    )

    def get(self, cl: NimbleClient, ident: str) -> AccessControlRecord | None:
        from .client import access_control_records as acrs

        return acrs.get_access_control_record(cl, ident)

    def to_model(
        self, obj: AccessControlRecord, prior: AccessControlRecordModel | None
    ) -> AccessControlRecordModel:
        return AccessControlRecordModel(
            id=obj.id,
            volume_id=obj.vol_id,
            initiator_group_id=obj.initiator_group_id,
            apply_to=obj.apply_to or "both",
            lun=obj.lun,
            chap_user_id=obj.chap_user_id or None,
            volume_name=obj.vol_name,
            initiator_group_name=obj.initiator_group_name,
            timeouts=getattr(prior, "timeouts", None),
        )

    def modify_plan(
        self,
        ctx: Context,
        plan: AccessControlRecordModel,
        state: AccessControlRecordModel | None,
        config: AccessControlRecordModel,
    ) -> AccessControlRecordModel:
        creating = state is None
        vol = None if state is None else state.volume_id
        group = None if state is None else state.initiator_group_id
        chap = None if state is None else state.chap_user_id
        pc.report(
            ctx,
            lambda: (
                pc.changed(plan.volume_id, vol, creating)
                and pc.volume(ctx, "volume_id", str(plan.volume_id))
            ),
            lambda: (
                pc.changed(plan.initiator_group_id, group, creating)
                and pc.initiator_group(ctx, "initiator_group_id", str(plan.initiator_group_id))
            ),
            lambda: (
                pc.changed(plan.chap_user_id, chap, creating)
                and plan.chap_user_id != ""
                and pc.chap_user(ctx, "chap_user_id", str(plan.chap_user_id))
            ),
        )
        return plan

    def create(self, ctx: Context, plan: AccessControlRecordModel) -> AccessControlRecordModel:
        from .client import access_control_records as acrs

        cl = c.client(ctx)
        vol_id, group_id = need(plan.volume_id), need(plan.initiator_group_id)
        lun, label = known_or_none(plan.lun), f"{vol_id}/{group_id}"
        try:
            acr = c.create(
                ctx,
                lambda: acrs.create_access_control_record(
                    cl,
                    vol_id,
                    group_id,
                    apply_to=need(plan.apply_to, "apply_to"),
                    lun=lun,
                    chap_user_id=known_or_none(plan.chap_user_id),
                ),
                KIND,
                label,
                missing=lambda: self._gone(ctx, vol_id, group_id, known_or_none(plan.chap_user_id)),
            )
        except DiagnosticError as err:
            raise self._lun_refused(cl, err, vol_id, lun) from err.__cause__
        return self.to_model(acr, plan)

    @staticmethod
    def _lun_refused(
        cl: NimbleClient, err: DiagnosticError, vol_id: str, lun: int | None
    ) -> DiagnosticError:
        """A configured LUN the array refused: point at `lun`, and name the volume that
        already uses it on the target when the array's records show one."""
        from .client import NimbleError
        from .client import access_control_records as acrs

        cause = err.__cause__
        said = f"{getattr(cause, 'code', '')} {getattr(cause, 'text', '')} {cause}".lower()
        if lun is None or not isinstance(cause, NimbleError) or "lun" not in said:
            return err
        try:
            users = [
                r.vol_name or r.vol_id
                for r in acrs.list_access_control_records(cl)
                if r.lun == lun and r.vol_id != vol_id
            ]
        except NimbleError:
            users = []
        who = f" (already used by {', '.join(sorted(set(users)))})" if users else ""
        return DiagnosticError(
            err.summary,
            f"{err.detail}\n\nThe array refused lun = {lun}{who}. On a group-scoped target "
            "every volume exported to a host needs its own LUN: choose a free one, or leave "
            "lun unset so the array picks one.",
            AttributePath.root().attr("lun"),
        )

    @staticmethod
    def _gone(ctx: Context, vol_id: str, group_id: str, chap_id: str | None) -> str | None:
        """After SM_enoent: which of the referenced objects is gone."""
        from .client import NimbleError, chap_users, volumes

        try:
            if volumes.get_volume(c.client(ctx), vol_id) is None:
                return "volume_id"
            if c.find_initiator_group(ctx, group_id, "create", KIND, group_id) is None:
                return "initiator_group_id"
            if chap_id and chap_users.get_chap_user(c.client(ctx), chap_id) is None:
                return "chap_user_id"
        except (NimbleError, DiagnosticError):
            pass
        return None

    def delete(self, ctx: Context, state: AccessControlRecordModel) -> None:
        from .client import access_control_records as acrs

        cl, ident = c.client(ctx), need(state.id, "id")
        ctx.check(f"deleting access control record {ident}")
        c.call(
            lambda: acrs.delete_access_control_record(cl, ident, missing_ok=True),
            "delete",
            KIND,
            f"{state.volume_name}/{state.initiator_group_name}",
        )

    def import_state(self, ctx: Context, import_id: str) -> AccessControlRecordModel:
        from .client import access_control_records as acrs

        cl = c.client(ctx)

        def in_volume(vol: Volume, group_ref: str) -> AccessControlRecord:
            group = c.find_initiator_group(ctx, group_ref, "import", KIND, import_id)
            if group is None:
                raise diag.not_found("initiator group", group_ref)
            found = acrs.find_access_control_record(cl, vol.id, group.id)
            if found is None:
                raise DiagnosticError(
                    "Access Control Record Not Found",
                    f'Initiator group "{group.name}" has no access to volume "{vol.name}".',
                )
            return found

        acr = c.by_id_or_parts(
            ctx,
            import_id,
            lambda i: acrs.get_access_control_record(cl, i),
            in_volume,
            KIND,
            ["VOLUME", "INITIATOR_GROUP"],
            "Import a record by its ID or as VOLUME_NAME/INITIATOR_GROUP_NAME.",
        )
        if acr is None:
            raise diag.not_found(KIND, import_id)
        return self.to_model(acr, None)
