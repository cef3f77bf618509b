"""Snapshot collections: the snapshots of a volume collection's volumes taken together.

Rules (HPE's SDKs and their tests; docs/nimble-array-facts.md, "Volume collections and
protection schedules"):
1. A protection schedule's firing makes one (``protection_schedules.take``); ``POST`` makes one
   by hand (``name`` and ``volcoll_id`` mandatory): a snapshot of every volume of the
   collection, named like the collection, online with ``start_online``, writable with
   ``allow_writes``.
2. What a collection is now (``num_snaps``, ``online_status``, ``is_unmanaged``,
   ``snapshots_list``) is read from its snapshots; it goes with its last snapshot.
3. The simulated group has no replication partners: ``replicate`` (and
   ``invoke_on_upstream_partner``) true is SM_repl_no_partner_avail. ``is_external_trigger``
   needs an external-trigger schedule in the collection (SM_ext_trig_sched_not_present).
4. A delete deletes its snapshots; not while one is online (SM_vol_has_online_snap) or has a
   clone (SM_snap_has_clone).
"""

from __future__ import annotations

from typing import Any

from .. import validate as v
from ..errors import SimError
from ..fields import table
from ..model import Ctx, ObjectSet, apply_update
from ..store import Doc
from .common import clones_of

_KEYS = (
    "agent_type creation_time description expiry_after id is_complete is_external_trigger "
    "is_manual is_manually_managed is_replica is_unmanaged last_modified metadata name "
    "num_snaps online_status origin_name peer_snapcoll_id repl_bytes_transferred "
    "repl_complete_time repl_start_time repl_status replicate replicate_to sched_id sched_name "
    "snapshots_list srep_owner_id srep_owner_name volcoll_id volcoll_name"
)
_COMPUTED = {"volcoll_name", "num_snaps", "online_status", "snapshots_list", "is_unmanaged"}
SNAPCOLL_FIELDS = table(
    _KEYS,
    " ".join(k for k in _KEYS.split() if k not in _COMPUTED | {"metadata"}),
    names={"volcoll_name": "volcoll_id"},
    or_none="metadata",
)
_AGENT = v.v_enum("none", "smis", "vvol", "openstack", "openstackv2")
SNAPCOLL_UPDATE: dict[str, v.Validator] = {
    "id": v.v_id,
    "name": v.v_str(215, v.VOL_SNAP_NAME, allow_empty=False),
    "description": v.v_str(255),
    "replicate": v.v_bool,
    "expiry_after": v.v_int(0, 2**31 - 1),
    "metadata": v.v_metadata,
    "force": v.v_bool,
}
SNAPCOLL_CREATE: dict[str, v.Validator] = {
    **{k: val for k, val in SNAPCOLL_UPDATE.items() if k not in ("id", "force")},
    "volcoll_id": v.v_id,
    "is_external_trigger": v.v_bool,
    "vol_snap_attr_list": v.v_list,
    "replicate_to": v.v_str(64),
    "start_online": v.v_bool,
    "allow_writes": v.v_bool,
    "disable_appsync": v.v_bool,
    "snap_verify": v.v_bool,
    "skip_db_consistency_check": v.v_bool,
    "invoke_on_upstream_partner": v.v_bool,
    "agent_type": _AGENT,
}


def new_snapcoll(
    ctx: Ctx, volcoll: Doc, name: str, t: int, sched: Doc | None = None, **fields: Any
) -> Doc:
    """A snapshot collection of ``volcoll`` (its snapshots name it in snap_collection_id)."""
    doc = ctx.model.new_doc(
        ctx.tx,
        "snapcoll",
        name=name,
        description="",
        volcoll_id=volcoll["id"],
        sched_id=sched["id"] if sched else "",
        sched_name=sched["name"] if sched else "",
        **dict.fromkeys(("is_external_trigger", "is_replica", "replicate"), False),
        is_manual=sched is None,
        **dict.fromkeys(("is_complete", "is_manually_managed"), True),
        **dict.fromkeys(("origin_name", "peer_snapcoll_id", "replicate_to"), ""),
        **dict.fromkeys(("srep_owner_id", "srep_owner_name"), ""),
        **dict.fromkeys(("repl_bytes_transferred", "repl_complete_time", "repl_start_time"), 0),
        repl_status=None,
        agent_type="none",
        expiry_after=0,
        metadata=[],
    )
    doc.update(fields, creation_time=t)
    ctx.model.save(ctx.tx, doc)
    return doc


def note_last_snapcoll(ctx: Ctx, volcoll: Doc, coll: Doc, t: int) -> None:
    """The collection's ``last_snapcoll``: the snapshot collection just taken."""
    volcoll["last_snapcoll"] = {
        "snapcoll_id": coll["id"],
        "snapcoll_name": coll["name"],
        "snapcoll_creation_time": t,
    }
    ctx.model.save(ctx.tx, volcoll)


def _no_partner(data: dict[str, Any]) -> None:
    for key in ("replicate", "invoke_on_upstream_partner"):
        if data.get(key):
            raise SimError("SM_repl_no_partner_avail", arg=key)


class SnapshotCollectionSet(
    ObjectSet, name="snapshot_collections", type="snapcoll", fields=SNAPCOLL_FIELDS
):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        snaps = self._snaps(ctx, d)
        online = sum(1 for s in snaps if s["online"])
        status = "partial" if online else "offline"
        return {
            "num_snaps": len(snaps),
            "online_status": "online" if snaps and online == len(snaps) else status,
            "snapshots_list": [
                {
                    "id": s["id"],
                    "snap_id": s["id"],
                    "name": s["name"],
                    "snap_name": s["name"],
                    "snapcoll_id": d["id"],
                    "snapcoll_name": d["name"],
                    "vol_id": s["vol_id"],
                    "vol_name": ctx.name_of(s["vol_id"]),
                    "schedule_id": s.get("schedule_id", ""),
                    "schedule_name": ctx.name_of(s.get("schedule_id", "")),
                    "expiry_time": 0,
                }
                for s in snaps
            ]
            or None,
            "is_unmanaged": bool(snaps) and all(s.get("is_unmanaged") for s in snaps),
        }

    @staticmethod
    def _snaps(ctx: Ctx, d: Doc) -> list[Doc]:
        return [s for s in ctx.preload("snapshot") if s.get("snap_collection_id") == d["id"]]

    def prepare(self, ctx: Ctx) -> None:
        for obj_type in ("snapshot", "volume", "prot_sched"):
            ctx.preload(obj_type)

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        from .volume_collections import members

        data = v.check_body(raw, SNAPCOLL_CREATE, ("name", "volcoll_id"))
        if not data["volcoll_id"]:
            raise SimError("SM_missing_arg", arg="volcoll_id")
        volcoll = self.ref(ctx, data["volcoll_id"], "volcoll", "volcoll_id")
        _no_partner(data)
        if data.get("snap_verify") and volcoll["app_sync"] == "none":
            raise SimError("SM_invalid_arg_value", arg="snap_verify", value=True)
        sched = None
        if data.get("is_external_trigger"):
            triggers = [
                s
                for s in ctx.tx.list("prot_sched")
                if s["volcoll_id"] == volcoll["id"] and s["schedule_type"] == "external_trigger"
            ]
            if not triggers:
                raise SimError("SM_ext_trig_sched_not_present")
            sched = triggers[0]
        self.unique(ctx, data["name"], scope=volcoll["id"])
        vols = members(ctx, volcoll["id"])
        t = int(self.m.clock())
        fields = {k: data[k] for k in ("description", "agent_type", "expiry_after") if k in data}
        doc = new_snapcoll(ctx, volcoll, data["name"], t, sched, **fields)
        doc.update(is_external_trigger=sched is not None, metadata=data.get("metadata", []))
        self.m.save(ctx.tx, doc)
        snapshots = self.m.sets["snapshots"]
        for vol in vols:
            body = {"name": data["name"], "vol_id": vol["id"], "online": data.get("start_online")}
            body["writable"] = data.get("allow_writes", False)
            snap = snapshots.create(ctx, {k: val for k, val in body.items() if val is not None})
            snap.update(
                snap_collection_id=doc["id"],
                schedule_id=sched["id"] if sched else "",
                description=data.get("description", ""),
            )
            self.m.save(ctx.tx, snap)
        ctx.forget("snapshot")
        note_last_snapcoll(ctx, volcoll, doc, t)
        return doc

    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = self.check_update(doc, raw, SNAPCOLL_UPDATE)
        _no_partner(data)
        self.rename(ctx, doc, data, scope=doc["volcoll_id"])
        apply_update(doc, data, ("description", "replicate", "expiry_after", "metadata"))
        self.m.save(ctx.tx, doc)
        return doc

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        snaps = self._snaps(ctx, doc)
        for snap in snaps:
            vol = ctx.obj(snap["vol_id"]) or {"name": ""}
            if snap["online"]:
                raise SimError("SM_vol_has_online_snap", vol=vol["name"])
            if clones_of(ctx.tx, [snap["id"]]):
                raise SimError("SM_snap_has_clone", snap=snap["name"], vol=vol["name"])
        snapshots = self.m.sets["snapshots"]
        for snap in snaps:
            snapshots.delete(ctx, snap)
        ctx.tx.delete(doc["id"])
        ctx.forget("snapshot")
