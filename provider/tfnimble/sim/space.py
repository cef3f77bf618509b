"""The pool's space, kept as a ledger: one row per volume family (a volume and its snapshots).

Rules:
1. A family's row holds what it adds to the pool's totals (``store.SPACE_COLUMNS``): the
   volume's usage, its snapshots' usage, its reservations, the unused part of them, and the
   counts. Rows hold the model's own numbers (``written_bytes``, ``unique_bytes``).
2. Every write transaction recomputes, just before it commits, the rows of the families whose
   volume or snapshots it put or deleted (``settle``, a ``Store.before_commit`` hook). So the
   ledger commits with the objects, and a create costs the same whatever the pool holds.
3. The pool's totals are the sums of the rows. They equal ``recount`` (the same numbers summed
   over every object) at all times: tests/sim/test_sim_space_ledger.py pins it.
4. A data plane reports usage out of band (its files change under iSCSI writes); then the
   numbers are a ``recount`` with the data plane's readings, as before the ledger.
5. A state written before the ledger (no ``space_ledger`` meta key of this version) is rebuilt
   from every stored object when the model starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .constants import MIB
from .store import SPACE_COLUMNS, Doc, Tx

if TYPE_CHECKING:
    from .model import Ctx, Model

#: The version of the ledger's rows; a state without it (or with another) is rebuilt (rule 5).
LEDGER_VERSION = "1"


def vol_reserved(vol: Doc) -> int:
    """Bytes the volume's own ``reserve`` holds back."""
    return int(vol.get("reserve", 0)) * int(vol["size"]) * MIB // 100


def snap_reserved(vol: Doc) -> int:
    """Bytes the volume's ``snap_reserve`` holds back for its snapshots."""
    return int(vol.get("snap_reserve", 0)) * int(vol["size"]) * MIB // 100


def total_reserved(vol: Doc) -> int:
    """Bytes the volume's ``reserve`` and ``snap_reserve`` hold back together."""
    return vol_reserved(vol) + snap_reserved(vol)


def own_vol_usage(vol: Doc) -> int:
    """The model's own count of a volume's usage (rule 1)."""
    return int(vol.get("written_bytes", 0))


def own_snap_usage(snap: Doc) -> int:
    return int(snap.get("unique_bytes", 0))


def family_space(
    vol: Doc | None,
    snaps: list[Doc],
    vol_usage: Callable[[Doc], int] = own_vol_usage,
    snap_usage: Callable[[Doc], int] = own_snap_usage,
) -> tuple[int, ...]:
    """One family's share of the pool in ``SPACE_COLUMNS`` order; a ``None`` volume stands for
    snapshots whose volume is gone."""
    snap_used = sum(snap_usage(s) for s in snaps)
    if vol is None:
        return (0, snap_used, 0, 0, 0, len(snaps))
    vol_used = vol_usage(vol)
    r_vol, r_snap = vol_reserved(vol), snap_reserved(vol)
    unused = max(0, r_vol - vol_used) + max(0, r_snap - snap_used)
    return (vol_used, snap_used, r_vol + r_snap, unused, 1, len(snaps))


def pool_space(capacity: int, totals: Mapping[str, int]) -> dict[str, int]:
    """The pool's space figures from the summed family rows."""
    usage = totals["vol_used"] + totals["snap_used"]
    return {
        "capacity": capacity,
        "usage": usage,
        "vol_usage": totals["vol_used"],
        "snap_usage": totals["snap_used"],
        "reserve": totals["reserve"],
        "unused_reserve": totals["unused"],
        "free_space": max(0, capacity - usage - totals["unused"]),
        "vol_count": totals["vols"],
        "snap_count": totals["snaps"],
    }


def recount(model: Model, ctx: Ctx) -> dict[str, int]:
    """The pool's space summed over every volume and snapshot, with the model's usage
    readings (those of the data plane where it reports them)."""
    by_vol: dict[str, list[Doc]] = {}
    for snap in ctx.preload("snapshot"):
        by_vol.setdefault(snap["vol_id"], []).append(snap)
    rows = [
        family_space(vol, by_vol.pop(vol["id"], []), model.vol_usage, model.snap_usage)
        for vol in ctx.preload("volume")
    ]
    rows += [family_space(None, o, model.vol_usage, model.snap_usage) for o in by_vol.values()]
    totals = {key: sum(row[i] for row in rows) for i, key in enumerate(SPACE_COLUMNS)}
    return pool_space(model.config.pool_capacity, totals)


def settle(tx: Tx) -> None:
    """Rule 2: recompute the rows of the families this transaction touched."""
    families = {
        obj_id if obj_type == "volume" else scope
        for obj_type, obj_id, scope in tx.changed
        if obj_type in ("volume", "snapshot")
    }
    tx.changed.clear()
    for family in families:
        _store_family(tx, family)


def _store_family(tx: Tx, family: str) -> None:
    vol = tx.get(family)
    if vol is not None and vol["type"] != "volume":
        vol = None
    snaps = tx.list("snapshot", family)
    tx.set_space(family, family_space(vol, snaps) if vol is not None or snaps else None)


def ensure_ledger(tx: Tx) -> None:
    """Rule 5: rebuild the ledger from every stored object unless it is of this version."""
    if tx.meta("space_ledger") == LEDGER_VERSION:
        return
    tx.clear_space()
    for family in set(tx.ids("volume")) | {s["vol_id"] for s in tx.list("snapshot")}:
        _store_family(tx, family)
    tx.set_meta("space_ledger", LEDGER_VERSION)
