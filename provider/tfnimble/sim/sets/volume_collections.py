"""Volume collections: groups of volumes protected together by protection schedules.

Rules (HPE's REST reference and SDKs; docs/nimble-array-facts.md):
1. Names are unique per group (SM_eexist); ``app_sync`` is none, vss, vmware or generic, and
   the application fields belong to their kind of synchronization.
2. Membership lives on the volume (``volcoll_id``): a volume joins with PUT /volumes/{id}
   ``volcoll_id`` and leaves with ``volcoll_id: ""``; the collection lists its volumes.
3. A collection with volumes is not deleted (SM_ebusy); its schedules go with it, and the
   snapshots they took stay on the volumes, no longer managed by a schedule.
"""

from __future__ import annotations

from typing import Any

from .. import validate as v
from ..errors import SimError
from ..fields import each, table, words
from ..model import Ctx, ObjectSet, apply_update
from ..store import Doc

APP_SYNC = ("none", "vss", "vmware", "generic")
APP_IDS = words(
    "inval exchange exchange_dag hyperv sql2005 sql2008 sql2012 sql2014 sql2016 sql2017"
)
# Which application fields each kind of synchronization takes; the others must stay empty.
_APP_FIELDS = {
    "vss": words("app_server app_id app_cluster_name app_service_name"),
    "vmware": words("vcenter_hostname vcenter_username vcenter_password"),
    "generic": words("agent_hostname agent_username agent_password"),
}
_HOST = v.v_str(64, v.OBJECT_NAME)
_COMMON: dict[str, v.Validator] = {
    "name": v.v_str(64, v.OBJECT_NAME, allow_empty=False),
    "description": v.v_str(255),
    "app_sync": v.v_enum(*APP_SYNC),
    "app_server": _HOST,
    "app_id": v.v_enum(*APP_IDS),
    "app_cluster_name": _HOST,
    "app_service_name": _HOST,
    "vcenter_hostname": v.v_str(64),
    "vcenter_username": v.v_str(64),
    "vcenter_password": v.v_secret,
    "agent_hostname": v.v_str(64),
    "agent_username": v.v_str(64),
    "agent_password": v.v_secret,
    "repl_priority": v.v_enum("normal", "high"),
    "metadata": v.v_metadata,
}
VOLCOLL_CREATE = {
    **_COMMON,
    "prottmpl_id": v.v_id,
    "replication_type": v.v_enum("periodic_snapshot", "synchronous"),
}
VOLCOLL_UPDATE = {**_COMMON, "id": v.v_id}
_UPDATED = tuple(k for k in _COMMON if k != "name")

VOLCOLL_FIELDS = table(
    "id name full_name search_name description repl_priority pol_owner_name replication_type "
    "synchronous_replication_type synchronous_replication_state app_sync app_server app_id "
    "app_cluster_name app_service_name vcenter_hostname vcenter_username agent_hostname "
    "agent_username creation_time last_modified_time volume_list downstream_volume_list "
    "upstream_volume_list volume_count cache_pinned_volume_list last_snapcoll snapcoll_count "
    "schedule_list replication_partner last_replicated_snapcoll protection_type lag_time "
    "is_standalone_volcoll total_repl_bytes repl_bytes_transferred is_handing_over "
    "handover_replication_partner metadata srep_last_sync srep_resync_percent",
    "id name description repl_priority replication_type app_sync app_server app_id "
    "app_cluster_name app_service_name vcenter_hostname vcenter_username agent_hostname "
    "agent_username creation_time",
    same={"full_name": "name", "search_name": "name", "last_modified_time": "last_modified"},
    or_none="metadata",
    constants={
        **each(None, "downstream_volume_list upstream_volume_list last_replicated_snapcoll"),
        **each("", "synchronous_replication_type replication_partner"),
        **each("", "handover_replication_partner"),
        "synchronous_replication_state": "",
        **each(0, "lag_time total_repl_bytes repl_bytes_transferred srep_last_sync"),
        "srep_resync_percent": 0,
        "is_standalone_volcoll": False,
        "is_handing_over": False,
    },
)


def members(ctx: Ctx, volcoll_id: str) -> list[Doc]:
    return [d for d in ctx.preload("volume") if d.get("volcoll_id", "") == volcoll_id]


class VolumeCollectionSet(
    ObjectSet, name="volume_collections", type="volcoll", fields=VOLCOLL_FIELDS
):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        vols = members(ctx, d["id"])
        scheds = [s for s in ctx.preload("prot_sched") if s["volcoll_id"] == d["id"]]
        last = d.get("last_snapcoll")
        return {
            "pol_owner_name": ctx.group["name"],
            "volume_list": [
                {"id": x["id"], "vol_id": x["id"], "name": x["name"], "vol_name": x["name"]}
                for x in vols
            ]
            or None,
            "volume_count": len(vols),
            "cache_pinned_volume_list": [
                {"id": x["id"], "name": x["name"]} for x in vols if x.get("cache_pinned")
            ]
            or None,
            "last_snapcoll": last,
            "snapcoll_count": int(d.get("snapcoll_count", 0)),
            "schedule_list": [
                {
                    "id": s["id"],
                    "name": s["name"],
                    "schedule_id": s["id"],
                    "schedule_name": s["name"],
                }
                for s in scheds
            ]
            or None,
            "protection_type": "local" if scheds else "unprotected",
        }

    def prepare(self, ctx: Ctx) -> None:
        ctx.preload("volume")
        ctx.preload("prot_sched")

    def _check_app(self, doc: Doc) -> None:
        kind = doc["app_sync"]
        for other, keys in _APP_FIELDS.items():
            for key in keys:
                if other != kind and doc.get(key):
                    raise SimError("SM_invalid_arg_value", arg=key, value=doc[key])

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        data = v.check_body(raw, VOLCOLL_CREATE, ("name",))
        if data.get("prottmpl_id"):
            # no protection template can be found here: the sets that would hold them are
            # read-only, and templates copy their schedules, which this set does not do
            self.ref(ctx, data["prottmpl_id"], "prottmpl", "prottmpl_id")
            raise SimError("SM_invalid_arg_value", arg="prottmpl_id", value=data["prottmpl_id"])
        if data.get("replication_type", "periodic_snapshot") != "periodic_snapshot":
            raise SimError(
                "SM_invalid_arg_value", arg="replication_type", value=data["replication_type"]
            )
        self.unique(ctx, data["name"])
        fields = {k: data.get(k, "") for k in _COMMON if k not in ("metadata", "name")}
        fields.update(
            app_sync=data.get("app_sync", "none"), repl_priority=data.get("repl_priority", "normal")
        )
        doc = self.m.new_doc(
            ctx.tx,
            "volcoll",
            name=data["name"],
            **fields,
            replication_type="periodic_snapshot",
            metadata=data.get("metadata", []),
        )
        self._check_app(doc)
        self.m.save(ctx.tx, doc)
        return doc

    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = self.check_update(doc, raw, VOLCOLL_UPDATE)
        self.rename(ctx, doc, data)
        apply_update(doc, data, _UPDATED)
        self._check_app(doc)
        self.m.save(ctx.tx, doc)
        return doc

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        if members(ctx, doc["id"]):
            raise SimError("SM_ebusy")
        from .protection_schedules import release_snapshots

        for sched in [s for s in ctx.tx.list("prot_sched") if s["volcoll_id"] == doc["id"]]:
            release_snapshots(ctx, sched)
            ctx.tx.delete(sched["id"])
        ctx.tx.delete(doc["id"])
