"""Who may log in to what: initiator groups, their initiators, and access control records."""

from __future__ import annotations

from typing import Any

from .. import constants as c
from .. import validate as v
from ..constants import DEFAULT_APPLY_TO, IG_IN_USE_CODE
from ..errors import SimError
from ..exports import is_group_scoped, push_acls
from ..fields import each, table
from ..model import Ctx, ObjectSet, apply_update
from ..store import Doc
from .common import SAME_NAME, app_category

IG_CREATE: dict[str, v.Validator] = {
    "name": v.v_str(64, v.OBJECT_NAME, allow_empty=False),
    "description": v.v_str(255),
    "access_protocol": v.v_enum("iscsi", "fc"),
    "host_type": v.v_enum("auto", "hpux"),
    "fc_tdz_ports": v.v_list,
    "target_subnets": v.v_list,
    "iscsi_initiators": v.v_list,
    "fc_initiators": v.v_list,
    "app_uuid": v.v_str(255, v.APP_UUID),
    "metadata": v.v_metadata,
}
IG_UPDATE = {k: val for k, val in IG_CREATE.items() if k != "access_protocol"}
IG_UPDATE["id"] = v.v_id
IG_FIELDS = table(
    "access_protocol app_uuid creation_time description fc_initiators fc_tdz_ports full_name "
    "host_type id iscsi_initiators last_modified metadata name num_connections search_name "
    "target_subnets volume_count volume_list",
    "access_protocol app_uuid creation_time description host_type id last_modified name",
    same=SAME_NAME,
    or_none="metadata target_subnets",
    constants={**each(None, "fc_initiators fc_tdz_ports"), "num_connections": 0},
)


def _iqn(value: Any, arg: str) -> str:
    if not isinstance(value, str) or len(value) > 255 or not v.IQN.match(value):
        raise SimError("SM_invalid_initiator_iqn")
    return value


INITIATOR_CREATE: dict[str, v.Validator] = {
    "access_protocol": v.v_enum("iscsi", "fc"),
    "initiator_group_id": v.v_id,
    "label": v.v_str(64, v.OBJECT_NAME, allow_empty=False),
    "iqn": _iqn,
    "ip_address": v.v_str(64, allow_empty=False),
    "alias": v.v_str(32),
    "wwpn": v.v_str(23),
    "override_existing_alias": v.v_bool,
    "chapuser_id": v.v_id,
}
_INITIATOR_ITEM = {k: INITIATOR_CREATE[k] for k in ("label", "iqn", "ip_address")}
INITIATOR_FIELDS = table(
    "access_protocol alias chapuser_id creation_time id initiator_group_id initiator_group_name "
    "ip_address iqn label last_modified override_existing_alias vp_override wwpn",
    "access_protocol creation_time id initiator_group_id label last_modified",
    names={"initiator_group_name": "initiator_group_id"},
    constants={
        **each("", "alias wwpn"),
        **each(False, "override_existing_alias vp_override"),
    },
)


def _initiator_addresses(d: Doc) -> dict[str, str]:
    """An initiator matches by IQN or by IP address; the one it lacks renders as ``*``."""
    return {"iqn": d.get("iqn") or "*", "ip_address": d.get("ip_address") or "*"}


def _check_unique_initiator(data: dict[str, Any], labels: set[str], iqns: set[str]) -> None:
    if data["label"] in labels:
        raise SimError("SM_duplicate_initiator_with_args", name="label", value=data["label"])
    if data.get("iqn") and data["iqn"] in iqns:
        raise SimError("SM_duplicate_initiator_with_args", name="iqn", value=data["iqn"])


def _add_initiator(ctx: Ctx, ig_id: str, data: dict[str, Any]) -> Doc:
    return ctx.model.add(
        ctx.tx,
        "initiator",
        access_protocol="iscsi",
        initiator_group_id=ig_id,
        label=data["label"],
        iqn=data.get("iqn", ""),
        ip_address=data.get("ip_address", ""),
    )


def _push_ig_acls(ctx: Ctx, ig_id: str) -> None:
    push_acls(ctx, [a["vol_id"] for a in ctx.tx.list("acr") if a["initiator_group_id"] == ig_id])


def _no_fc(data: dict[str, Any]) -> None:
    if data.get("access_protocol") == "fc":
        raise SimError("SM_fc_svc_not_available")
    if data.get("fc_initiators"):
        raise SimError("SM_invalid_arg_value", arg="fc_initiators", value=data["fc_initiators"])


class InitiatorGroupSet(
    ObjectSet, name="initiator_groups", type="initiator_group", fields=IG_FIELDS
):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        vols = []
        for a in ctx.preload("acr"):
            vol = ctx.obj(a["vol_id"]) if a["initiator_group_id"] == d["id"] else None
            if vol is not None:
                vols.append(
                    {
                        "id": vol["id"],
                        "name": vol["name"],
                        "full_name": f"{ctx.name_of(vol['pool_id'])}:/{vol['name']}",
                        "app_category": app_category(ctx, vol["perfpolicy_id"]),
                        "lun": a["lun"],
                    }
                )
        inits = [
            {"id": i["id"], "initiator_id": i["id"], "label": i["label"], **_initiator_addresses(i)}
            for i in ctx.children("initiator", d["id"])
        ]
        return {
            "iscsi_initiators": inits or None,
            "volume_count": len(vols),
            "volume_list": vols or None,
        }

    def prepare(self, ctx: Ctx) -> None:
        for obj_type in ("initiator", "acr", "volume"):
            ctx.preload(obj_type)

    def _initiators(self, ctx: Ctx, ig: Doc, items: list[Any]) -> None:
        labels: set[str] = set()
        iqns: set[str] = set()
        for index, item in enumerate(items):
            data = v.check_body(item, _INITIATOR_ITEM, ("label",))
            if "iqn" not in data and "ip_address" not in data:
                raise SimError("SM_missing_arg", arg=f"iscsi_initiators[{index}].iqn")
            _check_unique_initiator(data, labels, iqns)
            labels.add(data["label"])
            if data.get("iqn"):
                iqns.add(data["iqn"])
            _add_initiator(ctx, ig["id"], data)
        ctx.forget("initiator", ig["id"])

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        data = v.check_body(raw, IG_CREATE, ("name", "access_protocol"))
        _no_fc(data)
        self.unique(ctx, data["name"])
        doc = self.m.add(
            ctx.tx,
            "initiator_group",
            name=data["name"],
            description=data.get("description", ""),
            access_protocol=data["access_protocol"],
            host_type=data.get("host_type", "auto"),
            target_subnets=_target_subnets(ctx, data.get("target_subnets", [])),
            app_uuid=data.get("app_uuid", ""),
            metadata=data.get("metadata", []),
        )
        self._initiators(ctx, doc, data.get("iscsi_initiators", []))
        return doc

    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = self.check_update(doc, raw, IG_UPDATE)
        self.rename(ctx, doc, data)
        apply_update(doc, data, ("description", "host_type", "app_uuid"))
        if "target_subnets" in data:
            doc["target_subnets"] = _target_subnets(ctx, data["target_subnets"])
        apply_update(doc, data, ("metadata",))
        _no_fc(data)
        if "iscsi_initiators" in data:
            for ini in ctx.children("initiator", doc["id"]):
                ctx.tx.delete(ini["id"])
            ctx.forget("initiator", doc["id"])
            self._initiators(ctx, doc, data["iscsi_initiators"])
            _push_ig_acls(ctx, doc["id"])
        self.m.save(ctx.tx, doc)
        return doc

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        for acr in ctx.tx.list("acr"):
            if acr["initiator_group_id"] == doc["id"]:
                raise SimError(IG_IN_USE_CODE, name=doc["name"])
        for ini in ctx.children("initiator", doc["id"]):
            ctx.tx.delete(ini["id"])
        ctx.tx.delete(doc["id"])


def _target_subnets(ctx: Ctx, items: list[Any]) -> list[dict[str, str]]:
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id", item.get("label")), str):
            raise SimError("SM_invalid_arg_value", arg="target_subnets", value=item)
        subnet = None
        if item.get("id"):
            subnet = ctx.obj(str(item["id"]).lower())
        elif item.get("label"):
            subnet = ctx.tx.by_name("subnet", item["label"])
        if subnet is None or subnet["type"] != "subnet":
            raise SimError("SM_enoent", arg="target_subnets", value=item)
        out.append({"id": subnet["id"], "label": subnet["label"]})
    return out


class InitiatorSet(
    ObjectSet, name="initiators", type="initiator", fields=INITIATOR_FIELDS, summary_keys=("id",)
):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        # the CHAP user whose initiator_iqns name this initiator (one at most: giving an IQN
        # to a user takes it from the others, see chap_users)
        users = [
            u["id"]
            for u in ctx.preload("chap_user")
            if d.get("iqn") and {"name": d["iqn"]} in (u.get("initiator_iqns") or [])
        ]
        return {**_initiator_addresses(d), "chapuser_id": users[0] if users else ""}

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        data = v.check_body(raw, INITIATOR_CREATE, ("access_protocol", "initiator_group_id"))
        _no_fc(data)
        if not data["initiator_group_id"]:
            raise SimError("SM_missing_arg", arg="initiator_group_id")
        ig = self.ref(ctx, data["initiator_group_id"], "initiator_group", "initiator_group_id")
        if "label" not in data:
            raise SimError("SM_missing_arg", arg="label")
        if "iqn" not in data and "ip_address" not in data:
            raise SimError("SM_missing_arg", arg="iqn")
        for other in ctx.children("initiator", ig["id"]):
            _check_unique_initiator(data, {other["label"]}, {other.get("iqn", "")})
        doc = _add_initiator(ctx, ig["id"], data)
        ctx.forget("initiator", ig["id"])
        _push_ig_acls(ctx, ig["id"])
        return doc

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        ctx.tx.delete(doc["id"])
        ctx.forget("initiator", doc["initiator_group_id"])
        _push_ig_acls(ctx, doc["initiator_group_id"])


# ----- access control records -------------------------------------------------------------

ACR_CREATE: dict[str, v.Validator] = {
    "apply_to": v.v_enum("volume", "snapshot", "both", "pe", "vvol_volume", "vvol_snapshot"),
    "chap_user_id": v.v_id,
    "initiator_group_id": v.v_id,
    "lun": v.v_int(0, 399999),
    "vol_id": v.v_id,
    "pe_id": v.v_id,
    "snap_id": v.v_id,
    "pe_ids": v.v_list,
}
ACR_FIELDS = table(
    "access_protocol apply_to chap_user_id chap_user_name creation_time id initiator_group_id "
    "initiator_group_name last_modified lun pe_id pe_ids pe_lun pe_name snap_id snap_name "
    "snapluns vol_agent_type vol_id vol_name",
    "apply_to creation_time id initiator_group_id last_modified lun snap_id vol_id",
    names={"snap_name": "snap_id"},
    constants={
        "access_protocol": "iscsi",
        **each("", "pe_id pe_name"),
        **each(None, "pe_ids pe_lun snapluns"),
    },
)
_APPLY_SCOPE = {
    "volume": {"volume"},
    "snapshot": {"snapshot"},
    "both": {"volume", "snapshot"},
    "pe": {"pe"},
    "vvol_volume": {"vvol_volume"},
    "vvol_snapshot": {"vvol_snapshot"},
}


def render_acr(ctx: Ctx, d: Doc) -> Doc:
    vol = ctx.obj(d["vol_id"]) or {}
    ig_id, chap_id = d["initiator_group_id"], d.get("chap_user_id", "")
    computed = {
        "chap_user_id": chap_id,  # computed: records stored before CHAP users had none
        "chap_user_name": ctx.name_of(chap_id) if chap_id else "*" if not ig_id else "",
        "initiator_group_name": ctx.name_of(ig_id) if ig_id else "*",
        "vol_agent_type": vol.get("agent_type", "none"),
        "vol_name": vol.get("name", ""),
    }
    return ACR_FIELDS.render(ctx, d, computed)


def acr_embedded(ctx: Ctx, acr: Doc) -> Doc:
    """An access control record as volumes and snapshots list it."""
    return {**render_acr(ctx, acr), "acl_id": acr["id"]}


class AcrSet(
    ObjectSet, name="access_control_records", type="acr", fields=ACR_FIELDS, summary_keys=("id",)
):
    def render(self, ctx: Ctx, d: Doc) -> Doc:
        return render_acr(ctx, d)

    def prepare(self, ctx: Ctx) -> None:
        for obj_type in ("volume", "initiator_group", "snapshot", "chap_user"):
            ctx.preload(obj_type)

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        data = v.check_body(raw, ACR_CREATE)
        apply_to = data.get("apply_to", DEFAULT_APPLY_TO)
        if data.get("chap_user_id"):
            self.ref(ctx, data["chap_user_id"], "chap_user", "chap_user_id")
        if apply_to == "pe" or data.get("pe_id") or data.get("pe_ids"):
            if not data.get("pe_id") and not data.get("pe_ids"):
                raise SimError("SM_missing_arg", arg="pe_id")
            self.ref(ctx, data.get("pe_id") or str(data["pe_ids"][0]), "protocol_endpoint", "pe_id")
        snap = None
        if data.get("snap_id"):
            snap = self.ref(ctx, data["snap_id"], "snapshot", "snap_id")
            if data.get("vol_id") and data["vol_id"] != snap["vol_id"]:
                raise SimError("SM_invalid_arg_value", arg="snap_id", value=snap["id"])
            data["vol_id"] = snap["vol_id"]
            if "apply_to" not in data:
                apply_to = "snapshot"
        if not data.get("vol_id"):
            raise SimError("SM_missing_arg", arg="vol_id")
        vol = self.ref(ctx, data["vol_id"], "volume", "vol_id")
        if apply_to.startswith("vvol") and vol["agent_type"] != "vvol":
            raise SimError("SM_invalid_arg_value", arg="apply_to", value=apply_to)
        ig_id = data.get("initiator_group_id", "")
        if ig_id:
            self.ref(ctx, ig_id, "initiator_group", "initiator_group_id")
        for other in ctx.children("acr", vol["id"]):
            if (
                other["initiator_group_id"] == ig_id
                and other.get("snap_id", "") == (snap["id"] if snap else "")
                and _APPLY_SCOPE[other["apply_to"]] & _APPLY_SCOPE[apply_to]
            ):
                raise SimError("SM_eexist")
        snapshots_only = apply_to == "snapshot" and not snap
        doc = self.m.add(
            ctx.tx,
            "acr",
            apply_to=apply_to,
            initiator_group_id=ig_id,
            vol_id=vol["id"],
            snap_id=snap["id"] if snap else "",
            lun=None if snapshots_only else self._lun(ctx, data.get("lun"), vol),
            pe_id="",
            chap_user_id=data.get("chap_user_id", ""),
        )
        ctx.forget("acr", vol["id"])
        push_acls(ctx, [vol["id"]])
        return doc

    @staticmethod
    def _lun(ctx: Ctx, lun: int | None, vol: Doc) -> int:
        """0 on a volume-scoped target; on the group target the volume's LUN (see ``group_lun``)."""
        if (not is_group_scoped(vol) and lun not in (None, 0)) or (lun or 0) > c.MAX_GROUP_LUN:
            raise SimError("SM_invalid_arg_value", arg="lun", value=lun)
        return group_lun(ctx, vol, lun) if is_group_scoped(vol) else 0

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        ctx.tx.delete(doc["id"])
        ctx.forget("acr", doc["vol_id"])
        push_acls(ctx, [doc["vol_id"]])


def group_luns_in_use(ctx: Ctx, exclude: str) -> set[int]:
    """The LUNs the group target's other volumes hold (offline volumes keep theirs)."""
    scoped = {x["id"] for x in ctx.tx.list("volume") if is_group_scoped(x)} - {exclude}
    return {
        int(a["lun"]) for a in ctx.tx.list("acr") if a["vol_id"] in scoped and a["lun"] is not None
    }


def group_lun(ctx: Ctx, vol: Doc, wanted: int | None = None, *, reassign: bool = False) -> int:
    """The volume's LUN on the group target: the one its access records already have (one LUN
    per volume), else ``wanted`` if no other volume holds it, else the lowest free number.
    LUN 0 is the controller's (``constants.GROUP_LUN_RESERVED``): never assigned, refused.
    ``reassign`` ignores what the volume's records say (they belong to another target)."""
    own = (
        []
        if reassign
        else [a["lun"] for a in ctx.children("acr", vol["id"]) if a["lun"] is not None]
    )
    if own:
        if wanted is not None and wanted != own[0]:
            raise SimError(c.LUN_MISMATCH_CODE, vol=vol["name"], have=own[0], lun=wanted)
        return int(own[0])
    used = group_luns_in_use(ctx, vol["id"]) | {c.GROUP_LUN_RESERVED}
    if wanted is not None:
        if wanted in used:
            raise SimError(c.LUN_IN_USE_CODE, lun=wanted)
        return wanted
    free = next((n for n in range(c.MIN_GROUP_LUN, c.MAX_GROUP_LUN + 1) if n not in used), None)
    if free is None:
        raise SimError(c.NO_LUN_CODE)
    return free
