"""CHAP users (``/v1/chap_users``): the accounts initiators authenticate with.

What the array does (docs/nimble-array-facts.md, "CHAP users"): ``name`` (NsObjectName) and
``password`` (NsChapPassword: 12-16 printable ASCII characters, no space and none of
``&^[];``` and backquote) are mandatory at create; ``password`` is written, never read back;
``initiator_iqns`` (``[{"name": IQN}]``) is changed alone in its own PUT; ``vol_list`` and
``vol_count`` are the volumes whose access control records name the user. A user that an
access control record still names is not deleted, nor one whose ``initiator_iqns`` name an
initiator of an initiator group. An initiator IQN belongs to one CHAP user at
a time: giving it to a user takes it from any other ("it will be replaced by this CHAP user").
"""

from __future__ import annotations

import re
from typing import Any

from .. import validate as v
from ..constants import CHAP_USER_IN_USE_CODE
from ..errors import SimError
from ..exports import push_acls
from ..fields import table
from ..model import Ctx, ObjectSet, apply_update
from ..store import Doc
from .common import SAME_NAME

CHAP_SECRET = re.compile(r"^[!-~]{12,16}$")  # printable ASCII, no space: 12 to 16 of them
CHAP_SECRET_EXCLUDED = set("&^[];`")


def v_chap_secret(value: Any, arg: str) -> str:
    """NsChapPassword; a refused secret is never echoed in the error."""
    if (
        not isinstance(value, str)
        or not CHAP_SECRET.match(value)
        or CHAP_SECRET_EXCLUDED & set(value)
    ):
        raise v.bad(arg, "***")
    return value


def v_iqn_list(value: Any, arg: str) -> list[dict[str, str]]:
    """``[{"name": IQN}, ...]`` (NsISCSIIQN); a bare IQN string is taken as its name."""
    out = []
    for item in v.v_list(value, arg):
        iqn = item.get("name") if isinstance(item, dict) else item
        if not isinstance(iqn, str) or len(iqn) > 255 or not v.IQN.match(iqn) or iqn == "*":
            raise SimError("SM_invalid_initiator_iqn")
        out.append({"name": iqn})
    return out


CHAP_CREATE: dict[str, v.Validator] = {
    "name": v.v_str(64, v.OBJECT_NAME, allow_empty=False),
    "description": v.v_str(255),
    "password": v_chap_secret,
    "initiator_iqns": v_iqn_list,
}
CHAP_UPDATE = {**CHAP_CREATE, "id": v.v_id}
CHAP_FIELDS = table(
    "id name full_name search_name description initiator_iqns tenant_id creation_time "
    "last_modified vol_list vol_count",
    "id name description creation_time last_modified",
    same=SAME_NAME,
    or_none="initiator_iqns",
    constants={"tenant_id": ""},
)


class ChapUserSet(ObjectSet, name="chap_users", type="chap_user", fields=CHAP_FIELDS):
    def computed(self, ctx: Ctx, d: Doc) -> Doc:
        vols: dict[str, Doc] = {}
        for acr in ctx.preload("acr"):
            if acr.get("chap_user_id") == d["id"]:
                vol = ctx.obj(acr["vol_id"])
                if vol is not None:
                    vols[vol["id"]] = {"id": vol["id"], "name": vol["name"]}
        return {"vol_list": list(vols.values()) or None, "vol_count": len(vols)}

    def prepare(self, ctx: Ctx) -> None:
        for obj_type in ("acr", "volume"):
            ctx.preload(obj_type)

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        data = v.check_body(raw, CHAP_CREATE, ("name", "password"))
        self.unique(ctx, data["name"])
        _take_iqns(ctx, data.get("initiator_iqns", []), "")
        return self.m.add(
            ctx.tx,
            "chap_user",
            name=data["name"],
            description=data.get("description", ""),
            password=data["password"],
            initiator_iqns=data.get("initiator_iqns", []),
        )

    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = self.check_update(doc, raw, CHAP_UPDATE)
        if "initiator_iqns" in data and set(data) - {"initiator_iqns", "id"}:
            # "cannot be modified at the same time with other attributes" (the array's doc)
            raise SimError("SM_invalid_arg_value", arg="initiator_iqns", value="with others")
        self.rename(ctx, doc, data)
        _take_iqns(ctx, data.get("initiator_iqns", []), doc["id"])
        apply_update(doc, data, ("description", "password", "initiator_iqns"))
        self.m.save(ctx.tx, doc)
        if "password" in data:  # the targets that ask for this user learn the new secret
            vols = [a["vol_id"] for a in ctx.tx.list("acr") if a.get("chap_user_id") == doc["id"]]
            push_acls(ctx, vols)
        return doc

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        if any(a.get("chap_user_id") == doc["id"] for a in ctx.tx.list("acr")):
            raise SimError(CHAP_USER_IN_USE_CODE, name=doc["name"])
        # nor while an initiator of an initiator group is one of its initiator_iqns (HPE's Go
        # SDK test deletes the group first)
        iqns = {i["name"] for i in doc.get("initiator_iqns") or []}
        if iqns & {i.get("iqn") for i in ctx.tx.list("initiator")}:
            raise SimError(CHAP_USER_IN_USE_CODE, name=doc["name"])
        ctx.tx.delete(doc["id"])


def _take_iqns(ctx: Ctx, iqns: list[dict[str, str]], owner: str) -> None:
    """Remove ``iqns`` from every CHAP user but ``owner`` (one user per initiator)."""
    taken = {item["name"] for item in iqns}
    if not taken:
        return
    for other in ctx.tx.list("chap_user"):
        kept = [i for i in other.get("initiator_iqns") or [] if i["name"] not in taken]
        if other["id"] != owner and len(kept) != len(other.get("initiator_iqns") or []):
            other["initiator_iqns"] = kept
            ctx.model.save(ctx.tx, other)
