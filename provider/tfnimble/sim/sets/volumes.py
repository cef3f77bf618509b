"""Volumes: create (plain or clone), update, online/offline, restore and delete."""

from __future__ import annotations

from typing import Any

from .. import constants as c
from .. import validate as v
from ..errors import ProtocolError, SimError
from ..exports import export_volume, group_iqn, is_group_scoped, set_volume_online, unexport_volume
from ..fields import each, table, words
from ..model import Ctx, ObjectSet, apply_update, total_reserved
from ..naming import new_serial, volume_target, vpd
from ..store import Doc
from .access import acr_embedded, group_lun
from .common import (
    app_category,
    clones_of,
    drop_emptied_snapcolls,
    protection_type,
    state_changes,
)

_VOLUME_COMMON: dict[str, v.Validator] = {
    "name": v.v_str(215, v.VOL_SNAP_NAME, allow_empty=False),
    "size": v.v_int(1, c.MAX_VOLUME_SIZE_MIB),
    "description": v.v_str(255),
    "perfpolicy_id": v.v_id,
    "reserve": v.v_pct,
    "warn_level": v.v_pct,
    "limit": v.v_pct,
    "snap_reserve": v.v_int(0, 2**31 - 1),
    "snap_warn_level": v.v_int(0, 2**31 - 1),
    "snap_limit": v.v_int(-1, 2**63 - 1),
    "snap_limit_percent": v.v_int(-1, 2**31 - 1),
    "online": v.v_bool,
    "owned_by_group_id": v.v_id,
    "multi_initiator": v.v_bool,
    "iscsi_target_scope": v.v_enum("volume", "group"),
    "read_only": v.v_bool,
    "agent_type": v.v_enum("none", "smis", "vvol", "openstack", "openstackv2"),
    "cache_pinned": v.v_bool,
    "app_uuid": v.v_str(255, v.APP_UUID),
    "folder_id": v.v_id,
    "metadata": v.v_metadata,
    "dedupe_enabled": v.v_bool,
    "limit_iops": v.v_int(256, 4294967294, -1),
    "limit_mbps": v.v_int(1, 4294967294, -1),
    "caching_enabled": v.v_bool,
    "thinly_provisioned": v.v_bool,
    "volcoll_id": v.v_id,
}
VOLUME_CREATE = {
    **_VOLUME_COMMON,
    "pool_id": v.v_id,
    "pool_name": v.v_str(64, v.OBJECT_NAME),
    "block_size": v.v_block_size,
    "clone": v.v_bool,
    "base_snap_id": v.v_id,
    "dest_pool_id": v.v_id,
    "encryption_cipher": v.v_enum("none", "aes_256_xts"),
    "inherit_acl": v.v_bool,
}
VOLUME_UPDATE = {**_VOLUME_COMMON, "force": v.v_bool, "id": v.v_id}
# The keys an update copies as given (name, policy, online and metadata have rules of their own).
_UPDATED = words(
    "size description reserve warn_level limit snap_reserve snap_warn_level multi_initiator "
    "iscsi_target_scope read_only agent_type cache_pinned app_uuid dedupe_enabled limit_iops "
    "limit_mbps caching_enabled thinly_provisioned"
)
_STATS, _MEASURES = "combined read write", "iops latency throughput"  # avg_stats_last_5mins

VOLUME_FIELDS = table(
    "access_control_records agent_type app_category app_uuid avg_stats_last_5mins base_snap_id "
    "base_snap_name block_size cache_needed_for_pin cache_pinned cache_policy caching_enabled "
    "cksum_last_verified clone content_repl_errors_found creation_time dedupe_enabled "
    "description dest_pool_id dest_pool_name encryption_cipher fc_sessions folder_id folder_name "
    "full_name id iscsi_sessions iscsi_target_scope last_content_snap_br_cg_uid "
    "last_content_snap_br_gid last_content_snap_id last_modified last_replicated_snap last_snap "
    "limit limit_iops limit_mbps metadata move_aborting move_bytes_migrated move_bytes_remaining "
    "move_est_compl_time move_start_time multi_initiator name needs_content_repl num_connections "
    "num_fc_connections num_iscsi_connections num_snaps offline_reason online online_snaps "
    "owned_by_group owned_by_group_id parent_vol_id parent_vol_name perfpolicy_id "
    "perfpolicy_name pinned_cache_size pool_id pool_name previously_deduped projected_num_snaps "
    "protection_type read_only replication_role reserve search_name serial_number size "
    "snap_limit snap_limit_percent snap_reserve snap_usage_compressed_bytes "
    "snap_usage_populated_bytes snap_usage_uncompressed_bytes snap_warn_level space_usage_level "
    "srep_last_sync srep_resync_percent target_name thinly_provisioned total_usage_bytes "
    "upstream_cache_pinned usage_valid vol_state vol_usage_compressed_bytes "
    "vol_usage_mapped_bytes vol_usage_uncompressed_bytes volcoll_id volcoll_name warn_level "
    "vpd_t10 vpd_ieee0 vpd_ieee1",
    "agent_type app_uuid base_snap_id block_size cache_pinned caching_enabled clone "
    "creation_time dedupe_enabled description encryption_cipher id iscsi_target_scope "
    "last_modified limit limit_iops limit_mbps multi_initiator name offline_reason online "
    "parent_vol_id perfpolicy_id pool_id read_only reserve serial_number size snap_reserve "
    "snap_warn_level thinly_provisioned warn_level",
    names={
        "base_snap_name": "base_snap_id",
        "parent_vol_name": "parent_vol_id",
        "perfpolicy_name": "perfpolicy_id",
        "pool_name": "pool_id",
    },
    same={"search_name": "name"},
    or_none="metadata",
    constants={
        "avg_stats_last_5mins": dict.fromkeys(
            (f"{kind}_{what}" for kind in _STATS.split() for what in _MEASURES.split()), 0
        ),
        "cache_policy": "normal",
        **each(
            0,
            "cksum_last_verified last_content_snap_br_cg_uid last_content_snap_br_gid "
            "last_content_snap_id move_bytes_migrated move_bytes_remaining move_est_compl_time "
            "move_start_time num_fc_connections projected_num_snaps srep_last_sync "
            "srep_resync_percent",
        ),
        **each(
            False,
            "content_repl_errors_found move_aborting needs_content_repl previously_deduped "
            "upstream_cache_pinned",
        ),
        **each("", "dest_pool_id dest_pool_name folder_id folder_name"),
        **each(None, "fc_sessions iscsi_sessions last_replicated_snap"),
        "replication_role": "no_replication",
        "snap_limit": c.NO_SNAP_LIMIT,
        "snap_limit_percent": -1,
        "usage_valid": True,
    },
)


class VolumeSet(ObjectSet, name="volumes", type="volume", fields=VOLUME_FIELDS):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        m, group = self.m, ctx.group
        snaps = ctx.children("snapshot", d["id"])
        vol_used = m.vol_usage(d)
        snap_used = sum(m.snap_usage(s) for s in snaps)
        online_snaps = [
            {"id": s["id"], "snap_id": s["id"], "name": s["name"], "snap_name": s["name"]}
            for s in snaps
            if s.get("online")
        ]
        last = max(snaps, key=lambda s: s["id"]) if snaps else None
        conns = m.connections(ctx, d)
        size_bytes = d["size"] * c.MIB
        level = "normal"
        if d["warn_level"] and vol_used >= size_bytes * d["warn_level"] // 100:
            level = "warning"
        if vol_used >= size_bytes * d["limit"] // 100:
            level = "critical"
        state = ("read_only" if d["read_only"] else "online") if d["online"] else "offline"
        return {
            "access_control_records": [acr_embedded(ctx, a) for a in ctx.children("acr", d["id"])]
            or None,
            "app_category": app_category(ctx, d["perfpolicy_id"]),
            "cache_needed_for_pin": size_bytes,
            "full_name": f"{ctx.name_of(d['pool_id'])}:/{d['name']}",
            "last_snap": {
                "snap_id": last["id"],
                "snap_name": last["name"],
                "snap_creation_time": last["creation_time"],
            }
            if last
            else None,
            **each(conns, "num_connections num_iscsi_connections"),
            "num_snaps": len(snaps),
            "online_snaps": online_snaps or None,
            "owned_by_group": group["name"],
            "owned_by_group_id": group["id"],
            "pinned_cache_size": size_bytes if d["cache_pinned"] else 0,
            # protected by its collection's schedules ("if protected with schedules")
            "protection_type": protection_type(ctx, d.get("volcoll_id", "")),
            **each(
                snap_used,
                "snap_usage_compressed_bytes snap_usage_populated_bytes "
                "snap_usage_uncompressed_bytes",
            ),
            "space_usage_level": level,
            "target_name": group_iqn(m, group) if is_group_scoped(d) else d["target_name"],
            "total_usage_bytes": vol_used + snap_used,
            "volcoll_id": d.get("volcoll_id", ""),
            "volcoll_name": ctx.name_of(d.get("volcoll_id", "")),
            "vol_state": state,
            **each(
                vol_used,
                "vol_usage_compressed_bytes vol_usage_mapped_bytes vol_usage_uncompressed_bytes",
            ),
            **vpd(d["serial_number"]),
        }

    def prepare(self, ctx: Ctx) -> None:
        for obj_type in ("snapshot", "acr", "initiator_group", "perfpolicy", "pool"):
            ctx.preload(obj_type)

    # ---- create ----
    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        data = v.check_body(raw, VOLUME_CREATE, ("name",))
        m, tx, group = self.m, ctx.tx, ctx.group
        clone = data.get("clone", False)
        parent: Doc | None = None
        snap: Doc | None = None
        if clone:
            if not data.get("base_snap_id"):
                raise SimError("SM_missing_arg", arg="base_snap_id")
            snap = self.ref(ctx, data["base_snap_id"], "snapshot", "base_snap_id")
            parent = self.ref(ctx, snap["vol_id"], "volume", "base_snap_id")
            data.setdefault("size", snap["size_mib"])
            if data["size"] < snap["size_mib"]:
                raise SimError("SM_invalid_arg_value", arg="size", value=data["size"])
        else:
            if data.get("base_snap_id"):
                raise SimError("SM_invalid_arg_value", arg="clone", value=False)
            if "size" not in data:
                raise SimError("SM_missing_arg", arg="size")
        self.unique(ctx, data["name"])
        pool = self._pool(ctx, data)
        if data.get("perfpolicy_id"):
            policy = self.ref(ctx, data["perfpolicy_id"], "perfpolicy", "perfpolicy_id")
        elif parent is not None:
            policy = self.ref(ctx, parent["perfpolicy_id"], "perfpolicy", "perfpolicy_id")
        else:
            policy = tx.by_name("perfpolicy", "default") or tx.list("perfpolicy")[0]
        block_size = data.get(
            "block_size", parent["block_size"] if parent else policy["block_size"]
        )
        if block_size != policy["block_size"]:
            raise SimError("SM_invalid_arg_value", arg="block_size", value=block_size)
        for ref in ("folder_id", "volcoll_id", "owned_by_group_id"):
            if data.get(ref) and not (ref == "owned_by_group_id" and data[ref] == group["id"]):
                self.ref(ctx, data[ref], ref.removesuffix("_id"), ref)
        scope = data.get("iscsi_target_scope") or (
            parent["iscsi_target_scope"] if parent else group["default_iscsi_target_scope"]
        )

        def inherited(key: str, default: Any) -> Any:
            return data.get(key, parent[key] if parent else default)

        doc = m.new_doc(
            tx,
            "volume",
            name=data["name"],
            size=data["size"],
            description=data.get("description", ""),
            perfpolicy_id=policy["id"],
            pool_id=pool["id"],
            reserve=data.get("reserve", group["default_volume_reserve"]),
            warn_level=data.get("warn_level", group["default_volume_warn_level"]),
            limit=data.get("limit", group["default_volume_limit"]),
            snap_reserve=data.get("snap_reserve", group["default_snap_reserve"]),
            snap_warn_level=data.get("snap_warn_level", group["default_snap_warn_level"]),
            online=data.get("online", True),
            read_only=data.get("read_only", False),
            multi_initiator=data.get("multi_initiator", False),
            iscsi_target_scope=scope,
            volcoll_id=data.get("volcoll_id", ""),
            agent_type=data.get("agent_type", "none"),
            block_size=block_size,
            clone=clone,
            parent_vol_id=parent["id"] if parent else "",
            base_snap_id=snap["id"] if snap else "",
            app_uuid=data.get("app_uuid", ""),
            metadata=data.get("metadata", []),
            dedupe_enabled=data.get("dedupe_enabled", False),
            cache_pinned=data.get("cache_pinned", False),
            caching_enabled=data.get("caching_enabled", True),
            encryption_cipher=inherited("encryption_cipher", "none"),
            limit_iops=inherited("limit_iops", -1),
            limit_mbps=inherited("limit_mbps", -1),
            thinly_provisioned=data.get("thinly_provisioned", True),
            written_bytes=0,
            shared_bytes=0,
            connections=0,
        )
        _check_limit(doc)
        doc["offline_reason"] = None if doc["online"] else "user"
        doc["serial_number"] = new_serial()
        doc["target_name"] = volume_target(doc, m.guid)
        m.need_space(ctx, total_reserved(doc))
        m.save(tx, doc)
        size_bytes = doc["size"] * c.MIB
        if snap is not None:
            m.dp.clone(snap["id"], doc["id"], size_bytes)
        else:
            m.dp.create_volume(doc["id"], size_bytes)
        if (
            parent is not None
            and c.CLONE_INHERITS_ACL
            and data.get("inherit_acl", True)
            and doc["agent_type"] == "none"
            and parent["agent_type"] == "none"
        ):
            self._inherit_acl(ctx, parent, doc)
        ctx.remember(doc)
        export_volume(ctx, doc)
        return doc

    def _inherit_acl(self, ctx: Ctx, parent: Doc, doc: Doc) -> None:
        """Copy the parent's access control records to the clone, without snapshot bindings.
        On the group target the clone gets a LUN of its own (one for all its records)."""
        acrs = ctx.children("acr", parent["id"])
        lun = group_lun(ctx, doc) if is_group_scoped(doc) and acrs else 0
        for acr in acrs:
            kept = {k: acr[k] for k in ("apply_to", "initiator_group_id")}
            self.m.add(
                ctx.tx,
                "acr",
                **kept,
                lun=None if acr["lun"] is None else lun,
                snap_id="",
                pe_id=acr["pe_id"],
                vol_id=doc["id"],
            )
        ctx.forget("acr", doc["id"])

    def _pool(self, ctx: Ctx, data: dict[str, Any]) -> Doc:
        if data.get("pool_id"):
            return self.ref(ctx, data["pool_id"], "pool", "pool_id")
        if data.get("pool_name"):
            pool = ctx.tx.by_name("pool", data["pool_name"])
            if pool is None:
                raise SimError("SM_enoent", arg="pool_name", name=data["pool_name"])
            return pool
        return ctx.tx.by_name("pool", "default") or ctx.tx.list("pool")[0]

    # ---- update ----
    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = self.check_update(doc, raw, VOLUME_UPDATE)
        m = self.m
        force = force or data.get("force", False)
        if "name" in data and data["name"] != doc["name"]:
            self.rename(ctx, doc, data)
            if c.TARGET_NAME_FOLLOWS_RENAME:
                doc["target_name"] = volume_target(doc, m.guid)
        if data.get("perfpolicy_id"):
            policy = self.ref(ctx, data["perfpolicy_id"], "perfpolicy", "perfpolicy_id")
            if policy["block_size"] != doc["block_size"]:
                raise SimError("SM_invalid_arg_value", arg="perfpolicy_id", value=policy["id"])
            doc["perfpolicy_id"] = policy["id"]
        for ref in ("folder_id", "volcoll_id"):
            if data.get(ref):
                self.ref(ctx, data[ref], ref.removesuffix("_id"), ref)
        if "volcoll_id" in data:  # membership lives on the volume; "" leaves the collection
            doc["volcoll_id"] = data["volcoll_id"]
        if data.get("owned_by_group_id") and data["owned_by_group_id"] != ctx.group["id"]:
            self.ref(ctx, data["owned_by_group_id"], "group", "owned_by_group_id")
        old_reserved = total_reserved(doc)
        old_size, old_scope = doc["size"], doc["iscsi_target_scope"]
        if "size" in data and data["size"] < doc["size"] and not force:
            raise SimError("SM_vol_size_decreased")
        apply_update(doc, data, _UPDATED)
        _check_limit(doc)
        apply_update(doc, data, ("metadata",))
        if doc["size"] < old_size:
            doc["written_bytes"] = min(doc["written_bytes"], doc["size"] * c.MIB)
            doc["shared_bytes"] = min(doc["shared_bytes"], doc["written_bytes"])
        new_reserved = total_reserved(doc)
        if new_reserved > old_reserved:
            m.need_space(ctx, new_reserved - old_reserved)
        if doc["size"] != old_size:
            m.dp.resize(doc["id"], doc["size"] * c.MIB)
        if doc["iscsi_target_scope"] != old_scope:
            self._retarget(ctx, doc, old_scope)
        if "online" in data:
            self._set_online(ctx, doc, data["online"], force)
        m.save(ctx.tx, doc)
        return doc

    def _set_online(self, ctx: Ctx, doc: Doc, online: bool, force: bool) -> None:
        if not state_changes(doc, online, c.VOLUME_STATE_NOOP_IS_ERROR):
            return
        if not online:
            if self.m.connections(ctx, doc) and not force:
                raise SimError("SM_vol_has_connections", vol=doc["name"])
            doc["connections"] = 0
        doc["online"] = online
        doc["offline_reason"] = None if online else "user"
        set_volume_online(ctx, doc, online)

    def _retarget(self, ctx: Ctx, doc: Doc, old_scope: str) -> None:
        """Move the volume to the target of its new scope: its access records get the LUN they
        have there (0 on its own target, a free one on the group target)."""
        unexport_volume(ctx, doc, old_scope)
        acrs = ctx.children("acr", doc["id"])
        lun = group_lun(ctx, doc, reassign=True) if is_group_scoped(doc) else 0
        for acr in acrs:
            if acr["lun"] is not None:
                acr["lun"] = lun
                self.m.save(ctx.tx, acr)
        ctx.forget("acr", doc["id"])
        export_volume(ctx, doc)

    # ---- delete ----
    def delete(self, ctx: Ctx, doc: Doc) -> None:
        m, tx = self.m, ctx.tx
        if doc["online"]:
            raise SimError(c.ONLINE_DELETE_CODE, vol=doc["name"])
        if doc.get("volcoll_id"):
            raise SimError("SM_vol_assoc_volcoll", vol=doc["name"])
        snaps = ctx.children("snapshot", doc["id"])
        if clones_of(tx, [s["id"] for s in snaps]):
            raise SimError("SM_vol_has_clone", vol=doc["name"])
        if any(s.get("online") for s in snaps):
            raise SimError("SM_vol_has_online_snap", vol=doc["name"])
        for acr in ctx.children("acr", doc["id"]):
            tx.delete(acr["id"])
        drop_emptied_snapcolls(tx, snaps)
        for s in snaps:
            tx.delete(s["id"])
            m.dp.delete(s["id"])
        tx.delete(doc["id"])
        m.dp.delete(doc["id"])

    # ---- actions ----
    def action(self, ctx: Ctx, doc: Doc | None, action: str, raw: dict[str, Any]) -> Any:
        if doc is not None and action == "restore":
            return self._restore(ctx, doc, raw)
        if doc is None and action == "bulk_set_online_and_offline":
            data = v.check_body(
                raw, {"vol_ids": v.v_id_list, "online": v.v_bool}, ("vol_ids", "online")
            )
            for vol_id in data["vol_ids"]:
                vol = self.load(ctx.tx, vol_id)
                self._set_online(ctx, vol, data["online"], force=False)
                self.m.save(ctx.tx, vol)
            return None
        raise ProtocolError(404)

    def _restore(self, ctx: Ctx, doc: Doc, raw: dict[str, Any]) -> Doc:
        spec = {"id": v.v_id, "base_snap_id": v.v_id}
        data = self.check_update(doc, raw, spec, ("base_snap_id",))
        if not data["base_snap_id"]:
            raise SimError("SM_missing_arg", arg="base_snap_id")
        snap = self.ref(ctx, data["base_snap_id"], "snapshot", "base_snap_id")
        if snap["vol_id"] != doc["id"]:
            raise SimError("SM_invalid_arg_value", arg="base_snap_id", value=snap["id"])
        if doc["online"]:
            raise SimError("SM_vol_not_offline_on_restore", vol=doc["name"])
        doc["written_bytes"] = min(snap.get("captured_bytes", 0), doc["size"] * c.MIB)
        doc["shared_bytes"] = doc["written_bytes"]
        self.m.dp.restore(doc["id"], snap["id"])
        self.m.save(ctx.tx, doc)
        return doc


def _check_limit(doc: Doc) -> None:
    if doc["limit"] < doc["reserve"]:
        raise SimError("SM_invalid_arg_value", arg="limit", value=doc["limit"])
