"""What the data plane exports, as the model states it (the model's side of ``seam.py``).

Rules:
1. A volume-scoped volume has its own target while online (``set_online``); the target's ACL is
   the initiators of the volume's access records that apply to the volume (``set_acl``), kept
   even while offline so that onlining exports it with the right ACL.
2. The group-scoped target (the group's IQN) exports a group-scoped volume as the LUN of its
   access records while the volume is online and has a record with a LUN that applies to the
   volume; its ACL is the union of the initiators of all those records. It is stated whole with
   ``set_target`` after every change that can alter it.
3. Connections of a group-scoped volume are the sessions to the group target whose initiator
   may see the volume (an initiator logs in to the target, not to a LUN).
4. CHAP (``set_chap``): a volume-scoped target asks for the CHAP users its volume's access
   records name (those that apply to the volume), with their passwords; a target whose records
   name none asks for no CHAP. tgtd binds accounts per target, not per initiator, so while one
   record names a CHAP user every initiator logging in to that target needs one of them. The
   group target and snapshot targets ask for no CHAP (one target shared by records with and
   without CHAP cannot enforce either: docs/nimble-array-facts.md, "CHAP").
"""

from __future__ import annotations

import logging

from .model import Ctx, Model
from .naming import group_target
from .store import Doc

log = logging.getLogger("nimble-sim")

_VOLUME_APPLY = ("volume", "both")


def group_iqn(m: Model, group: Doc) -> str:
    """The group target's IQN: fixed when the group was made (a rename keeps it)."""
    return str(group.get("group_target_name") or group_target(group, m.guid))


def is_group_scoped(vol: Doc) -> bool:
    return vol.get("iscsi_target_scope") == "group"


def _acr_iqns(ctx: Ctx, acr: Doc) -> set[str]:
    if not acr["initiator_group_id"]:
        return {"*"}
    return {ini.get("iqn") or "*" for ini in ctx.children("initiator", acr["initiator_group_id"])}


def initiator_iqns(ctx: Ctx, vol_id: str, for_snapshot: bool = False) -> list[str]:
    """The initiators the volume's access records let in (``*`` = anyone)."""
    wanted = ("snapshot", "both") if for_snapshot else _VOLUME_APPLY
    iqns: set[str] = set()
    for acr in ctx.children("acr", vol_id):
        if acr["apply_to"] in wanted:
            iqns |= _acr_iqns(ctx, acr)
    return sorted(iqns)


def chap_accounts(ctx: Ctx, vol_id: str) -> dict[str, str]:
    """CHAP user name -> password of the volume's access records that apply to the volume."""
    accounts: dict[str, str] = {}
    for acr in ctx.children("acr", vol_id):
        user = ctx.obj(acr["chap_user_id"]) if acr.get("chap_user_id") else None
        if acr["apply_to"] in _VOLUME_APPLY and user is not None:
            accounts[user["name"]] = str(user.get("password") or "")
    return accounts


def _push_volume_target(ctx: Ctx, vol: Doc) -> None:
    """A volume-scoped volume's target: its ACL and CHAP accounts (rules 1 and 4)."""
    dp = ctx.model.dp
    dp.set_acl(vol["target_name"], vol["id"], initiator_iqns(ctx, vol["id"]))
    dp.set_chap(vol["target_name"], vol["id"], chap_accounts(ctx, vol["id"]))


def _exports_volume(acr: Doc) -> bool:
    return acr["lun"] is not None and acr["apply_to"] in _VOLUME_APPLY and not acr.get("snap_id")


def group_target_state(ctx: Ctx, changed: Doc | None = None) -> tuple[dict[int, str], list[str]]:
    """(LUN -> volume id, initiators) of the group target. ``changed`` is a volume modified in
    this request and not saved yet; everything else is read from the transaction."""
    luns, iqns, _ = _group_target(ctx, changed)
    return luns, iqns


def _group_target(
    ctx: Ctx, changed: Doc | None = None
) -> tuple[dict[int, str], list[str], dict[str, str]]:
    """``group_target_state`` and the serial of each volume it exports."""
    # Only the volumes of records that export one are read: a create in a pool of thousands of
    # volumes without access records reads none of them.
    acrs = [acr for acr in ctx.tx.list("acr") if _exports_volume(acr)]
    vols: dict[str, Doc | None] = {}
    for vol_id in dict.fromkeys(acr["vol_id"] for acr in acrs):
        vols[vol_id] = ctx.tx.get(vol_id)
    if changed is not None:
        vols[changed["id"]] = changed
    luns: dict[int, str] = {}
    iqns: set[str] = set()
    serials: dict[str, str] = {}
    for acr in acrs:
        vol = vols.get(acr["vol_id"])
        if vol is None or vol["type"] != "volume" or not is_group_scoped(vol) or not vol["online"]:
            continue
        luns[int(acr["lun"])] = vol["id"]
        serials[vol["id"]] = str(vol.get("serial_number") or "")
        iqns |= _acr_iqns(ctx, acr)
    return luns, sorted(iqns), serials


def push_group_target(ctx: Ctx, changed: Doc | None = None) -> None:
    luns, iqns, serials = _group_target(ctx, changed)
    ctx.model.dp.set_target(group_iqn(ctx.model, ctx.group), luns, iqns, serials)


def _serial(vol: Doc) -> str:
    return str(vol.get("serial_number") or "")


def _push_snapshot_acls(ctx: Ctx, vol_id: str) -> None:
    snap_iqns = initiator_iqns(ctx, vol_id, for_snapshot=True)
    for snap in ctx.children("snapshot", vol_id):
        if snap.get("online"):
            ctx.model.dp.set_acl(snap["target_name"], snap["id"], snap_iqns)


def push_acls(ctx: Ctx, vol_ids: list[str]) -> None:
    """The volumes' access records changed: update their targets' ACLs (the group target once)."""
    group = False
    for vol_id in dict.fromkeys(vol_ids):
        vol = ctx.obj(vol_id)
        if vol is None:
            continue
        if is_group_scoped(vol):
            group = True
        else:
            _push_volume_target(ctx, vol)
        _push_snapshot_acls(ctx, vol_id)
    if group:
        push_group_target(ctx)


def export_volume(ctx: Ctx, vol: Doc) -> None:
    """Export a volume as the model has it (a new volume, a changed scope, a replay)."""
    if is_group_scoped(vol):
        push_group_target(ctx, vol)
        return
    _push_volume_target(ctx, vol)
    if vol["online"]:
        ctx.model.dp.set_online(vol["target_name"], vol["id"], True, _serial(vol))


def set_volume_online(ctx: Ctx, vol: Doc, online: bool) -> None:
    if is_group_scoped(vol):
        push_group_target(ctx, vol)
    else:
        ctx.model.dp.set_online(vol["target_name"], vol["id"], online, _serial(vol))


def unexport_volume(ctx: Ctx, vol: Doc, old_scope: str) -> None:
    """Take the volume off the target of ``old_scope`` (its scope is changing)."""
    if old_scope == "group":
        push_group_target(ctx, vol)
    elif vol["online"]:
        ctx.model.dp.set_online(vol["target_name"], vol["id"], False, _serial(vol))


def connections(ctx: Ctx, vol: Doc) -> int:
    m = ctx.model
    if not is_group_scoped(vol):
        reported = m.dp.connections(vol["target_name"])
        return int(reported) if reported is not None else int(vol.get("connections", 0))
    names = m.dp.sessions(group_iqn(m, ctx.group))
    if names is None:
        return int(vol.get("connections", 0))
    if not vol["online"] or not any(_exports_volume(a) for a in ctx.children("acr", vol["id"])):
        return 0
    allowed = set(initiator_iqns(ctx, vol["id"]))
    return sum(1 for name in names if "*" in allowed or name in allowed)


def replay(m: Model) -> None:
    """Re-export what is online (a restarted data plane starts with no targets)."""
    with m.store.read() as tx:
        ctx = m.ctx(tx)
        for vol in ctx.preload("volume"):
            if not vol["online"] or is_group_scoped(vol):
                continue
            try:
                export_volume(ctx, vol)
            except Exception as exc:
                log.warning("data plane: cannot bring %s online: %s", vol["name"], exc)
        try:
            luns, iqns, serials = _group_target(ctx)
            if luns:  # a restarted data plane has no group target to remove
                m.dp.set_target(group_iqn(m, ctx.group), luns, iqns, serials)
        except Exception as exc:
            log.warning("data plane: cannot export the group target: %s", exc)
