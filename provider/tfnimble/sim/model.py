"""The array's domain rules, independent of HTTP: the model, its transaction context, the
object-set base and honest space accounting. The object sets themselves live in ``sets/``.

Rules (what HPE's REST reference and SDKs say of the object sets; docs/nimble-array-facts.md):
1. IDs are 42 hex digits: 2-hex type prefix, 16-hex group uid, 16 zeros, 8-hex per-type sequence.
2. Volume names are unique per group, snapshot names per volume, initiator-group names per group.
3. A volume is deleted only when offline, without clones and without online snapshots; its
   offline snapshots and access control records go with it.
4. Space is honest: a clone shares its base snapshot's blocks, so it uses nothing until written.
   Per volume the store keeps ``written_bytes`` (data unique to the volume's current image) and
   ``shared_bytes`` (the part of it still shared with its newest snapshot); each snapshot keeps
   ``unique_bytes`` (data it alone holds because the volume overwrote it). Reservations
   (``reserve`` and ``snap_reserve`` percent of size) are held back from free space and must fit.
   The pool's totals are sums over a ledger with one row per volume (``space.py``), so a
   create costs the same with 20 volumes as with 20,000.
5. Every mutation runs in one write transaction, and data-plane calls run inside it: a failing
   data-plane call rolls the records back (the client gets a 500), but the data-plane steps that
   already succeeded in that request are not undone (see ``seam.py``).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import space
from . import validate as v
from .constants import (
    DEFAULT_GROUP_NAME,
    DEFAULT_ISCSI_TARGET_SCOPE,
    DEFAULT_POOL_CAPACITY,
    MIB,
    PREFIX,
    TARGET_SCOPES,
)
from .errors import ProtocolError, SimError
from .fields import Fields
from .naming import group_target, make_id
from .seam import DataPlane, NullDataPlane
from .space import total_reserved, vol_reserved
from .store import Doc, Store, Tx

__all__ = [
    "Config",
    "Ctx",
    "DataPlane",
    "Model",
    "NullDataPlane",
    "ObjectSet",
    "apply_update",
    "now",
    "total_reserved",
    "vol_reserved",
]

log = logging.getLogger("nimble-sim")


SCHEDULER_RETRY = 60.0  # seconds before a failed scheduler run is tried again


def now() -> int:
    return int(time.time())


@dataclass
class Config:
    group_name: str = DEFAULT_GROUP_NAME
    pool_capacity: int = DEFAULT_POOL_CAPACITY
    iscsi_portal_ip: str = "127.0.0.1"
    iscsi_portal_port: int = 3260
    mgmt_ip: str = "127.0.0.1"
    session_timeout: int | None = None  # when set, overrides the group's user_inactivity_timeout
    username: str = "admin"
    password: str = "admin"
    # The scope the group gives new volumes ("group" or "volume"); group-scoped targets are on
    # either way. A change of this setting between starts is applied to the group.
    target_scope: str = DEFAULT_ISCSI_TARGET_SCOPE

    def __post_init__(self) -> None:
        if self.target_scope not in TARGET_SCOPES:
            raise ValueError(
                f"target_scope must be one of {', '.join(TARGET_SCOPES)}, not {self.target_scope!r}"
            )


class Ctx:
    """Per-request lookup cache for rendering; ``preload`` makes list rendering O(n)."""

    def __init__(self, tx: Tx, model: Model) -> None:
        self.tx = tx
        self.model = model
        self._objs: dict[str, Doc | None] = {}
        self._by_scope: dict[tuple[str, str], list[Doc]] = {}
        self._preloaded: set[str] = set()
        self._lists: dict[str, list[Doc]] = {}
        self.group = model.group_doc(tx)

    def obj(self, obj_id: str) -> Doc | None:
        if not obj_id:
            return None
        if obj_id not in self._objs:
            self._objs[obj_id] = self.tx.get(obj_id)
        return self._objs[obj_id]

    def remember(self, doc: Doc) -> None:
        """Cache a document created in this transaction."""
        self._objs[doc["id"]] = doc

    def name_of(self, obj_id: str) -> str:
        doc = self.obj(obj_id)
        return doc.get("name", "") if doc else ""

    def preload(self, obj_type: str) -> list[Doc]:
        """All objects of a type, loaded once per context (contexts live for one request)."""
        if obj_type in self._lists:
            return self._lists[obj_type]
        docs = self.tx.list(obj_type)
        self._lists[obj_type] = docs
        for d in docs:
            self._objs[d["id"]] = d
        self._preloaded.add(obj_type)
        for key in [k for k in self._by_scope if k[0] == obj_type]:
            del self._by_scope[key]
        for d in docs:
            self._by_scope.setdefault((obj_type, _scope_of(d)), []).append(d)
        return docs

    def forget(self, obj_type: str, scope: str | None = None) -> None:
        """Drop cached lookups after a change inside the same transaction."""
        self._lists.pop(obj_type, None)
        self._preloaded.discard(obj_type)
        for key in [k for k in self._by_scope if k[0] == obj_type]:
            if scope is None or key[1] == scope:
                del self._by_scope[key]

    def children(self, obj_type: str, scope: str) -> list[Doc]:
        if obj_type in self._preloaded:
            return self._by_scope.get((obj_type, scope), [])
        key = (obj_type, scope)
        if key not in self._by_scope:
            self._by_scope[key] = self.tx.list(obj_type, scope)
            for d in self._by_scope[key]:
                self._objs[d["id"]] = d
        return self._by_scope[key]


def _scope_of(doc: Doc) -> str:
    t = doc["type"]
    if t == "snapshot" or t == "acr":
        return str(doc["vol_id"])
    if t == "initiator":
        return str(doc["initiator_group_id"])
    if t in ("prot_sched", "snapcoll"):  # names unique per volume collection (or template)
        return str(doc["volcoll_id"])
    return ""


def _name_of(doc: Doc) -> str | None:
    t = doc["type"]
    if t == "acr":
        return None
    if t == "initiator":
        return str(doc["label"])
    if t == "token":
        return str(doc["session_token"])
    return str(doc["name"])


class Model:
    def __init__(
        self,
        store: Store,
        config: Config,
        data_plane: DataPlane | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # The sets import this module for ObjectSet and Ctx, so they are imported here.
        from .sets import SET_CLASSES
        from .sets.catalog import seed_catalog
        from .sets.inventory import create_inventory

        self.store = store
        self.config = config
        self.dp: DataPlane = data_plane or NullDataPlane()
        self._base_clock = clock
        self._clock_offset = 0.0  # seconds /sim/clock moved the clock on (kept in SQLite)
        self._next_due: float | None = None  # when a schedule fires next (None: find out)
        self._sched_lock = threading.Lock()
        self._activity: dict[str, float] = {}
        self._activity_lock = threading.Lock()
        self._sessions_expired_before = 0.0
        self._started = clock()
        self.guid = ""
        self.sets: dict[str, ObjectSet] = {cls.name: cls(self) for cls in SET_CLASSES}
        self.store.before_commit.append(space.settle)
        with self.store.write() as tx:
            guid = tx.meta("group_uid")
            if guid is None:
                guid = secrets.token_hex(8)
                tx.set_meta("group_uid", guid)
                tx.set_meta("created", str(int(clock())))
            self.guid = guid
            self._clock_offset = float(tx.meta("clock_offset") or 0)
            if not tx.list("group"):
                create_inventory(self, tx)
            seed_catalog(self, tx)
            group = tx.list("group")[0]
            if config.group_name != DEFAULT_GROUP_NAME and group["name"] != config.group_name:
                group["name"] = config.group_name
                self.save(tx, group)
            if config.session_timeout is not None:
                group["user_inactivity_timeout"] = config.session_timeout
                self.save(tx, group)
            if not group.get("group_target_name"):
                group["group_target_name"] = group_target(group, guid)
                self.save(tx, group)
            space.ensure_ledger(tx)
            if tx.meta("target_scope") != config.target_scope:
                tx.set_meta("target_scope", config.target_scope)
                group["group_target_enabled"] = True
                group["default_iscsi_target_scope"] = config.target_scope
                self.save(tx, group)

    def clock(self) -> float:
        """The array's time: the injected clock plus what /sim/clock advanced it by."""
        return self._base_clock() + self._clock_offset

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the clock on (tests do, instead of waiting) and run what fell due."""
        with self.store.write() as tx:
            self._clock_offset += seconds
            tx.set_meta("clock_offset", repr(self._clock_offset))
        return {"now": int(self.clock()), "snapshots_taken": self.run_schedules()}

    def schedules_changed(self) -> None:
        self._next_due = None

    def run_schedules(self) -> int:
        """Take the snapshots of every protection schedule due by now (cheap when none is)."""
        from .sets.protection_schedules import run_due

        now = self.clock()
        with self._sched_lock:
            if self._next_due is not None and now < self._next_due:
                return 0
            try:
                taken, nxt = run_due(self, now)
            except Exception:
                # the scheduler failing never fails a client's request; it tries again later
                log.exception("protection schedules could not run")
                self._next_due = now + SCHEDULER_RETRY
                return 0
            self._next_due = float("inf") if nxt is None else float(nxt)
        return taken

    # ----- persistence helpers -------------------------------------------------------------
    def save(self, tx: Tx, doc: Doc) -> None:
        doc["last_modified"] = int(self.clock())
        tx.put(doc, scope=_scope_of(doc), name=_name_of(doc))

    def new_doc(self, tx: Tx, obj_type: str, **fields: Any) -> Doc:
        obj_id = make_id(PREFIX[obj_type], self.guid, tx.next_seq(obj_type))
        t = int(self.clock())
        doc: Doc = {"id": obj_id, "type": obj_type, "creation_time": t, "last_modified": t}
        doc.update(fields)
        return doc

    def add(self, tx: Tx, obj_type: str, **fields: Any) -> Doc:
        """Create and save a new document."""
        doc = self.new_doc(tx, obj_type, **fields)
        self.save(tx, doc)
        return doc

    def replay_data_plane(self) -> None:
        """Re-export what is online (a restarted data plane starts with no targets)."""
        from .exports import replay

        replay(self)

    def group_doc(self, tx: Tx) -> Doc:
        return tx.list("group")[0]

    def ctx(self, tx: Tx) -> Ctx:
        return Ctx(tx, self)

    # ----- sessions ------------------------------------------------------------------------
    def authenticate(self, token: str | None) -> Doc | None:
        """Return the session for ``token`` and mark it active, or None when invalid/expired."""
        if not token:
            return None
        with self.store.read() as tx:
            doc = tx.by_name("token", token)
            if doc is None:
                return None
            timeout = self.group_doc(tx)["user_inactivity_timeout"]
        t = self.clock()
        with self._activity_lock:
            last = self._last_activity(doc)
            if last <= self._sessions_expired_before or t - last > timeout:
                return None
            self._activity[doc["id"]] = t
        doc["_expiry"] = int(t + timeout)
        return doc

    def _last_activity(self, doc: Doc) -> float:
        return self._activity.get(doc["id"], max(float(doc["creation_time"]), self._started))

    def expire_sessions(self) -> int:
        with self._activity_lock:
            self._sessions_expired_before = self.clock()
            self._activity.clear()
        with self.store.read() as tx:
            return tx.count("token")

    def token_expiry(self, doc: Doc, timeout: int) -> int:
        with self._activity_lock:
            last = self._last_activity(doc)
            if last <= self._sessions_expired_before:
                return 0
        return int(last + timeout)

    def mark_active(self, token_id: str) -> None:
        with self._activity_lock:
            self._activity[token_id] = self.clock()

    def object_set(self, name: str) -> ObjectSet | None:
        return self.sets.get(name)

    # ----- sim admin -----------------------------------------------------------------------
    def sim_write(self, vol_id: str, nbytes: int, overwrite: bool) -> Doc:
        with self.store.write() as tx:
            vol = self.sets["volumes"].load(tx, vol_id)
            ctx = self.ctx(tx)
            if overwrite:
                snaps = ctx.children("snapshot", vol_id)
                newest = max(snaps, key=lambda s: s["id"]) if snaps else None
                moved = min(nbytes, vol.get("shared_bytes", 0)) if newest else 0
                self.need_space(ctx, moved)
                if newest is not None and moved:
                    vol["shared_bytes"] -= moved
                    newest["unique_bytes"] = newest.get("unique_bytes", 0) + moved
                    self.save(tx, newest)
            else:
                add = min(nbytes, vol["size"] * MIB - vol.get("written_bytes", 0))
                own_free = max(0, vol_reserved(vol) - vol.get("written_bytes", 0))
                self.need_space(ctx, max(0, add - own_free))
                vol["written_bytes"] = vol.get("written_bytes", 0) + add
            self.save(tx, vol)
            return self.sets["volumes"].render(self.ctx(tx), vol)

    def sim_connections(self, vol_id: str, count: int | None) -> Doc:
        with self.store.write() if count is not None else self.store.read() as tx:
            vol = self.sets["volumes"].load(tx, vol_id)
            if count is not None:
                vol["connections"] = count
                self.save(tx, vol)
            conns = self.connections(self.ctx(tx), vol)
            return {"id": vol_id, "name": vol["name"], "connections": conns}

    # ----- space ---------------------------------------------------------------------------
    def connections(self, ctx: Ctx, vol: Doc) -> int:
        from .exports import connections

        return connections(ctx, vol)

    def vol_usage(self, vol: Doc) -> int:
        # A volume is charged for every block it maps, including blocks its own snapshots
        # (and their clones) share; a clone only for what it wrote. So an image master and
        # its snapshot count once, and 20 clones of it count nothing until written.
        reported = self.dp.usage(vol["id"], owns_shared=not vol.get("clone"))
        return int(reported) if reported is not None else int(vol.get("written_bytes", 0))

    def snap_usage(self, snap: Doc) -> int:
        reported = self.dp.usage(snap["id"])
        return int(reported) if reported is not None else int(snap.get("unique_bytes", 0))

    def space(self, ctx: Ctx) -> dict[str, int]:
        """The pool's space: the ledger's sums (rule 4), or, when a data plane reports usage
        out of band, a recount over every volume and snapshot (see ``space``)."""
        if not isinstance(self.dp, NullDataPlane):
            return space.recount(self, ctx)
        if ctx.tx.changed:
            space.settle(ctx.tx)  # this transaction's own writes count, as in a recount
        return space.pool_space(self.config.pool_capacity, ctx.tx.space_totals())

    def need_space(self, ctx: Ctx, nbytes: int) -> None:
        if nbytes > 0 and nbytes > self.space(ctx)["free_space"]:
            raise SimError("SM_enospc")


PRELOAD_ABOVE = 32  # rendering more objects than this loads related sets whole, not per object


class ObjectSet:
    """One REST collection (``/v1/<name>``) over the stored documents of one ``type``.

    Rendering walks the set's declared ``fields`` table; a set computes only the keys the table
    leaves to it (``computed``). Writes run inside a write transaction.
    """

    name = ""
    type = ""
    fields: Fields
    summary_keys: tuple[str, ...] = ("id", "name")
    # True when the set's object URLs take a key of its own (``load`` finds it), not an ID
    path_key = False

    def __init_subclass__(
        cls,
        *,
        name: str,
        type: str,
        fields: Fields,
        summary_keys: tuple[str, ...] = ("id", "name"),
    ) -> None:
        """``class VolumeSet(ObjectSet, name="volumes", type="volume", fields=...)``: the REST
        collection, the stored type and the render table."""
        super().__init_subclass__()
        cls.name, cls.type, cls.fields, cls.summary_keys = name, type, fields, summary_keys

    def __init__(self, model: Model) -> None:
        self.m = model

    # reading
    def load(self, tx: Tx, obj_id: str) -> Doc:
        doc = tx.get(obj_id)
        if doc is None or doc["type"] != self.type:
            raise SimError("SM_enoent", id=obj_id)
        return doc

    def docs(self, ctx: Ctx) -> list[Doc]:
        return ctx.preload(self.type)

    def render(self, ctx: Ctx, doc: Doc) -> Doc:
        return self.fields.render(ctx, doc, self.computed(ctx, doc))

    def computed(self, ctx: Ctx, doc: Doc) -> Doc:
        """The keys of ``fields.computed`` for one object."""
        return {}

    @property
    def raw_fields(self) -> frozenset[str]:
        """Stored fields whose value is also the rendered value: lists may filter, sort and page
        on them before rendering, so a lookup by name or a small page renders only what it
        returns."""
        return self.fields.stored

    def prepare(self, ctx: Ctx) -> None:
        """Preload what rendering many objects needs."""

    def render_all(self, ctx: Ctx, docs: list[Doc] | None = None) -> list[Doc]:
        if docs is None or len(docs) > PRELOAD_ABOVE:
            self.prepare(ctx)
        return [self.render(ctx, d) for d in (self.docs(ctx) if docs is None else docs)]

    def known_fields(self) -> list[str]:
        return list(self.fields.order)

    def check_list_filter(self, params: dict[str, str], has_criteria: bool) -> None:
        return None

    # writing; each runs inside a write transaction
    def create(self, ctx: Ctx, data: dict[str, Any]) -> Doc:
        raise ProtocolError(405)

    def update(self, ctx: Ctx, doc: Doc, data: dict[str, Any], force: bool) -> Doc:
        raise ProtocolError(405)

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        raise ProtocolError(405)

    def action(self, ctx: Ctx, doc: Doc | None, action: str, data: dict[str, Any]) -> Any:
        raise ProtocolError(404)

    def unique(self, ctx: Ctx, name: str, scope: str = "", exclude: str | None = None) -> None:
        other = ctx.tx.by_name(self.type, name, scope)
        if other is not None and other["id"] != exclude:
            raise SimError("SM_eexist", name=name)

    def ref(self, ctx: Ctx, obj_id: str, obj_type: str, arg: str) -> Doc:
        doc = ctx.obj(obj_id)
        if doc is None or doc["type"] != obj_type:
            raise SimError("SM_enoent", arg=arg, id=obj_id)
        return doc

    @staticmethod
    def check_update(
        doc: Doc,
        raw: dict[str, Any],
        spec: Mapping[str, v.Validator],
        mandatory: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Validate an update (or action) body; its ``id``, if given, must be the object's."""
        data = v.check_body(raw, spec, mandatory)
        if data.get("id") and data["id"] != doc["id"]:
            raise SimError("SM_invalid_arg_value", arg="id", value=data["id"])
        return data

    def rename(self, ctx: Ctx, doc: Doc, data: dict[str, Any], scope: str = "") -> None:
        """Take ``data["name"]`` if it is given, new, and unique in ``scope``."""
        if "name" in data and data["name"] != doc["name"]:
            self.unique(ctx, data["name"], scope=scope, exclude=doc["id"])
            doc["name"] = data["name"]


def apply_update(doc: Doc, data: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Copy the ``keys`` that ``data`` carries; metadata merges key by key."""
    for key in keys:
        if key in data:
            doc[key] = merge_metadata(doc[key], data[key]) if key == "metadata" else data[key]


def merge_metadata(old: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    merged = {item["key"]: item["value"] for item in old}
    for item in new:
        if item["value"] == "":
            merged.pop(item["key"], None)
        else:
            merged[item["key"]] = item["value"]
    return [{"key": k, "value": val} for k, val in merged.items()]
