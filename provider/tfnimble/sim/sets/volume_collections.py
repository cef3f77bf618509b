"""Volume collections: groups of volumes protected together by protection schedules.

Rules (HPE's REST reference and SDKs; docs/nimble-array-facts.md):
1. Names are unique per group (SM_eexist); ``app_sync`` is none, vss, vmware or generic, and
   the application fields belong to their kind of synchronization.
2. Membership lives on the volume (``volcoll_id``): a volume joins with PUT /volumes/{id}
   ``volcoll_id`` and leaves with ``volcoll_id: ""``; the collection lists its volumes.
3. A collection with volumes is not deleted (SM_ebusy); its schedules go with it, and the
   snapshots they took stay on the volumes, no longer managed by a schedule.
4. ``app_sync`` ``vss`` needs ``app_server`` and ``app_id`` (SM_protpol_not_specified).
5. ``prottmpl_id`` at create copies a protection template: its application settings and a
   schedule of the collection for each of the template's schedules.
6. Actions: ``promote`` of a collection this group already owns is SM_ealready; ``demote``
   and ``handover`` name a replication partner (``replication_partner_id``), and the simulated
   group has none; ``abort_handover`` with no handover under way is SM_ealready; ``validate``
   asks the application servers of a ``vss`` or ``vmware`` collection (none to ask here).
"""

from __future__ import annotations

from typing import Any

from .. import validate as v
from ..errors import ProtocolError, SimError
from ..fields import each, table, words
from ..model import Ctx, ObjectSet, apply_update
from ..store import Doc
from .common import protection_type
from .protection_schedules import add_schedule, schedules_of

APP_SYNC = ("none", "vss", "vmware", "generic")
NO_APP_ID = "inval"
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
# Mandatory with each kind of synchronization (SM_protpol_not_specified when missing).
_APP_NEEDS = {"vss": ("app_server", "app_id")}
_PARTNER_ACTION: dict[str, v.Validator] = {
    "id": v.v_id,
    "replication_partner_id": v.v_id,
    "invoke_on_upstream_partner": v.v_bool,
    "no_reverse": v.v_bool,
    "override_upstream_down": v.v_bool,
}
# What each action takes (demote takes neither no_reverse nor override_upstream_down).
_ACTIONS: dict[str, dict[str, v.Validator]] = {
    "promote": {"id": v.v_id},
    "demote": {
        k: _PARTNER_ACTION[k]
        for k in ("id", "replication_partner_id", "invoke_on_upstream_partner")
    },
    "handover": _PARTNER_ACTION,
    "abort_handover": {"id": v.v_id},
    "validate": {"id": v.v_id},
}
_UPDATED = tuple(k for k in _COMMON if k != "name")
# What a collection made from a template takes from it (rule 5): its protection settings.
_APP_COPIED = tuple(k for k in _COMMON if k not in ("name", "description", "metadata"))

VOLCOLL_FIELDS = table(
    "id name full_name search_name description repl_priority pol_owner_name replication_type "
    "synchronous_replication_type synchronous_replication_state app_sync app_server app_id "
    "app_cluster_name app_service_name vcenter_hostname vcenter_username agent_hostname "
    "agent_username creation_time last_modified_time volume_list downstream_volume_list "
    "upstream_volume_list volume_count cache_pinned_volume_list last_snapcoll snapcoll_count "
    "schedule_list replication_partner last_replicated_snapcoll last_replicated_snapcoll_list "
    "protection_type lag_time "
    "is_standalone_volcoll total_repl_bytes repl_bytes_transferred is_handing_over "
    "handover_replication_partner metadata srep_last_sync srep_resync_percent",
    "id name description repl_priority replication_type app_sync app_server app_id "
    "app_cluster_name app_service_name vcenter_hostname vcenter_username agent_hostname "
    "agent_username creation_time",
    same={"full_name": "name", "search_name": "name", "last_modified_time": "last_modified"},
    or_none="metadata",
    constants={
        **each(
            None,
            "downstream_volume_list upstream_volume_list last_replicated_snapcoll "
            "last_replicated_snapcoll_list",
        ),
        **each("", "replication_partner handover_replication_partner"),
        # a periodic-snapshot collection: the synchronous-replication enums' "not_applicable"
        **each("not_applicable", "synchronous_replication_type synchronous_replication_state"),
        **each(0, "lag_time total_repl_bytes repl_bytes_transferred srep_last_sync"),
        "srep_resync_percent": 0,
        "is_standalone_volcoll": False,
        "is_handing_over": False,
    },
)


def _set(doc: Doc, key: str) -> bool:
    """Whether an application field has a value: ``app_id`` "inval" is NsAppIdType's "no
    application" (an empty app_id is not one of its values)."""
    return bool(doc.get(key)) and not (key == "app_id" and doc[key] == NO_APP_ID)


def _summary(vol: Doc) -> Doc:
    """A member volume as an NsVolumeSummary."""
    return {"id": vol["id"], "vol_id": vol["id"], "name": vol["name"], "vol_name": vol["name"]}


def members(ctx: Ctx, volcoll_id: str) -> list[Doc]:
    return [d for d in ctx.preload("volume") if d.get("volcoll_id", "") == volcoll_id]


class VolumeCollectionSet(
    ObjectSet, name="volume_collections", type="volcoll", fields=VOLCOLL_FIELDS
):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        vols = members(ctx, d["id"])
        scheds = schedules_of(ctx, d["id"])
        last = d.get("last_snapcoll")
        return {
            "pol_owner_name": ctx.group["name"],
            "volume_list": [_summary(x) for x in vols] or None,
            "volume_count": len(vols),
            # NsVolumeSummary, like volume_list (Go SDK)
            "cache_pinned_volume_list": [_summary(x) for x in vols if x.get("cache_pinned")]
            or None,
            "last_snapcoll": last,
            # the collection's snapshot collections that still exist (retention deletes some)
            "snapcoll_count": ctx.tx.count("snapcoll", d["id"]),
            "schedule_list": scheds or None,
            "protection_type": protection_type(ctx, d["id"]),
        }

    def prepare(self, ctx: Ctx) -> None:
        ctx.preload("volume")
        ctx.preload("prot_sched")

    def _check_app(self, doc: Doc) -> None:
        kind = doc["app_sync"]
        for other, keys in _APP_FIELDS.items():
            for key in keys:
                if other != kind and _set(doc, key):
                    raise SimError("SM_invalid_arg_value", arg=key, value=doc[key])
        for key in _APP_NEEDS.get(kind, ()):
            if not _set(doc, key):
                raise SimError("SM_protpol_not_specified", arg=key)

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        data = v.check_body(raw, VOLCOLL_CREATE, ("name",))
        template = None
        if data.get("prottmpl_id"):
            template = self.ref(ctx, data["prottmpl_id"], "prottmpl", "prottmpl_id")
        if data.get("replication_type", "periodic_snapshot") != "periodic_snapshot":
            raise SimError(
                "SM_invalid_arg_value", arg="replication_type", value=data["replication_type"]
            )
        self.unique(ctx, data["name"])
        # rule 5: what the request does not say, the template gives (none of its secrets)
        given = {k: data[k] for k in _COMMON if k in data and k not in ("metadata", "name")}
        base = {k: template[k] for k in _APP_COPIED if k in template} if template else {}
        fields = {k: "" for k in _COMMON if k not in ("metadata", "name")}
        fields.update({k: val for k, val in base.items() if k in fields}, **given)
        fields["app_sync"] = fields["app_sync"] or "none"
        fields["repl_priority"] = fields["repl_priority"] or "normal"
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
        ctx.remember(doc)
        for sched in schedules_of(ctx, template["id"]) if template else ():
            add_schedule(ctx, doc, sched["name"], sched)
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

    def action(self, ctx: Ctx, doc: Doc | None, action: str, raw: dict[str, Any]) -> Any:
        if doc is None or action not in _ACTIONS:
            raise ProtocolError(404)
        mandatory = (
            ("replication_partner_id",) if "replication_partner_id" in _ACTIONS[action] else ()
        )
        data = self.check_update(doc, raw, _ACTIONS[action], mandatory)
        if mandatory:
            if not data["replication_partner_id"]:
                raise SimError("SM_missing_arg", arg="replication_partner_id")
            # the simulated group has no replication partners
            raise SimError("SM_no_such_partner", id=data["replication_partner_id"])
        if action == "validate":
            if doc["app_sync"] not in ("vss", "vmware"):
                raise SimError("SM_protpol_invalid_app_sync", value=doc["app_sync"])
            return None
        # promote: this group owns every collection; abort_handover: none is under way
        raise SimError("SM_ealready")
