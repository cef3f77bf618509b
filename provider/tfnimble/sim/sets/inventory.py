"""What the array is made of: group, array, pool, performance policies and network.

Only performance policies and the group can be changed; the rest is reported, with the space
numbers from the model's accounting.
"""

from __future__ import annotations

from typing import Any

from .. import validate as v
from ..constants import (
    ARRAY_MODEL,
    ARRAY_NAME_SUFFIX,
    NO_SNAP_LIMIT,
    PREDEFINED_POLICIES,
    SOFTWARE_VERSION,
    TARGET_NAME_FOLLOWS_RENAME,
)
from ..errors import SimError
from ..exports import group_iqn
from ..fields import each, table, words
from ..model import Config, Ctx, Model, ObjectSet, now
from ..naming import group_target
from ..store import Doc, Tx
from .common import SAME_NAME


def create_inventory(m: Model, tx: Tx) -> None:
    """The objects a new array starts with: group, pool, array, policies, network."""
    m.add(
        tx,
        "group",
        name=m.config.group_name,
        user_inactivity_timeout=1800,
        group_target_enabled=True,
        default_iscsi_target_scope=m.config.target_scope,
        default_volume_reserve=0,
        default_volume_warn_level=80,
        default_volume_limit=100,
        default_snap_reserve=0,
        default_snap_warn_level=0,
        default_snap_limit=None,
        description="",
        snap_retn_meter_high=100,
        iscsi_enabled=True,
    )
    m.add(tx, "pool", name="default", description="Default pool")
    serial = "AF-" + str(int(m.guid[:8], 16) % 1000000).zfill(6)
    m.add(tx, "array", name=m.config.group_name + ARRAY_NAME_SUFFIX, serial=serial)
    fixed = {k: POLICY_DEFAULTS[k] for k in words("compress cache cache_policy space_policy")}
    fixed |= {"dedupe_enabled": False, "predefined": True, "sample_rate": 0}
    for name, bs, cat, desc in PREDEFINED_POLICIES:
        policy = {"name": name, "block_size": bs, "app_category": cat, "description": desc}
        m.add(tx, "perfpolicy", **policy, **fixed)
    m.add(tx, "netconfig", name="active", role="active")
    m.add(tx, "subnet", name="management", label="management")
    m.add(tx, "subnet", name="data", label="data")


def _space_and_array(m: Model, ctx: Ctx) -> tuple[dict[str, int], Doc]:
    """The pool's space numbers and the group's one array, which the inventory reports."""
    return m.space(ctx), ctx.preload("array")[0]


def _space(s: dict[str, int], mapping: str) -> dict[str, int]:
    """Keys filled from the model's space numbers: ``"key=stat key=stat ..."``."""
    return {key: s[stat] for key, _, stat in (pair.partition("=") for pair in mapping.split())}


# ----- pools ------------------------------------------------------------------------------

POOL_FIELDS = table(
    "all_flash array_count array_list cache_capacity capacity creation_time dedupe_all_volumes "
    "dedupe_all_volumes_capable dedupe_capable dedupe_capacity_bytes dedupe_usage_bytes "
    "description folder_list free_space full_name id is_default last_modified name "
    "pinnable_cache_capacity pinned_cache_capacity pinned_vol_list reserve savings "
    "savings_compression savings_data_reduction savings_dedupe savings_ratio snap_count "
    "snap_usage_bytes snapcoll_count search_name unassigned_array_list "
    "uncompressed_snap_usage_bytes uncompressed_vol_usage_bytes unused_reserve usage "
    "usage_valid vol_count vol_list vol_usage_bytes",
    "creation_time description id last_modified name",
    same=SAME_NAME,
    constants={
        **each(True, "all_flash dedupe_all_volumes_capable dedupe_capable usage_valid"),
        **each(False, "dedupe_all_volumes"),
        **each(
            0,
            "cache_capacity dedupe_usage_bytes pinnable_cache_capacity pinned_cache_capacity "
            "savings savings_compression savings_data_reduction savings_dedupe snapcoll_count",
        ),
        **each(None, "folder_list pinned_vol_list unassigned_array_list"),
        "array_count": 1,
        "savings_ratio": 1.0,
    },
)


class PoolSet(ObjectSet, name="pools", type="pool", fields=POOL_FIELDS):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        s, array = _space_and_array(self.m, ctx)
        arr = {
            "id": array["id"],
            "array_id": array["id"],
            "name": array["name"],
            "array_name": array["name"],
            "usable_capacity": s["capacity"],
            "migrate": "none",
            "evac_usage": 0,
            "evac_time": 0,
            "usage_valid": True,
            **_space(s, "usage=usage snap_usage_bytes=snap_usage vol_usage_bytes=vol_usage"),
        }
        vols = [
            {"id": x["id"], "name": x["name"], "vol_id": x["id"], "vol_name": x["name"]}
            for x in ctx.preload("volume")
        ]
        return {
            "array_list": [arr],
            "is_default": d["name"] == "default",
            "vol_list": vols or None,
            **_space(
                s,
                "capacity=capacity dedupe_capacity_bytes=capacity free_space=free_space "
                "reserve=reserve snap_count=snap_count snap_usage_bytes=snap_usage "
                "uncompressed_snap_usage_bytes=snap_usage uncompressed_vol_usage_bytes=vol_usage "
                "unused_reserve=unused_reserve usage=usage vol_count=vol_count "
                "vol_usage_bytes=vol_usage",
            ),
        }


# ----- performance policies ---------------------------------------------------------------

POLICY_CREATE: dict[str, v.Validator] = {
    "name": v.v_str(64, v.POLICY_NAME, allow_empty=False),
    "description": v.v_str(255),
    "block_size": v.v_block_size,
    "compress": v.v_bool,
    "cache": v.v_bool,
    "cache_policy": v.v_enum(
        "normal", "aggressive", "no_write", "aggressive_read_no_write", "disabled"
    ),
    "space_policy": v.v_enum("offline", "non_writable", "read_only", "login_only"),
    "app_category": v.v_str(64),
    "dedupe_enabled": v.v_bool,
    "sample_rate": v.v_int(0, 2**31 - 1),
}
POLICY_UPDATE = {**POLICY_CREATE, "id": v.v_id}
# What a new policy gets for each setting the request leaves out.
POLICY_DEFAULTS: dict[str, Any] = {
    "description": "",
    "block_size": 4096,
    "compress": True,
    "cache": True,
    "cache_policy": "normal",
    "space_policy": "offline",
    "app_category": "Unassigned",
    "dedupe_enabled": False,
}
POLICY_FIELDS = table(
    "app_category block_size cache cache_policy compress creation_time dedupe_enabled "
    "dedupe_override_pools deprecated description full_name id last_modified name predefined "
    "sample_rate search_name space_policy volume_count",
    "app_category block_size cache cache_policy compress creation_time dedupe_enabled "
    "description id last_modified name predefined sample_rate space_policy",
    same=SAME_NAME,
    constants={"dedupe_override_pools": None, "deprecated": False},
)


class PerfPolicySet(
    ObjectSet, name="performance_policies", type="perfpolicy", fields=POLICY_FIELDS
):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        vols = ctx.preload("volume")
        return {"volume_count": sum(1 for x in vols if x["perfpolicy_id"] == d["id"])}

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        data = v.check_body(raw, POLICY_CREATE, ("name",))
        self.unique(ctx, data["name"])
        given = {k: data.get(k, default) for k, default in POLICY_DEFAULTS.items()}
        sample_rate = data.get("sample_rate", 0)
        return self.m.add(
            ctx.tx,
            "perfpolicy",
            name=data["name"],
            **given,
            predefined=False,
            sample_rate=sample_rate,
        )

    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = self.check_update(doc, raw, POLICY_UPDATE)
        if doc["predefined"] and set(data) - {"id"}:
            raise SimError("SM_eperm")
        if "block_size" in data and data["block_size"] != doc["block_size"]:
            raise SimError("SM_invalid_arg_value", arg="block_size", value=data["block_size"])
        self.rename(ctx, doc, data)
        for key, value in data.items():
            if key not in ("id", "block_size"):
                doc[key] = value
        self.m.save(ctx.tx, doc)
        return doc

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        if doc["predefined"]:
            raise SimError("SM_eperm")
        if any(x["perfpolicy_id"] == doc["id"] for x in ctx.preload("volume")):
            raise SimError("SM_ebusy")
        ctx.tx.delete(doc["id"])


# ----- group and array --------------------------------------------------------------------

GROUP_UPDATE: dict[str, v.Validator] = {
    "id": v.v_id,
    "name": v.v_str(64, v.OBJECT_NAME, allow_empty=False),
    "user_inactivity_timeout": v.v_int(1, 43200),
    "group_target_enabled": v.v_bool,
    "default_iscsi_target_scope": v.v_enum("volume", "group"),
    "default_volume_reserve": v.v_pct,
    "default_volume_warn_level": v.v_pct,
    "default_volume_limit": v.v_pct,
    "default_snap_reserve": v.v_int(0, 2**31 - 1),
    "default_snap_warn_level": v.v_int(0, 2**31 - 1),
    "default_snap_limit": v.v_int(0, 2**63 - 1),
    "description": v.v_str(255),
}
GROUP_FIELDS = table(
    "access_protocol_list alarms_enabled compressed_snap_usage_bytes compressed_vol_usage_bytes "
    "compression_ratio creation_time date default_iscsi_target_scope default_snap_limit "
    "default_snap_reserve default_snap_warn_level default_volume_limit default_volume_reserve "
    "default_volume_warn_level description fc_enabled free_space group_target_enabled "
    "group_target_name id iscsi_enabled last_modified leader_array_name leader_array_serial "
    "member_list name num_snapcolls num_snaps raw_capacity snap_usage_populated "
    "unique_name_enabled usable_capacity_bytes usage usage_valid user_inactivity_timeout "
    "version_current version_target vol_usage_compressed_bytes vvol_enabled",
    "creation_time default_iscsi_target_scope default_snap_reserve default_snap_warn_level "
    "default_volume_limit default_volume_reserve default_volume_warn_level description "
    "group_target_enabled id last_modified name user_inactivity_timeout",
    constants={
        "access_protocol_list": ["iscsi"],
        **each(True, "alarms_enabled iscsi_enabled unique_name_enabled usage_valid"),
        **each(False, "fc_enabled vvol_enabled"),
        "compression_ratio": 1.0,
        **each(SOFTWARE_VERSION, "version_current version_target"),
    },
)


class GroupSet(ObjectSet, name="groups", type="group", fields=GROUP_FIELDS):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        s, array = _space_and_array(self.m, ctx)
        limit = d["default_snap_limit"]
        return {
            "date": now(),
            "default_snap_limit": limit if limit is not None else NO_SNAP_LIMIT,
            "group_target_name": group_iqn(self.m, d) if d["group_target_enabled"] else None,
            "leader_array_name": array["name"],
            "leader_array_serial": array["serial"],
            "member_list": [array["name"]],
            "num_snapcolls": ctx.tx.count("snapcoll"),
            "raw_capacity": s["capacity"] * 4 // 3,
            **_space(
                s,
                "compressed_snap_usage_bytes=snap_usage compressed_vol_usage_bytes=vol_usage "
                "free_space=free_space num_snaps=snap_count snap_usage_populated=snap_usage "
                "usable_capacity_bytes=capacity usage=usage vol_usage_compressed_bytes=vol_usage",
            ),
        }

    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = self.check_update(doc, raw, GROUP_UPDATE)
        renamed = "name" in data and data["name"] != doc["name"]
        for key, value in data.items():
            if key != "id":
                doc[key] = value
        if renamed and TARGET_NAME_FOLLOWS_RENAME:
            doc["group_target_name"] = group_target(doc, self.m.guid)
        self.m.save(ctx.tx, doc)
        return doc


ARRAY_FIELDS = table(
    "all_flash available_bytes creation_time full_name group_state id last_modified model name "
    "pool_id pool_name raw_capacity_bytes role search_name serial snap_usage_bytes status "
    "usable_cache_capacity_bytes usable_capacity_bytes usage usage_valid version vol_usage_bytes",
    "creation_time id last_modified name serial",
    same=SAME_NAME,
    constants={
        **each(True, "all_flash usage_valid"),
        "group_state": "in_group",
        "model": ARRAY_MODEL,
        "role": "leader",
        "status": "reachable",
        "usable_cache_capacity_bytes": 0,
        "version": SOFTWARE_VERSION,
    },
)


class ArraySet(ObjectSet, name="arrays", type="array", fields=ARRAY_FIELDS):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        s = self.m.space(ctx)
        pool = ctx.preload("pool")[0]
        return {
            "pool_id": pool["id"],
            "pool_name": pool["name"],
            "raw_capacity_bytes": s["capacity"] * 4 // 3,
            **_space(
                s,
                "available_bytes=free_space snap_usage_bytes=snap_usage "
                "usable_capacity_bytes=capacity usage=usage vol_usage_bytes=vol_usage",
            ),
        }


# ----- network ----------------------------------------------------------------------------


def _network_of(ip: str) -> str:
    if ":" in ip:
        return ip
    parts = ip.split(".")
    return ".".join([*parts[:3], "0"]) if len(parts) == 4 else ip


def discovery_address(config: Config) -> str:
    """The data subnet's ``discovery_ip``. A real array always listens on 3260; when the sim's
    portal uses another port we append it (``IP:PORT``), which iscsiadm and libiscsi accept."""
    if config.iscsi_portal_port == 3260:
        return config.iscsi_portal_ip
    host = config.iscsi_portal_ip
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{config.iscsi_portal_port}"


SUBNET_FIELDS = table(
    "allow_group allow_iscsi creation_time discovery_ip failover failover_enable_time id label "
    "last_modified mtu name netmask netzone_type network type vlan_id",
    "creation_time id label last_modified name",
    constants={
        "failover": True,
        **each(0, "failover_enable_time vlan_id"),
        "mtu": 1500,
    },
)
# The subnet keys a network configuration lists for each subnet.
_NETCONFIG_SUBNET_KEYS = words(
    "label network netmask netzone_type type allow_iscsi allow_group discovery_ip mtu vlan_id "
    "failover failover_enable_time"
)


def _render_subnet(ctx: Ctx, config: Config, d: Doc) -> Doc:
    # As on the NimbleOS 5.2 group in HPE's nimble-ansible-modules example output: data subnets
    # carry iSCSI and group traffic (netzone "single"), the management subnet neither.
    data = d["label"] == "data"
    ip = config.iscsi_portal_ip if data else config.mgmt_ip
    computed = {
        "allow_group": data,
        "allow_iscsi": data,
        "discovery_ip": discovery_address(config) if data else "",
        "netmask": "255.255.255.0" if ":" not in ip else "ffff:ffff:ffff:ffff::",
        "netzone_type": "single" if data else "none",
        "network": _network_of(ip),
        "type": "data" if data else "mgmt",
    }
    return SUBNET_FIELDS.render(ctx, d, computed)


class SubnetSet(ObjectSet, name="subnets", type="subnet", fields=SUBNET_FIELDS):
    def render(self, ctx: Ctx, d: Doc) -> Doc:
        return _render_subnet(ctx, self.m.config, d)


NETCONFIG_FIELDS = table(
    "active_since array_list creation_time group_leader_array id ignore_validation_mask "
    "iscsi_automatic_connection_method iscsi_connection_rebalancing last_active last_modified "
    "mgmt_ip name role route_list secondary_mgmt_ip subnet_list",
    "creation_time id last_modified name role",
    same={"active_since": "creation_time", "last_active": "creation_time"},
    constants={
        "ignore_validation_mask": 0,
        **each(True, "iscsi_automatic_connection_method iscsi_connection_rebalancing"),
        "route_list": None,
        "secondary_mgmt_ip": "",
    },
)


class NetworkConfigSet(
    ObjectSet, name="network_configs", type="netconfig", fields=NETCONFIG_FIELDS
):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        cfg = self.m.config
        subnets = [_render_subnet(ctx, cfg, s) for s in ctx.preload("subnet")]
        array = ctx.preload("array")[0]
        # Only NICs on an iSCSI subnet carry a data_ip; the management NIC reports "" (as the
        # 5.2 capture in HPE's nimble-ansible-modules shows), so it is never offered as a portal.
        nics = [("eth1", "management", ""), ("tg1", "data", cfg.iscsi_portal_ip)]
        member = {
            "name": array["name"],
            "member_gid": 1,
            "ctrlr_a_support_ip": cfg.mgmt_ip,
            "ctrlr_b_support_ip": cfg.mgmt_ip,
            "nic_list": [
                {"name": nic, "subnet_label": label, "data_ip": ip, "tagged": False}
                for nic, label, ip in nics
            ],
        }
        return {
            "array_list": [member],
            "group_leader_array": array["name"],
            "mgmt_ip": cfg.mgmt_ip,
            "subnet_list": [{k: s[k] for k in _NETCONFIG_SUBNET_KEYS} for s in subnets],
        }
