"""Helpers more than one family of object sets needs."""

from __future__ import annotations

from ..errors import SimError
from ..model import Ctx
from ..store import Doc, Tx

SAME_NAME = {"full_name": "name", "search_name": "name"}  # keys that repeat the object's name


def app_category(ctx: Ctx, policy_id: str) -> str:
    policy = ctx.obj(policy_id)
    cat = policy.get("app_category", "Other") if policy else "Other"
    return "Other" if cat == "Unassigned" else cat


def protection_type(ctx: Ctx, volcoll_id: str) -> str:
    """``local`` for a collection (or a volume of one) that has schedules, else
    ``unprotected`` (the simulated group has no replication partners, so never ``remote``)."""
    if volcoll_id and any(s["volcoll_id"] == volcoll_id for s in ctx.preload("prot_sched")):
        return "local"
    return "unprotected"


def clones_of(tx: Tx, snap_ids: list[str]) -> list[str]:
    return tx.ids_where("volume", "base_snap_id", snap_ids)


def state_changes(doc: Doc, online: bool, noop_is_error: bool) -> bool:
    """True when ``online`` changes the object's state; a no-op is SM_ealready if so configured."""
    if doc["online"] != online:
        return True
    if noop_is_error:
        raise SimError("SM_ealready")
    return False


def drop_emptied_snapcolls(tx: Tx, snaps: list[Doc]) -> None:
    """Delete the snapshot collections of ``snaps`` (being deleted) that keep no snapshot."""
    gone = {s["id"] for s in snaps}
    for coll_id in {s.get("snap_collection_id", "") for s in snaps} - {""}:
        if not set(tx.ids_where("snapshot", "snap_collection_id", [coll_id])) - gone:
            tx.delete(coll_id)
