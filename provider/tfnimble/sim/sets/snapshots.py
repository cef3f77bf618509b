"""Snapshots of volumes: create, online/offline (each has its own target), update and delete."""

from __future__ import annotations

from typing import Any

from .. import constants as c
from .. import validate as v
from ..errors import SimError
from ..exports import group_iqn, initiator_iqns, is_group_scoped
from ..fields import each, table
from ..model import Ctx, ObjectSet, apply_update
from ..naming import new_serial, snapshot_target, vpd
from ..store import Doc
from .access import acr_embedded
from .common import clones_of, drop_emptied_snapcolls, state_changes

SNAPSHOT_CREATE: dict[str, v.Validator] = {
    "name": v.v_str(215, v.VOL_SNAP_NAME, allow_empty=False),
    "vol_id": v.v_id,
    "description": v.v_str(255),
    "online": v.v_bool,
    "writable": v.v_bool,
    "app_uuid": v.v_str(255, v.APP_UUID),
    "metadata": v.v_metadata,
    "agent_type": v.v_enum("none", "smis", "vvol", "openstack", "openstackv2"),
    "expiry_after": v.v_int(0, 2**31 - 1),
}
_UPDATED = ("description", "app_uuid", "expiry_after", "metadata")
SNAPSHOT_UPDATE: dict[str, v.Validator] = {
    **{k: SNAPSHOT_CREATE[k] for k in ("name", "online", *_UPDATED)},
    "id": v.v_id,
    "force": v.v_bool,
}
SNAPSHOT_FIELDS = table(
    "access_control_records agent_type app_uuid creation_time description expiry_after "
    "expiry_time id is_manually_managed is_replica is_unmanaged last_modified metadata name "
    "new_data_compressed_bytes new_data_uncompressed_bytes new_data_valid offline_reason online "
    "origin_name pool_name replication_status schedule_id schedule_name serial_number size "
    "snap_collection_id snap_collection_name target_name vol_id vol_name writable "
    "vpd_t10 vpd_ieee0 vpd_ieee1",
    "agent_type app_uuid creation_time description expiry_after id last_modified name online "
    "serial_number vol_id writable",
    names={"vol_name": "vol_id"},
    or_none="metadata",
    constants={
        **each(True, "is_manually_managed new_data_valid"),
        "is_replica": False,
        "origin_name": "",
        "replication_status": None,
    },
)


class SnapshotSet(ObjectSet, name="snapshots", type="snapshot", fields=SNAPSHOT_FIELDS):
    def check_list_filter(self, params: dict[str, str], has_criteria: bool) -> None:
        if (
            c.SNAPSHOT_LIST_NEEDS_FILTER
            and not has_criteria
            and not any(k in params for k in c.SNAPSHOT_LIST_FILTERS)
        ):
            raise SimError("SM_missing_arg", arg="vol_id")

    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        vol = ctx.obj(d["vol_id"]) or {}
        acrs = [
            a
            for a in ctx.children("acr", d["vol_id"])
            if a.get("snap_id") == d["id"] or a["apply_to"] in ("snapshot", "both")
        ]
        used = self.m.snap_usage(d)
        return {
            "access_control_records": [acr_embedded(ctx, a) for a in acrs] or None,
            "expiry_time": d["creation_time"] + d["expiry_after"] if d["expiry_after"] > 1 else 0,
            **each(used, "new_data_compressed_bytes new_data_uncompressed_bytes"),
            "offline_reason": None if d["online"] else "user",
            "pool_name": ctx.name_of(vol.get("pool_id", "")),
            # taken by a protection schedule; unmanaged once that schedule is deleted
            "schedule_id": d.get("schedule_id", ""),
            "schedule_name": ctx.name_of(d.get("schedule_id", "")),
            "is_unmanaged": d.get("is_unmanaged", False),
            # a scheduled snapshot belongs to the snapshot collection of its firing
            "snap_collection_id": d.get("snap_collection_id", ""),
            "snap_collection_name": ctx.name_of(d.get("snap_collection_id", "")),
            "size": d["size_mib"] * c.MIB if c.SNAPSHOT_SIZE_IN_BYTES else d["size_mib"],
            # under the group target a snapshot reports the group's IQN, as its volume does
            "target_name": group_iqn(self.m, ctx.group)
            if is_group_scoped(vol)
            else d["target_name"],
            **vpd(d["serial_number"]),
        }

    def prepare(self, ctx: Ctx) -> None:
        for obj_type in ("volume", "acr", "pool", "initiator_group"):
            ctx.preload(obj_type)

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        data = v.check_body(raw, SNAPSHOT_CREATE, ("name", "vol_id"))
        m, tx = self.m, ctx.tx
        if not data["vol_id"]:
            raise SimError("SM_missing_arg", arg="vol_id")
        vol = self.ref(ctx, data["vol_id"], "volume", "vol_id")
        self.unique(ctx, data["name"], scope=vol["id"])
        doc = m.new_doc(
            tx,
            "snapshot",
            name=data["name"],
            vol_id=vol["id"],
            description=data.get("description", ""),
            online=False,
            writable=data.get("writable", False),
            app_uuid=data.get("app_uuid", ""),
            metadata=data.get("metadata", []),
            agent_type=data.get("agent_type", "none"),
            expiry_after=data.get("expiry_after", 0),
            size_mib=vol["size"],
            captured_bytes=vol.get("written_bytes", 0),
            unique_bytes=0,
            serial_number=new_serial(),
        )
        doc["target_name"] = snapshot_target(doc, vol["name"], m.guid)
        vol["shared_bytes"] = vol.get("written_bytes", 0)
        m.save(tx, vol)
        m.save(tx, doc)
        m.dp.snapshot(vol["id"], doc["id"])
        if data.get("online"):
            self._set_online(ctx, doc, True)
            m.save(tx, doc)
        return doc

    def _set_online(self, ctx: Ctx, doc: Doc, online: bool) -> None:
        if not state_changes(doc, online, c.SNAPSHOT_STATE_NOOP_IS_ERROR):
            return
        doc["online"] = online
        dp = self.m.dp
        dp.set_online(doc["target_name"], doc["id"], online)
        if online:
            iqns = initiator_iqns(ctx, doc["vol_id"], for_snapshot=True)
            dp.set_acl(doc["target_name"], doc["id"], iqns)

    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = self.check_update(doc, raw, SNAPSHOT_UPDATE)
        self.rename(ctx, doc, data, scope=doc["vol_id"])
        apply_update(doc, data, _UPDATED)
        if "online" in data:
            self._set_online(ctx, doc, data["online"])
        self.m.save(ctx.tx, doc)
        return doc

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        vol = ctx.obj(doc["vol_id"]) or {"name": ""}
        if clones_of(ctx.tx, [doc["id"]]):
            raise SimError("SM_snap_has_clone", snap=doc["name"], vol=vol["name"])
        if doc["online"]:
            raise SimError(c.ONLINE_DELETE_CODE, snap=doc["name"])
        for acr in ctx.children("acr", doc["vol_id"]):
            if acr.get("snap_id") == doc["id"]:
                ctx.tx.delete(acr["id"])
        drop_emptied_snapcolls(ctx.tx, [doc])
        ctx.tx.delete(doc["id"])
        self.m.dp.delete(doc["id"])
