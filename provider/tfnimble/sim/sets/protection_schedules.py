"""Protection schedules of volume collections, and the scheduler that runs them on the clock.

Rules (HPE's REST reference and SDKs; docs/nimble-array-facts.md):
1. A schedule belongs to a volume collection (``volcoll_or_prottmpl_type`` ``volume_collection``
   and its ID, both mandatory at create and fixed after); names are unique per collection.
2. ``period`` >= 1 of ``period_unit`` minutes/hours/days/weeks; ``at_time``/``until_time``
   are seconds after midnight (0-86399), ``at_time`` <= ``until_time``; ``days`` is ``all``
   or comma-separated weekday names; ``num_retain`` >= 1.
3. A ``regular`` schedule fires on the model's clock (``sim/schedule.py``): each firing takes
   one snapshot of every volume in the collection, named after the collection, the schedule
   and the time, and then deletes the schedule's oldest snapshots of that volume beyond
   ``num_retain``. A snapshot that is online or has clones is kept (deleting it would fail or
   lose a clone's base); an ``external_trigger`` schedule never fires on its own.
4. Deleting a schedule (or its collection) keeps the snapshots it took: they become unmanaged
   (``schedule_id`` empty, ``is_unmanaged`` true), as a user's own snapshots are.
5. The predefined protection templates' schedules are protection schedules too (type
   ``protection_template``): listed and read like any other, never fired (a template has no
   volumes), and neither changed nor deleted, since predefined templates cannot be edited.
   A collection and a template list their schedules as NsSchedule summaries
   (``schedule_summary``).
"""

from __future__ import annotations

import logging
from typing import Any

from .. import schedule as timing
from .. import validate as v
from ..errors import SimError
from ..fields import each, table, words
from ..model import Ctx, Model, ObjectSet, apply_update
from ..store import Doc
from .common import clones_of
from .snapshot_collections import new_snapcoll, note_last_snapcoll

MAX_TIME = timing.DAY - 1
log = logging.getLogger("nimble-sim")


def v_days(value: Any, arg: str) -> str:
    if not isinstance(value, str) or timing.parse_days(value) is None:
        raise v.bad(arg, value)
    return value


_TIMING: dict[str, v.Validator] = {
    "period": v.v_int(1, 2**31 - 1),
    "period_unit": v.v_enum("minutes", "hours", "days", "weeks"),
    "at_time": v.v_int(0, MAX_TIME),
    "until_time": v.v_int(0, MAX_TIME),
    "days": v_days,
}
_COMMON: dict[str, v.Validator] = {
    "name": v.v_str(64, v.OBJECT_NAME, allow_empty=False),
    "description": v.v_str(255),
    **_TIMING,
    "num_retain": v.v_int(1, 2**31 - 1),
    "downstream_partner_id": v.v_id,
    "replicate_every": v.v_int(1, 2**31 - 1),
    "num_retain_replica": v.v_int(0, 2**31 - 1),
    "repl_alert_thres": v.v_int(0, 2**31 - 1),
    "snap_verify": v.v_bool,
    "skip_db_consistency_check": v.v_bool,
    "disable_appsync": v.v_bool,
}
SCHED_CREATE = {
    **_COMMON,
    "volcoll_or_prottmpl_type": v.v_enum("protection_template", "volume_collection"),
    "volcoll_or_prottmpl_id": v.v_id,
    "schedule_type": v.v_enum("regular", "external_trigger"),
}
SCHED_UPDATE = {**_COMMON, "id": v.v_id}
_UPDATED = tuple(k for k in _COMMON if k not in ("name", "downstream_partner_id"))
DEFAULTS: dict[str, Any] = {
    "description": "",
    "period": 1,
    "period_unit": "days",
    "at_time": 0,
    "until_time": MAX_TIME,
    "days": "all",
    "num_retain": 1,
    "replicate_every": 1,
    "num_retain_replica": 1,
    "repl_alert_thres": 86400,
    "snap_verify": False,
    "skip_db_consistency_check": False,
    "disable_appsync": False,
    "schedule_type": "regular",
}

# The owner kinds (``volcoll_or_prottmpl_type``) and the stored type each names.
OWNER_TYPES = {"volume_collection": "volcoll", "protection_template": "prottmpl"}
# What an NsSchedule summary (a collection's or a template's ``schedule_list`` item) carries
# besides its id and name (Go SDK ``NsSchedule``; the same fields as the schedule itself).
_SUMMARY_KEYS = words(
    "period period_unit at_time until_time days num_retain downstream_partner "
    "downstream_partner_id downstream_partner_name replicate_every num_retain_replica "
    "repl_alert_thres snap_verify skip_db_consistency_check disable_appsync schedule_type active"
)

SCHED_FIELDS = table(
    "id name description volcoll_or_prottmpl_type volcoll_or_prottmpl_id period period_unit "
    "at_time until_time days num_retain downstream_partner downstream_partner_name "
    "downstream_partner_id upstream_partner_name upstream_partner_id replicate_every "
    "num_retain_replica repl_alert_thres snap_verify skip_db_consistency_check disable_appsync "
    "schedule_type active creation_time last_modified last_mod_sched_time "
    "last_replicated_snapcoll_name last_replicated_snapcoll_id last_replicated_at_time "
    "last_snap_time next_snap_time next_repl_snap_time snap_counter sched_owner_id "
    "sched_owner_name last_config_change_time currently_replicating_snapcoll_name "
    "vol_status_list sync_repl_vol_status_list",
    "id name description period period_unit at_time until_time days num_retain "
    "replicate_every num_retain_replica repl_alert_thres snap_verify "
    "skip_db_consistency_check disable_appsync schedule_type creation_time last_modified "
    "last_mod_sched_time",
    same={"volcoll_or_prottmpl_id": "volcoll_id", "last_config_change_time": "last_mod_sched_time"},
    constants={
        **each(
            "",
            "downstream_partner downstream_partner_name downstream_partner_id "
            "upstream_partner_name upstream_partner_id last_replicated_snapcoll_name "
            "last_replicated_snapcoll_id currently_replicating_snapcoll_name",
        ),
        **each(0, "last_replicated_at_time next_repl_snap_time"),
        "active": True,
        **each(None, "vol_status_list sync_repl_vol_status_list"),
    },
)


class ProtectionScheduleSet(
    ObjectSet, name="protection_schedules", type="prot_sched", fields=SCHED_FIELDS
):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        nxt = None
        if d["schedule_type"] == "regular" and owner_type(d) == "volume_collection":
            nxt = timing.next_firing(d, max(d.get("last_run", 0), self.m.clock()))
        return {
            "volcoll_or_prottmpl_type": owner_type(d),
            "last_snap_time": d.get("last_snap_time", 0),
            "next_snap_time": nxt or 0,
            "snap_counter": d.get("snap_counter", 0),
            "sched_owner_id": ctx.group["id"],
            "sched_owner_name": ctx.group["name"],
        }

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        mandatory = ("name", "volcoll_or_prottmpl_type", "volcoll_or_prottmpl_id")
        data = v.check_body(raw, SCHED_CREATE, mandatory)
        kind, owner_id = data["volcoll_or_prottmpl_type"], data["volcoll_or_prottmpl_id"]
        if not owner_id:
            raise SimError("SM_missing_arg", arg="volcoll_or_prottmpl_id")
        owner = self.ref(ctx, owner_id, OWNER_TYPES[kind], "volcoll_or_prottmpl_id")
        if kind != "volume_collection":
            # protection templates are read-only here: a template gets no new schedules
            raise SimError("SM_eperm")
        _no_partner(data)
        self.unique(ctx, data["name"], scope=owner_id)
        _check_verify(data.get("snap_verify", False), owner)
        return add_schedule(ctx, owner, data["name"], data)

    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = self.check_update(doc, raw, SCHED_UPDATE)
        _not_predefined(doc)
        _no_partner(data)
        self.rename(ctx, doc, data, scope=doc["volcoll_id"])
        before = {k: doc[k] for k in _TIMING}
        apply_update(doc, data, _UPDATED)
        _check_window(doc)
        owner = ctx.obj(doc["volcoll_id"])
        if owner is not None:
            _check_verify(doc["snap_verify"], owner)
        if {k: doc[k] for k in _TIMING} != before:
            t = int(self.m.clock())
            doc["last_mod_sched_time"] = t
            doc["last_run"] = max(t, doc.get("last_run", 0))
        self.m.save(ctx.tx, doc)
        prune(ctx, doc)
        self.m.schedules_changed()
        return doc

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        _not_predefined(doc)
        release_snapshots(ctx, doc)
        ctx.tx.delete(doc["id"])
        self.m.schedules_changed()


def owner_type(d: Doc) -> str:
    """``volcoll_or_prottmpl_type``; schedules stored before templates had theirs are a
    collection's."""
    return str(d.get("owner_type", "volume_collection"))


def schedule_summary(d: Doc) -> Doc:
    """A schedule as its collection or template lists it (NsSchedule)."""
    return {
        "id": d["id"],
        "schedule_id": d["id"],
        "name": d["name"],
        "schedule_name": d["name"],
        **{k: d.get(k, SCHED_FIELDS.constants.get(k, DEFAULTS.get(k))) for k in _SUMMARY_KEYS},
    }


def schedules_of(ctx: Ctx, owner_id: str) -> list[Doc]:
    """The schedules of a collection or template, oldest first, as NsSchedule summaries."""
    return [schedule_summary(s) for s in ctx.preload("prot_sched") if s["volcoll_id"] == owner_id]


def add_schedule(ctx: Ctx, owner: Doc, name: str, fields: dict[str, Any]) -> Doc:
    """A new schedule of ``owner`` (a collection or a template) with ``fields`` over the
    defaults; a collection's regular schedule fires from now on."""
    kind = next(k for k, t in OWNER_TYPES.items() if t == owner["type"])
    values = {k: fields.get(k, default) for k, default in DEFAULTS.items()}
    t = int(ctx.model.clock())
    doc = ctx.model.new_doc(
        ctx.tx, "prot_sched", name=name, volcoll_id=owner["id"], owner_type=kind, **values
    )
    doc.update(last_mod_sched_time=t, last_run=t)
    _check_window(doc)
    ctx.model.save(ctx.tx, doc)
    ctx.forget("prot_sched")
    ctx.model.schedules_changed()
    return doc


def _not_predefined(doc: Doc) -> None:
    # rule 5: the predefined templates (the only ones the simulator has) are not edited
    if owner_type(doc) == "protection_template":
        raise SimError("SM_eperm")


def _check_verify(snap_verify: bool, owner: Doc) -> None:
    # snap_verify runs the application's verification tool, so it needs application
    # synchronization ("can only be used with ... application synchronization", HPE's SDK)
    if snap_verify and owner.get("app_sync", "none") == "none":
        raise SimError("SM_invalid_arg_value", arg="snap_verify", value=snap_verify)


def _no_partner(data: dict[str, Any]) -> None:
    # the simulated group has no replication partners, so no ID can name one
    if data.get("downstream_partner_id"):
        raise SimError("SM_enoent", arg="downstream_partner_id", id=data["downstream_partner_id"])


def _check_window(doc: Doc) -> None:
    if doc["at_time"] > doc["until_time"]:
        raise SimError("SM_invalid_arg_value", arg="until_time", value=doc["until_time"])


def _taken_by(ctx: Ctx, sched: Doc) -> list[Doc]:
    return [s for s in ctx.tx.list("snapshot") if s.get("schedule_id") == sched["id"]]


def release_snapshots(ctx: Ctx, sched: Doc) -> None:
    """Keep the schedule's snapshots as unmanaged ones (rule 4)."""
    for snap in _taken_by(ctx, sched):
        snap.update(schedule_id="", is_unmanaged=True)
        ctx.model.save(ctx.tx, snap)


def prune(ctx: Ctx, sched: Doc) -> int:
    """Delete the schedule's oldest snapshots of each volume beyond ``num_retain`` (rule 3)."""
    by_vol: dict[str, list[Doc]] = {}
    for snap in _taken_by(ctx, sched):
        by_vol.setdefault(snap["vol_id"], []).append(snap)
    deleted = 0
    snapshots = ctx.model.sets["snapshots"]
    for snaps in by_vol.values():
        snaps.sort(key=lambda s: (s["creation_time"], s["id"]))
        for snap in snaps[: max(0, len(snaps) - int(sched["num_retain"]))]:
            if snap["online"] or clones_of(ctx.tx, [snap["id"]]):
                continue
            snapshots.delete(ctx, snap)
            deleted += 1
    return deleted


def take(ctx: Ctx, sched: Doc, volcoll: Doc, t: int) -> int:
    """One firing at time ``t``: a snapshot of every volume of the collection, together one
    snapshot collection named like them."""
    from .volume_collections import members

    name = timing.snapshot_name(volcoll["name"], sched["name"], t)
    snapshots, taken = ctx.model.sets["snapshots"], 0
    coll = ctx.tx.by_name("snapcoll", name, volcoll["id"])
    for vol in members(ctx, volcoll["id"]):
        if ctx.tx.by_name("snapshot", name, vol["id"]) is not None:
            continue
        try:
            snap = snapshots.create(ctx, {"name": name, "vol_id": vol["id"]})
        except SimError as err:  # e.g. no space: this volume misses this firing, as on an array
            log.warning("schedule %s: no snapshot of %s: %s", sched["name"], vol["name"], err)
            continue
        coll = coll or new_snapcoll(ctx, volcoll, name, t, sched)
        snap.update(
            creation_time=t,
            schedule_id=sched["id"],
            is_unmanaged=False,
            snap_collection_id=coll["id"],
        )
        ctx.model.save(ctx.tx, snap)
        taken += 1
    ctx.forget("snapshot")
    if coll is not None:
        note_last_snapcoll(ctx, volcoll, coll, t)
    sched.update(last_snap_time=t, snap_counter=int(sched.get("snap_counter", 0)) + 1)
    return taken


def run_due(model: Model, now: float) -> tuple[int, float | None]:
    """Fire every regular schedule due by ``now``; the snapshots taken and the next due time."""
    taken, next_due = 0, None
    with model.store.write() as tx:
        ctx = model.ctx(tx)
        for sched in tx.list("prot_sched"):
            if sched["schedule_type"] != "regular" or owner_type(sched) != "volume_collection":
                continue
            volcoll = tx.get(sched["volcoll_id"])
            keep = int(sched["num_retain"])
            due = timing.last_firings(sched, sched.get("last_run", 0), now, keep)
            if volcoll is not None:
                for t in due:
                    taken += take(ctx, sched, volcoll, t)
                sched["last_run"] = int(now)
                model.save(tx, sched)
                if due:
                    prune(ctx, sched)
            nxt = timing.next_firing(sched, now)
            if nxt is not None and (next_due is None or nxt < next_due):
                next_due = nxt
    return taken, next_due
