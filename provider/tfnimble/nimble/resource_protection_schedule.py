"""nimble_protection_schedule: when the array snapshots a volume collection, and how many
of those snapshots it keeps.

Times of day are seconds after midnight on the array's clock, as the array takes them. On
destroy the snapshots the schedule took stay on the volumes (the array keeps them as
unmanaged snapshots): the provider never deletes data the user did not name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from tfnimble.plugin import (
    AttributePath,
    Context,
    Diagnostic,
    DiagnosticError,
    Severity,
    Value,
    is_known,
    known_or_none,
    need,
    types,
)
from tfnimble.plugin.validators import int_between, one_of

from . import _common as c
from . import _fields as f
from . import _plancheck as pc
from . import diagnostics as diag
from . import foreign_ids
from ._base import NimbleResource
from .resource_volume_collection import changes_between

if TYPE_CHECKING:
    from .client import NimbleClient
    from .client.protection_schedules import ProtectionSchedule

KIND = "protection schedule"
ROOT = AttributePath.root()
LAST_SECOND = 86399
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
UNITS = ("minutes", "hours", "days", "weeks")
#: Model attribute -> the array's field, for everything changed in place.
MUTABLE = {
    "name": "name",
    "description": "description",
    "period": "period",
    "period_unit": "period_unit",
    "at_time": "at_time",
    "until_time": "until_time",
    "days": "days",
    "num_retain": "num_retain",
    "disable_appsync": "disable_appsync",
}


def _days_rule(value: Any, path: AttributePath) -> Sequence[Diagnostic]:
    if not isinstance(value, str) or value == "all":
        return []
    names = value.split(",")
    bad = [n for n in names if n not in WEEKDAYS]
    if not bad and len(set(names)) == len(names):
        return []
    why = f"{', '.join(repr(b) for b in bad)} {'is' if len(bad) == 1 else 'are'} not a weekday"
    return [
        Diagnostic(
            Severity.ERROR,
            "Invalid Days",
            f'{path} is {value!r}: {why if bad else "a day is named twice"}. Use "all" or '
            'lower-case weekday names separated by commas, without spaces, e.g. "monday,friday".',
            path,
        )
    ]


def _time_of_day(what: str, default: int) -> f.Field:
    return f.argument(
        types.Number,
        f"{what}, in seconds after midnight on the array's clock (0-{LAST_SECOND}; e.g. 3600 "
        "is 01:00, 79200 is 22:00). Changed in place.",
        computed=True,
        default=default,
        validators=(int_between(0, LAST_SECOND),),
    )


@dataclass
class ProtectionScheduleModel:
    id: Annotated[Value[str], f.array_id(KIND)] = None
    volume_collection_id: Annotated[
        Value[str],
        f.replacing_reference(
            "ID of the `nimble_volume_collection` whose volumes the schedule snapshots. A new "
            "one replaces the schedule.",
            c.id_rule("volume collection", "nimble_volume_collection.images.id"),
        ),
    ] = None
    name: Annotated[
        Value[str],
        f.name(
            "Name of the schedule, unique within its collection. The array names each "
            "snapshot it takes `<collection>-<schedule>-<date>::<time>`.",
            c.OBJECT_NAME_RULE,
        ),
    ] = None
    description: Annotated[Value[str], f.description(KIND)] = None
    period: Annotated[
        Value[int],
        f.argument(
            types.Number,
            "Snapshot every `period` `period_unit`s (e.g. 4 hours). Changed in place.",
            computed=True,
            default=1,
            validators=(int_between(1, 2**31 - 1),),
        ),
    ] = None
    period_unit: Annotated[
        Value[str],
        f.argument(
            types.String,
            "`minutes`, `hours`, `days` (the default) or `weeks`. With minutes and hours the "
            "array snapshots from `at_time` to `until_time` on each of `days`; with days and "
            "weeks once, at `at_time`. Changed in place.",
            computed=True,
            default="days",
            validators=(one_of(*UNITS),),
        ),
    ] = None
    at_time: Annotated[Value[int], _time_of_day("When the first snapshot of a day is taken", 0)] = (
        None
    )
    until_time: Annotated[
        Value[int],
        _time_of_day("When snapshots stop for the day (minutes and hours only)", LAST_SECOND),
    ] = None
    days: Annotated[
        Value[str],
        f.argument(
            types.String,
            '`"all"` (the default) or weekday names separated by commas, e.g. '
            '`"monday,wednesday,friday"`. Changed in place.',
            computed=True,
            default="all",
            validators=(_days_rule,),
        ),
    ] = None
    num_retain: Annotated[
        Value[int],
        f.argument(
            types.Number,
            "How many of its snapshots the schedule keeps per volume; the array deletes the "
            "oldest beyond that (never one that is online or has clones). Changed in place: "
            "lowering it deletes the surplus at once.",
            required=True,
            validators=(int_between(1, 2**31 - 1),),
        ),
    ] = None
    disable_appsync: Annotated[
        Value[bool],
        f.argument(
            types.Bool,
            "Take crash-consistent snapshots even when the collection has application "
            "synchronization. Default `false`. Changed in place.",
            computed=True,
            default=False,
        ),
    ] = None
    delete_snapshots_on_destroy: Annotated[
        Value[bool],
        f.argument(
            types.Bool,
            "On destroy, also delete the snapshots this schedule took of the collection's "
            "volumes. Default `false`: they stay, as the array keeps them, because they may be "
            "the only copy of something. Snapshots the array keeps (online, or the base of a "
            "clone) stay either way, named in a warning. Terraform-only; changed in place.",
            computed=True,
            default=False,
        ),
    ] = None
    timeouts: Annotated[Value[f.Timeouts], f.timeouts("create", "update", "delete")] = None


class ProtectionScheduleResource(NimbleResource):
    """A snapshot schedule of a volume collection."""

    TYPE_NAME = "protection_schedule"
    Model = ProtectionScheduleModel
    DESCRIPTION = (
        "A protection schedule: the array snapshots every volume of a "
        "`nimble_volume_collection` on this schedule and keeps the newest `num_retain` "
        "snapshots of each. Timing, retention and name change in place. On destroy the "
        "snapshots it took stay on the volumes (unmanaged); delete them yourself if they are "
        "not wanted (or set `delete_snapshots_on_destroy`), or they go with their volume. "
        "Import with the schedule's ID or "
        "`COLLECTION/SCHEDULE` (names)."
    )

    def validate_config(self, ctx: Context, config: ProtectionScheduleModel) -> None:
        if not is_known(config.at_time) or not is_known(config.until_time):
            return
        at = 0 if config.at_time is None else int(config.at_time)
        until = LAST_SECOND if config.until_time is None else int(config.until_time)
        if at > until:
            ctx.diagnostics.add_error(
                "Invalid Time Window",
                f"until_time ({until}) is before at_time ({at}): the snapshots of a day start "
                "at at_time and stop at until_time, both seconds after midnight. Make "
                "until_time at least at_time.",
                ROOT.attr("until_time"),
            )

    def modify_plan(
        self,
        ctx: Context,
        plan: ProtectionScheduleModel,
        state: ProtectionScheduleModel | None,
        config: ProtectionScheduleModel,
    ) -> ProtectionScheduleModel:
        """Plan: a known collection ID (create or replacement) must name a volume collection
        on this array; an ID from another array's provider is named as such."""
        prior = None if state is None else state.volume_collection_id
        if pc.changed(plan.volume_collection_id, prior, state is None):
            pc.report(
                ctx,
                lambda: pc.volume_collection(
                    ctx, "volume_collection_id", str(plan.volume_collection_id)
                ),
            )
        return plan

    def get(self, cl: NimbleClient, ident: str) -> ProtectionSchedule | None:
        from .client import protection_schedules as ps

        return ps.get_protection_schedule(cl, ident)

    def to_model(
        self, obj: ProtectionSchedule, prior: ProtectionScheduleModel | None
    ) -> ProtectionScheduleModel:
        return ProtectionScheduleModel(
            id=obj.id,
            volume_collection_id=obj.volcoll_id,
            name=obj.name,
            description=c.text_or_prior(obj.description, getattr(prior, "description", None)),
            period=obj.period,
            period_unit=obj.period_unit,
            at_time=obj.at_time,
            until_time=obj.until_time,
            days=obj.days,
            num_retain=obj.num_retain,
            disable_appsync=obj.disable_appsync,
            delete_snapshots_on_destroy=bool(getattr(prior, "delete_snapshots_on_destroy", False)),
            timeouts=getattr(prior, "timeouts", None),
        )

    def create(self, ctx: Context, plan: ProtectionScheduleModel) -> ProtectionScheduleModel:
        from .client import protection_schedules as ps

        cl, name = c.client(ctx), need(plan.name, "name")
        volcoll = need(plan.volume_collection_id, "volume_collection_id")
        fields = {
            api: value
            for attr, api in MUTABLE.items()
            if attr != "name" and (value := known_or_none(getattr(plan, attr))) is not None
        }
        sched = c.create(
            ctx,
            lambda: ps.create_protection_schedule(cl, volcoll, name, fields),
            KIND,
            name,
            missing="volume_collection_id",
        )
        return self.to_model(sched, plan)

    def update(
        self, ctx: Context, plan: ProtectionScheduleModel, state: ProtectionScheduleModel
    ) -> ProtectionScheduleModel:
        from .client import protection_schedules as ps

        cl, ident, name = c.client(ctx), need(state.id, "id"), str(state.name)
        changes = changes_between(plan, state, MUTABLE)
        ctx.check(f"updating {KIND} {name}")
        sched = c.call(
            lambda: ps.update_protection_schedule(cl, ident, changes), "update", KIND, name
        )
        return self.to_model(sched, plan)

    def delete(self, ctx: Context, state: ProtectionScheduleModel) -> None:
        from .client import protection_schedules as ps

        cl, ident, name = c.client(ctx), need(state.id, "id"), str(state.name)
        ctx.check(f"deleting {KIND} {name}")
        if not state.delete_snapshots_on_destroy:
            c.call(
                lambda: ps.delete_protection_schedule(cl, ident, missing_ok=True),
                "delete",
                KIND,
                name,
            )
            return
        kept = c.call(lambda: ps.delete_schedule_and_its_snapshots(cl, ident), "delete", KIND, name)
        if kept:
            ctx.diagnostics.add_warning(
                "Scheduled Snapshots Kept",
                f'Protection schedule "{name}" is deleted, but the array kept {len(kept)} of '
                f"the snapshots it took: {', '.join(kept)}. They are online or the base of a "
                "clone; take them offline or delete their clones, then delete them.",
            )

    def import_state(self, ctx: Context, import_id: str) -> ProtectionScheduleModel:
        from .client import protection_schedules as ps
        from .client import volume_collections as vcs

        cl = c.client(ctx)
        found = None
        if c.is_id(import_id):
            found = c.call(
                lambda: ps.get_protection_schedule(cl, import_id), "import", KIND, import_id
            )
        elif "/" in import_id:
            coll, _, sched = import_id.partition("/")
            vc = c.call(
                lambda: vcs.find_volume_collection_by_name(cl, coll), "import", KIND, import_id
            )
            if vc is not None:
                found = c.call(
                    lambda: ps.find_protection_schedule(cl, vc.id, sched), "import", KIND, import_id
                )
        if found is None:
            err = diag.not_found(
                KIND,
                import_id,
                "Import with the schedule's ID, or COLLECTION/SCHEDULE: the name of its volume "
                "collection and its own name (schedule names are unique per collection only).",
            )
            if c.is_id(import_id):  # an ID of the other array is named as such
                raise foreign_ids.explained(cl, err, KIND, import_id, None)
            raise err
        if found.volcoll_or_prottmpl_type == "protection_template":
            # the array lists the predefined templates' schedules too, and refuses to change
            # or delete them (SM_eperm): they are not a collection's schedules to manage
            raise DiagnosticError(
                "Cannot Import a Template's Schedule",
                f'Protection schedule "{found.name}" ({found.id}) belongs to protection '
                f"template {found.volcoll_id}, not to a volume collection; the array keeps "
                "templates' schedules read-only. nimble_protection_schedule manages the "
                "schedules of a nimble_volume_collection: import one of those (ID, or "
                "COLLECTION/SCHEDULE), or create a schedule with the same timing.",
            )
        return self.to_model(found, None)
