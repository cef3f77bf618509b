"""The array's domain rules, independent of HTTP.

Rules (nimble-api.md sections 4 and 5):
1. IDs are 42 hex digits: 2-hex type prefix, 16-hex group uid, 16 zeros, 8-hex per-type sequence.
2. Volume names are unique per group, snapshot names per volume, initiator-group names per group.
3. A volume is deleted only when offline, without clones and without online snapshots; its
   offline snapshots and access control records go with it.
4. Space is honest: a clone shares its base snapshot's blocks, so it uses nothing until written.
   Per volume the store keeps ``written_bytes`` (data unique to the volume's current image) and
   ``shared_bytes`` (the part of it still shared with its newest snapshot); each snapshot keeps
   ``unique_bytes`` (data it alone holds because the volume overwrote it). Reservations
   (``reserve`` and ``snap_reserve`` percent of size) are held back from free space and must fit.
5. Every mutation runs in one write transaction; data-plane calls run inside it, so a failing data
   plane rolls the change back.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import validate as v
from .errors import ProtocolError, SimError
from .store import Doc, Store, Tx

log = logging.getLogger("nimble-sim")

MIB = 1 << 20
GIB = 1 << 30
TIB = 1 << 40

# Type prefixes. 00/03/06/09/0a/0d are seen on real arrays or HPE examples (nimble-api.md 4.0);
# the others are open question 7: our choices, one constant each.
PREFIX = {
    "group": "00",
    "initiator_group": "02",  # open question: chosen
    "perfpolicy": "03",
    "snapshot": "04",  # open question: chosen
    "volume": "06",
    "array": "09",
    "pool": "0a",
    "acr": "0d",  # seen only in HPE's mock
    "initiator": "0e",  # open question: chosen
    "netconfig": "17",  # open question: chosen
    "token": "19",  # open question: the Proxmox plugin reports token ids beginning 19
    "subnet": "1a",  # open question: chosen
    "job": "1c",  # open question: chosen
}
TYPE_OF_PREFIX = {p: t for t, p in PREFIX.items()}

SOFTWARE_VERSION = "6.1.2.300-1059937-opt"  # a plausible NimbleOS 6.1 string (Cinder splits on ".")
IQN_PREFIX = "iqn.2007-11.com.nimblestorage"
# Volume-scoped target IQN, as on real arrays (nimble-api.md 4.2, verified captures):
# <name>-v<group uid>.<last 8 hex of the volume id>.<last 4 serial bytes, reversed>.
VOLUME_TARGET_FORMAT = "{prefix}:{name}-v{guid}.{seq}.{serial_tail}"
# Open question: online snapshots get their own target; ours adds the snapshot name.
SNAPSHOT_TARGET_FORMAT = "{prefix}:{vol}-{name}-v{guid}.{seq}.{serial_tail}"
GROUP_TARGET_FORMAT = "{prefix}:{group}-g{guid}"
NIMBLE_OUI = "6c9ce900"  # IEEE OUI 6C:9C:E9 plus 00, in every Nimble serial number
DEFAULT_POOL_CAPACITY = 10 * TIB
DEFAULT_GROUP_NAME = "group-sim"
ARRAY_NAME_SUFFIX = "-a1"  # the array is named after the group: "<group>-a1"
ARRAY_MODEL = "AF40"
MAX_VOLUME_SIZE_MIB = 128 * 1024 * 1024  # 128 TiB, NimbleOS's largest volume
# Open question: the scope new volumes get. "volume" gives each volume its own target IQN, which
# is what iSCSI initiators (and the data plane's tgtd) address; the group may switch to "group".
DEFAULT_ISCSI_TARGET_SCOPE = "volume"
# Open question 9: a rename keeps the target IQN (renaming must not break iSCSI sessions).
TARGET_NAME_FOLLOWS_RENAME = False
# Open question 4: snapshot "size" is bytes, as HPE's generated spec says.
SNAPSHOT_SIZE_IN_BYTES = True
# Open question 11: onlining an online volume (or offlining an offline one) is a no-op; for
# snapshots it is SM_ealready, which Cinder tolerates explicitly.
VOLUME_STATE_NOOP_IS_ERROR = False
SNAPSHOT_STATE_NOOP_IS_ERROR = True
# Open question 3: an online volume delete answers SM_eperm; an online snapshot delete likewise.
ONLINE_DELETE_CODE = "SM_eperm"
# Open question 12: an initiator group referenced by access control records cannot be deleted.
IG_IN_USE_CODE = "SM_ebusy"
# Open question 10: apply_to defaults to "both"; lun 0 for volume-scoped iSCSI targets.
DEFAULT_APPLY_TO = "both"
# nimble-api.md section 2 (M): some firmware refuses an unfiltered snapshot list.
SNAPSHOT_LIST_NEEDS_FILTER = True
SNAPSHOT_LIST_FILTERS = ("vol_id", "vol_name", "serial_number", "app_uuid", "id")
# A clone inherits its parent's ACLs when both have agent_type "none" (HPE create description).
CLONE_INHERITS_ACL = True

PREDEFINED_POLICIES: list[tuple[str, int, str, str]] = [
    # name, block size, app_category, description
    ("default", 4096, "Unassigned", "Default performance policy"),
    ("Windows File Server", 4096, "File Server", "Windows File Server"),
    ("SQL Server", 8192, "DB", "SQL Server data files"),
    ("SQL Server Logs", 4096, "DB", "SQL Server log files"),
    ("Oracle OLTP", 8192, "DB", "Oracle OLTP data"),
    ("VMware ESX", 4096, "Virtual Server", "VMware ESX datastores"),
    ("Exchange 2010 data store", 32768, "Exchange", "Exchange 2010 data store"),
    ("Other Workloads", 4096, "Other", "Other workloads"),
]


def _words(text: str) -> list[str]:
    return text.split()


def make_id(prefix: str, guid: str, seq: int) -> str:
    return f"{prefix}{guid}{'0' * 16}{seq:08x}"


def now() -> int:
    return int(time.time())


class DataPlane(Protocol):
    """The seam to a real data plane (backing files, iSCSI targets).

    The model calls it inside the write transaction, after the rules have passed and before the
    commit; an exception rolls the change back and the client gets a 500. ``object_id`` is a
    volume or snapshot id. ``usage`` and ``connections`` are called while rendering objects, so
    they must be cheap (cache); ``None`` means "no opinion, use the model's own numbers".
    """

    def create_volume(self, vol_id: str, size_bytes: int) -> None: ...
    def snapshot(self, vol_id: str, snap_id: str) -> None: ...
    def clone(self, snap_id: str, vol_id: str, size_bytes: int) -> None: ...
    def restore(self, vol_id: str, snap_id: str) -> None: ...
    def resize(self, vol_id: str, size_bytes: int) -> None: ...
    def delete(self, object_id: str) -> None: ...
    def set_online(self, target_name: str, object_id: str, online: bool) -> None: ...
    def set_acl(self, target_name: str, object_id: str, initiator_iqns: list[str]) -> None: ...
    def usage(self, object_id: str, *, owns_shared: bool = False) -> int | None: ...
    def connections(self, target_name: str) -> int | None: ...
    def close(self) -> None: ...


class NullDataPlane:
    """No data plane: volumes exist only as records."""

    def create_volume(self, vol_id: str, size_bytes: int) -> None:
        pass

    def snapshot(self, vol_id: str, snap_id: str) -> None:
        pass

    def clone(self, snap_id: str, vol_id: str, size_bytes: int) -> None:
        pass

    def restore(self, vol_id: str, snap_id: str) -> None:
        pass

    def resize(self, vol_id: str, size_bytes: int) -> None:
        pass

    def delete(self, object_id: str) -> None:
        pass

    def set_online(self, target_name: str, object_id: str, online: bool) -> None:
        pass

    def set_acl(self, target_name: str, object_id: str, initiator_iqns: list[str]) -> None:
        pass

    def usage(self, object_id: str, *, owns_shared: bool = False) -> int | None:
        return None

    def connections(self, target_name: str) -> int | None:
        return None

    def close(self) -> None:
        pass


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
        self.store = store
        self.config = config
        self.dp: DataPlane = data_plane or NullDataPlane()
        self.clock = clock
        self._activity: dict[str, float] = {}
        self._activity_lock = threading.Lock()
        self._sessions_expired_before = 0.0
        self._started = clock()
        self.guid = ""
        self.sets: dict[str, ObjectSet] = {}
        for cls in (
            VolumeSet,
            SnapshotSet,
            InitiatorGroupSet,
            InitiatorSet,
            AcrSet,
            PoolSet,
            PerfPolicySet,
            GroupSet,
            ArraySet,
            NetworkConfigSet,
            SubnetSet,
            JobSet,
            TokenSet,
        ):
            self.sets[cls.name] = cls(self)
        self._bootstrap()

    # ----- persistence helpers -------------------------------------------------------------
    def save(self, tx: Tx, doc: Doc) -> None:
        doc["last_modified"] = now()
        tx.put(doc, scope=_scope_of(doc), name=_name_of(doc))

    def new_doc(self, tx: Tx, obj_type: str, **fields: Any) -> Doc:
        obj_id = make_id(PREFIX[obj_type], self.guid, tx.next_seq(obj_type))
        t = now()
        doc: Doc = {"id": obj_id, "type": obj_type, "creation_time": t, "last_modified": t}
        doc.update(fields)
        return doc

    def _bootstrap(self) -> None:
        with self.store.write() as tx:
            guid = tx.meta("group_uid")
            if guid is None:
                guid = secrets.token_hex(8)
                tx.set_meta("group_uid", guid)
                tx.set_meta("created", str(now()))
            self.guid = guid
            if not tx.list("group"):
                self.save(
                    tx,
                    self.new_doc(
                        tx,
                        "group",
                        name=self.config.group_name,
                        user_inactivity_timeout=1800,
                        group_target_enabled=True,
                        default_iscsi_target_scope=DEFAULT_ISCSI_TARGET_SCOPE,
                        default_volume_reserve=0,
                        default_volume_warn_level=80,
                        default_volume_limit=100,
                        default_snap_reserve=0,
                        default_snap_warn_level=0,
                        default_snap_limit=None,
                        description="",
                        snap_retn_meter_high=100,
                        iscsi_enabled=True,
                    ),
                )
                self.save(tx, self.new_doc(tx, "pool", name="default", description="Default pool"))
                self.save(
                    tx,
                    self.new_doc(
                        tx,
                        "array",
                        name=self.config.group_name + ARRAY_NAME_SUFFIX,
                        serial="AF-" + str(int(guid[:8], 16) % 1000000).zfill(6),
                    ),
                )
                for name, bs, cat, desc in PREDEFINED_POLICIES:
                    self.save(
                        tx,
                        self.new_doc(
                            tx,
                            "perfpolicy",
                            name=name,
                            block_size=bs,
                            app_category=cat,
                            description=desc,
                            compress=True,
                            cache=True,
                            cache_policy="normal",
                            space_policy="offline",
                            dedupe_enabled=False,
                            predefined=True,
                            sample_rate=0,
                        ),
                    )
                self.save(tx, self.new_doc(tx, "netconfig", name="active", role="active"))
                self.save(tx, self.new_doc(tx, "subnet", name="management", label="management"))
                self.save(tx, self.new_doc(tx, "subnet", name="data", label="data"))
            group = tx.list("group")[0]
            if (
                self.config.group_name != DEFAULT_GROUP_NAME
                and group["name"] != self.config.group_name
            ):
                group["name"] = self.config.group_name
                self.save(tx, group)
            if self.config.session_timeout is not None:
                group["user_inactivity_timeout"] = self.config.session_timeout
                self.save(tx, group)

    def replay_data_plane(self) -> None:
        """Re-export what is online (a restarted data plane starts with no targets)."""
        with self.store.read() as tx:
            ctx = self.ctx(tx)
            for vol in ctx.preload("volume"):
                if not vol["online"]:
                    continue
                try:
                    self.dp.set_acl(
                        vol["target_name"], vol["id"], self.initiator_iqns(ctx, vol["id"])
                    )
                    self.dp.set_online(vol["target_name"], vol["id"], True)
                except Exception as exc:
                    log.warning("data plane: cannot bring %s online: %s", vol["name"], exc)

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
            last = self._activity.get(doc["id"], max(float(doc["creation_time"]), self._started))
            if last <= self._sessions_expired_before or t - last > timeout:
                return None
            self._activity[doc["id"]] = t
        doc["_expiry"] = int(t + timeout)
        return doc

    def expire_sessions(self) -> int:
        with self._activity_lock:
            self._sessions_expired_before = self.clock()
            self._activity.clear()
        with self.store.read() as tx:
            return tx.count("token")

    def token_expiry(self, doc: Doc, timeout: int) -> int:
        with self._activity_lock:
            last = self._activity.get(doc["id"], max(float(doc["creation_time"]), self._started))
            if last <= self._sessions_expired_before:
                return 0
        return int(last + timeout)

    def mark_active(self, token_id: str) -> None:
        with self._activity_lock:
            self._activity[token_id] = self.clock()

    # ----- generic entry points (used by app.py) -------------------------------------------
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
                self._need_space(ctx, moved)
                if newest is not None and moved:
                    vol["shared_bytes"] -= moved
                    newest["unique_bytes"] = newest.get("unique_bytes", 0) + moved
                    self.save(tx, newest)
            else:
                add = min(nbytes, vol["size"] * MIB - vol.get("written_bytes", 0))
                own_free = max(0, _vol_reserved(vol) - vol.get("written_bytes", 0))
                self._need_space(ctx, max(0, add - own_free))
                vol["written_bytes"] = vol.get("written_bytes", 0) + add
            self.save(tx, vol)
            return self.sets["volumes"].render(self.ctx(tx), vol)

    def sim_connections(self, vol_id: str, count: int | None) -> Doc:
        with self.store.write() if count is not None else self.store.read() as tx:
            vol = self.sets["volumes"].load(tx, vol_id)
            if count is not None:
                vol["connections"] = count
                self.save(tx, vol)
            return {"id": vol_id, "name": vol["name"], "connections": self._connections(vol)}

    # ----- space ---------------------------------------------------------------------------
    def _connections(self, vol: Doc) -> int:
        reported = self.dp.connections(vol["target_name"])
        return int(reported) if reported is not None else int(vol.get("connections", 0))

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
        vols = ctx.preload("volume")
        snaps = ctx.preload("snapshot")
        vol_used = sum(self.vol_usage(x) for x in vols)
        snap_used = sum(self.snap_usage(s) for s in snaps)
        snap_by_vol: dict[str, int] = {}
        for s in snaps:
            snap_by_vol[s["vol_id"]] = snap_by_vol.get(s["vol_id"], 0) + self.snap_usage(s)
        reserve = unused = 0
        for x in vols:
            r_vol = _vol_reserved(x)
            r_snap = x.get("snap_reserve", 0) * x["size"] * MIB // 100
            reserve += r_vol + r_snap
            unused += max(0, r_vol - self.vol_usage(x))
            unused += max(0, r_snap - snap_by_vol.get(x["id"], 0))
        capacity = self.config.pool_capacity
        usage = vol_used + snap_used
        return {
            "capacity": capacity,
            "usage": usage,
            "vol_usage": vol_used,
            "snap_usage": snap_used,
            "reserve": reserve,
            "unused_reserve": unused,
            "free_space": max(0, capacity - usage - unused),
            "vol_count": len(vols),
            "snap_count": len(snaps),
        }

    def _need_space(self, ctx: Ctx, nbytes: int) -> None:
        if nbytes > 0 and nbytes > self.space(ctx)["free_space"]:
            raise SimError("SM_enospc")

    # ----- ACL fan-out to the data plane ---------------------------------------------------
    def initiator_iqns(self, ctx: Ctx, vol_id: str, for_snapshot: bool = False) -> list[str]:
        iqns: set[str] = set()
        wanted = ("snapshot", "both") if for_snapshot else ("volume", "both")
        for acr in ctx.children("acr", vol_id):
            if acr["apply_to"] not in wanted:
                continue
            if not acr["initiator_group_id"]:
                iqns.add("*")
                continue
            for ini in ctx.children("initiator", acr["initiator_group_id"]):
                iqns.add(ini.get("iqn") or "*")
        return sorted(iqns)

    def push_acl(self, ctx: Ctx, vol_id: str) -> None:
        vol = ctx.obj(vol_id)
        if vol is None:
            return
        self.dp.set_acl(vol["target_name"], vol_id, self.initiator_iqns(ctx, vol_id))
        snap_iqns = self.initiator_iqns(ctx, vol_id, for_snapshot=True)
        for snap in ctx.children("snapshot", vol_id):
            if snap.get("online"):
                self.dp.set_acl(snap["target_name"], snap["id"], snap_iqns)


def _vol_reserved(vol: Doc) -> int:
    return int(vol.get("reserve", 0)) * int(vol["size"]) * MIB // 100


def _serial() -> str:
    return secrets.token_hex(8) + NIMBLE_OUI + secrets.token_hex(4)


def _volume_target(doc: Doc, guid: str) -> str:
    return VOLUME_TARGET_FORMAT.format(
        prefix=IQN_PREFIX,
        name=doc["name"],
        guid=guid,
        seq=doc["id"][-8:],
        serial_tail=_serial_tail(doc["serial_number"]),
    )


def _serial_tail(serial: str) -> str:
    tail = bytes.fromhex(serial[-8:])
    return tail[::-1].hex()


# ==========================================================================================
# Object sets
# ==========================================================================================


PRELOAD_ABOVE = 32  # rendering more objects than this loads related sets whole, not per object


class ObjectSet:
    name = ""
    type = ""
    readonly = False
    create_spec: dict[str, v.Validator] = {}
    create_mandatory: tuple[str, ...] = ()
    update_spec: dict[str, v.Validator] = {}
    summary_keys: tuple[str, ...] = ("id", "name")

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
        raise NotImplementedError

    # Stored fields whose value is also the rendered value: lists may filter, sort and page on
    # them before rendering, so a lookup by name or a small page renders only what it returns.
    raw_fields: frozenset[str] = frozenset({"id", "name"})

    def prepare(self, ctx: Ctx) -> None:
        """Preload what rendering many objects needs."""

    def render_all(self, ctx: Ctx, docs: list[Doc] | None = None) -> list[Doc]:
        if docs is None or len(docs) > PRELOAD_ABOVE:
            self.prepare(ctx)
        return [self.render(ctx, d) for d in (self.docs(ctx) if docs is None else docs)]

    def known_fields(self) -> list[str]:
        return list(self.sample_keys)

    sample_keys: tuple[str, ...] = ()

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


# ----- volumes ----------------------------------------------------------------------------

_PCT = v.v_int(0, 100)


def _block_size(value: Any, arg: str) -> int:
    size: int = v.v_int(512, 32768)(value, arg)
    if size not in (4096, 8192, 16384, 32768):
        raise v.bad(arg, value)
    return size


_VOLUME_COMMON: dict[str, v.Validator] = {
    "name": v.v_str(215, v.VOL_SNAP_NAME, allow_empty=False),
    "size": v.v_int(1, MAX_VOLUME_SIZE_MIB),
    "description": v.v_str(255),
    "perfpolicy_id": v.v_id,
    "reserve": _PCT,
    "warn_level": _PCT,
    "limit": _PCT,
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
    "block_size": _block_size,
    "clone": v.v_bool,
    "base_snap_id": v.v_id,
    "dest_pool_id": v.v_id,
    "encryption_cipher": v.v_enum("none", "aes_256_xts"),
    "inherit_acl": v.v_bool,
}
VOLUME_UPDATE = {**_VOLUME_COMMON, "force": v.v_bool, "id": v.v_id}

VOLUME_KEYS = _words(
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
    "vol_usage_mapped_bytes vol_usage_uncompressed_bytes volcoll_id volcoll_name vpd_ieee0 "
    "vpd_ieee1 vpd_t10 warn_level"
)


def _vpd(serial: str) -> dict[str, str]:
    return {"vpd_t10": "Nimble  " + serial, "vpd_ieee0": serial[:16], "vpd_ieee1": serial[16:]}


def _acr_embedded(ctx: Ctx, acr: Doc) -> Doc:
    out = AcrSet.render_doc(ctx, acr)
    out["acl_id"] = acr["id"]
    return out


class VolumeSet(ObjectSet):
    name = "volumes"
    type = "volume"
    sample_keys = tuple(VOLUME_KEYS)
    raw_fields = frozenset(
        {
            "id",
            "name",
            "size",
            "description",
            "online",
            "clone",
            "base_snap_id",
            "parent_vol_id",
            "perfpolicy_id",
            "pool_id",
            "serial_number",
            "agent_type",
            "app_uuid",
            "read_only",
            "reserve",
            "limit",
            "block_size",
            "creation_time",
        }
    )

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        m = self.m
        group = ctx.group
        snaps = ctx.children("snapshot", d["id"])
        acrs = ctx.children("acr", d["id"])
        vol_used = m.vol_usage(d)
        snap_used = sum(m.snap_usage(s) for s in snaps)
        online_snaps = [
            {"id": s["id"], "snap_id": s["id"], "name": s["name"], "snap_name": s["name"]}
            for s in snaps
            if s.get("online")
        ]
        last = max(snaps, key=lambda s: s["id"]) if snaps else None
        pool_name = ctx.name_of(d["pool_id"])
        conns = m._connections(d)
        size_bytes = d["size"] * MIB
        limit_bytes = size_bytes * d["limit"] // 100
        level = "normal"
        if d["warn_level"] and vol_used >= size_bytes * d["warn_level"] // 100:
            level = "warning"
        if vol_used >= limit_bytes:
            level = "critical"
        out: Doc = {
            "access_control_records": [_acr_embedded(ctx, a) for a in acrs] or None,
            "agent_type": d["agent_type"],
            "app_category": _app_category(ctx, d["perfpolicy_id"]),
            "app_uuid": d["app_uuid"],
            "avg_stats_last_5mins": dict.fromkeys(
                (
                    "combined_iops",
                    "combined_latency",
                    "combined_throughput",
                    "read_iops",
                    "read_latency",
                    "read_throughput",
                    "write_iops",
                    "write_latency",
                    "write_throughput",
                ),
                0,
            ),
            "base_snap_id": d["base_snap_id"],
            "base_snap_name": ctx.name_of(d["base_snap_id"]),
            "block_size": d["block_size"],
            "cache_needed_for_pin": size_bytes,
            "cache_pinned": d["cache_pinned"],
            "cache_policy": "normal",
            "caching_enabled": d["caching_enabled"],
            "cksum_last_verified": 0,
            "clone": d["clone"],
            "content_repl_errors_found": False,
            "creation_time": d["creation_time"],
            "dedupe_enabled": d["dedupe_enabled"],
            "description": d["description"],
            "dest_pool_id": "",
            "dest_pool_name": "",
            "encryption_cipher": d["encryption_cipher"],
            "fc_sessions": None,
            "folder_id": "",
            "folder_name": "",
            "full_name": f"{pool_name}:/{d['name']}",
            "id": d["id"],
            "iscsi_sessions": None,
            "iscsi_target_scope": d["iscsi_target_scope"],
            "last_content_snap_br_cg_uid": 0,
            "last_content_snap_br_gid": 0,
            "last_content_snap_id": 0,
            "last_modified": d["last_modified"],
            "last_replicated_snap": None,
            "last_snap": (
                {
                    "snap_id": last["id"],
                    "snap_name": last["name"],
                    "snap_creation_time": last["creation_time"],
                }
                if last
                else None
            ),
            "limit": d["limit"],
            "limit_iops": d["limit_iops"],
            "limit_mbps": d["limit_mbps"],
            "metadata": d["metadata"] or None,
            "move_aborting": False,
            "move_bytes_migrated": 0,
            "move_bytes_remaining": 0,
            "move_est_compl_time": 0,
            "move_start_time": 0,
            "multi_initiator": d["multi_initiator"],
            "name": d["name"],
            "needs_content_repl": False,
            "num_connections": conns,
            "num_fc_connections": 0,
            "num_iscsi_connections": conns,
            "num_snaps": len(snaps),
            "offline_reason": d["offline_reason"],
            "online": d["online"],
            "online_snaps": online_snaps or None,
            "owned_by_group": group["name"],
            "owned_by_group_id": group["id"],
            "parent_vol_id": d["parent_vol_id"],
            "parent_vol_name": ctx.name_of(d["parent_vol_id"]),
            "perfpolicy_id": d["perfpolicy_id"],
            "perfpolicy_name": ctx.name_of(d["perfpolicy_id"]),
            "pinned_cache_size": size_bytes if d["cache_pinned"] else 0,
            "pool_id": d["pool_id"],
            "pool_name": pool_name,
            "previously_deduped": False,
            "projected_num_snaps": 0,
            "protection_type": "unprotected",
            "read_only": d["read_only"],
            "replication_role": "no_replication",
            "reserve": d["reserve"],
            "search_name": d["name"],
            "serial_number": d["serial_number"],
            "size": d["size"],
            "snap_limit": 9223372036854775807,
            "snap_limit_percent": -1,
            "snap_reserve": d["snap_reserve"],
            "snap_usage_compressed_bytes": snap_used,
            "snap_usage_populated_bytes": snap_used,
            "snap_usage_uncompressed_bytes": snap_used,
            "snap_warn_level": d["snap_warn_level"],
            "space_usage_level": level,
            "srep_last_sync": 0,
            "srep_resync_percent": 0,
            "target_name": (
                _group_target(group, m.guid)
                if d["iscsi_target_scope"] == "group"
                else d["target_name"]
            ),
            "thinly_provisioned": d["thinly_provisioned"],
            "total_usage_bytes": vol_used + snap_used,
            "upstream_cache_pinned": False,
            "usage_valid": True,
            "vol_state": ("read_only" if d["read_only"] else "online")
            if d["online"]
            else "offline",
            "vol_usage_compressed_bytes": vol_used,
            "vol_usage_mapped_bytes": vol_used,
            "vol_usage_uncompressed_bytes": vol_used,
            "volcoll_id": "",
            "volcoll_name": "",
            "warn_level": d["warn_level"],
        }
        out.update(_vpd(d["serial_number"]))
        return out

    def prepare(self, ctx: Ctx) -> None:
        ctx.preload("snapshot")
        ctx.preload("acr")
        ctx.preload("initiator_group")
        ctx.preload("perfpolicy")
        ctx.preload("pool")

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
            encryption_cipher=data.get(
                "encryption_cipher", parent["encryption_cipher"] if parent else "none"
            ),
            limit_iops=data.get("limit_iops", parent["limit_iops"] if parent else -1),
            limit_mbps=data.get("limit_mbps", parent["limit_mbps"] if parent else -1),
            thinly_provisioned=data.get("thinly_provisioned", True),
            written_bytes=0,
            shared_bytes=0,
            connections=0,
        )
        if doc["limit"] < doc["reserve"]:
            raise SimError("SM_invalid_arg_value", arg="limit", value=doc["limit"])
        doc["offline_reason"] = None if doc["online"] else "user"
        doc["serial_number"] = _serial()
        doc["target_name"] = _volume_target(doc, m.guid)
        needed = _vol_reserved(doc) + doc["snap_reserve"] * doc["size"] * MIB // 100
        m._need_space(ctx, needed)
        m.save(tx, doc)
        size_bytes = doc["size"] * MIB
        if snap is not None:
            m.dp.clone(snap["id"], doc["id"], size_bytes)
        else:
            m.dp.create_volume(doc["id"], size_bytes)
        if (
            parent is not None
            and CLONE_INHERITS_ACL
            and data.get("inherit_acl", True)
            and doc["agent_type"] == "none"
            and parent["agent_type"] == "none"
        ):
            for acr in ctx.children("acr", parent["id"]):
                copy = m.new_doc(
                    tx,
                    "acr",
                    **{
                        k: acr[k]
                        for k in ("apply_to", "initiator_group_id", "lun", "snap_id", "pe_id")
                    },
                )
                copy["vol_id"] = doc["id"]
                copy["snap_id"] = ""
                m.save(tx, copy)
            ctx.forget("acr", doc["id"])
        ctx._objs[doc["id"]] = doc
        m.push_acl(ctx, doc["id"])
        if doc["online"]:
            m.dp.set_online(doc["target_name"], doc["id"], True)
        return doc

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
        data = v.check_body(raw, VOLUME_UPDATE)
        m, tx = self.m, ctx.tx
        if data.get("id") and data["id"] != doc["id"]:
            raise SimError("SM_invalid_arg_value", arg="id", value=data["id"])
        force = force or data.get("force", False)
        if "name" in data and data["name"] != doc["name"]:
            self.unique(ctx, data["name"], exclude=doc["id"])
            doc["name"] = data["name"]
            if TARGET_NAME_FOLLOWS_RENAME:
                doc["target_name"] = _volume_target(doc, m.guid)
        if data.get("perfpolicy_id"):
            policy = self.ref(ctx, data["perfpolicy_id"], "perfpolicy", "perfpolicy_id")
            if policy["block_size"] != doc["block_size"]:
                raise SimError("SM_invalid_arg_value", arg="perfpolicy_id", value=policy["id"])
            doc["perfpolicy_id"] = policy["id"]
        for ref in ("folder_id", "volcoll_id"):
            if data.get(ref):
                self.ref(ctx, data[ref], ref.removesuffix("_id"), ref)
        if data.get("owned_by_group_id") and data["owned_by_group_id"] != ctx.group["id"]:
            self.ref(ctx, data["owned_by_group_id"], "group", "owned_by_group_id")
        old_reserved = _vol_reserved(doc) + doc["snap_reserve"] * doc["size"] * MIB // 100
        old_size = doc["size"]
        if "size" in data and data["size"] < doc["size"] and not force:
            raise SimError("SM_vol_size_decreased")
        for key in (
            "size",
            "description",
            "reserve",
            "warn_level",
            "limit",
            "snap_reserve",
            "snap_warn_level",
            "multi_initiator",
            "iscsi_target_scope",
            "read_only",
            "agent_type",
            "cache_pinned",
            "app_uuid",
            "dedupe_enabled",
            "limit_iops",
            "limit_mbps",
            "caching_enabled",
            "thinly_provisioned",
        ):
            if key in data:
                doc[key] = data[key]
        if doc["limit"] < doc["reserve"]:
            raise SimError("SM_invalid_arg_value", arg="limit", value=doc["limit"])
        if "metadata" in data:
            doc["metadata"] = _merge_metadata(doc["metadata"], data["metadata"])
        if doc["size"] < old_size:
            doc["written_bytes"] = min(doc["written_bytes"], doc["size"] * MIB)
            doc["shared_bytes"] = min(doc["shared_bytes"], doc["written_bytes"])
        new_reserved = _vol_reserved(doc) + doc["snap_reserve"] * doc["size"] * MIB // 100
        if new_reserved > old_reserved:
            m._need_space(ctx, new_reserved - old_reserved)
        if doc["size"] != old_size:
            m.dp.resize(doc["id"], doc["size"] * MIB)
        if "online" in data:
            self._set_online(ctx, doc, data["online"], force)
        m.save(tx, doc)
        return doc

    def _set_online(self, ctx: Ctx, doc: Doc, online: bool, force: bool) -> None:
        if doc["online"] == online:
            if VOLUME_STATE_NOOP_IS_ERROR:
                raise SimError("SM_ealready")
            return
        if not online:
            conns = self.m._connections(doc)
            if conns and not force:
                raise SimError("SM_vol_has_connections", vol=doc["name"])
            doc["connections"] = 0
        doc["online"] = online
        doc["offline_reason"] = None if online else "user"
        self.m.dp.set_online(doc["target_name"], doc["id"], online)

    # ---- delete ----
    def delete(self, ctx: Ctx, doc: Doc) -> None:
        m, tx = self.m, ctx.tx
        if doc["online"]:
            raise SimError(ONLINE_DELETE_CODE, vol=doc["name"])
        snaps = ctx.children("snapshot", doc["id"])
        snap_ids = [s["id"] for s in snaps]
        if _clones_of(tx, snap_ids):
            raise SimError("SM_vol_has_clone", vol=doc["name"])
        if any(s.get("online") for s in snaps):
            raise SimError("SM_vol_has_online_snap", vol=doc["name"])
        for acr in ctx.children("acr", doc["id"]):
            tx.delete(acr["id"])
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
        data = v.check_body(raw, {"id": v.v_id, "base_snap_id": v.v_id}, ("base_snap_id",))
        if data.get("id") and data["id"] != doc["id"]:
            raise SimError("SM_invalid_arg_value", arg="id", value=data["id"])
        if not data["base_snap_id"]:
            raise SimError("SM_missing_arg", arg="base_snap_id")
        snap = self.ref(ctx, data["base_snap_id"], "snapshot", "base_snap_id")
        if snap["vol_id"] != doc["id"]:
            raise SimError("SM_invalid_arg_value", arg="base_snap_id", value=snap["id"])
        if doc["online"]:
            raise SimError("SM_vol_not_offline_on_restore", vol=doc["name"])
        doc["written_bytes"] = min(snap.get("captured_bytes", 0), doc["size"] * MIB)
        doc["shared_bytes"] = doc["written_bytes"]
        self.m.dp.restore(doc["id"], snap["id"])
        self.m.save(ctx.tx, doc)
        return doc


def _clones_of(tx: Tx, snap_ids: list[str]) -> list[str]:
    return tx.ids_where("volume", "base_snap_id", snap_ids)


def _merge_metadata(old: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    merged = {item["key"]: item["value"] for item in old}
    for item in new:
        if item["value"] == "":
            merged.pop(item["key"], None)
        else:
            merged[item["key"]] = item["value"]
    return [{"key": k, "value": val} for k, val in merged.items()]


def _app_category(ctx: Ctx, policy_id: str) -> str:
    policy = ctx.obj(policy_id)
    cat = policy.get("app_category", "Other") if policy else "Other"
    return "Other" if cat == "Unassigned" else cat


def _group_target(group: Doc, guid: str) -> str:
    return GROUP_TARGET_FORMAT.format(prefix=IQN_PREFIX, group=group["name"], guid=guid)


# ----- snapshots --------------------------------------------------------------------------

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
SNAPSHOT_UPDATE: dict[str, v.Validator] = {
    "name": SNAPSHOT_CREATE["name"],
    "description": SNAPSHOT_CREATE["description"],
    "online": v.v_bool,
    "app_uuid": SNAPSHOT_CREATE["app_uuid"],
    "metadata": v.v_metadata,
    "expiry_after": SNAPSHOT_CREATE["expiry_after"],
    "id": v.v_id,
    "force": v.v_bool,
}
SNAPSHOT_KEYS = _words(
    "access_control_records agent_type app_uuid creation_time description expiry_after "
    "expiry_time id is_manually_managed is_replica is_unmanaged last_modified metadata name "
    "new_data_compressed_bytes new_data_uncompressed_bytes new_data_valid offline_reason online "
    "origin_name pool_name replication_status schedule_id schedule_name serial_number size "
    "snap_collection_id snap_collection_name target_name vol_id vol_name vpd_ieee0 vpd_ieee1 "
    "vpd_t10 writable"
)


class SnapshotSet(ObjectSet):
    name = "snapshots"
    type = "snapshot"
    sample_keys = tuple(SNAPSHOT_KEYS)
    raw_fields = frozenset(
        {
            "id",
            "name",
            "vol_id",
            "online",
            "writable",
            "description",
            "serial_number",
            "app_uuid",
            "creation_time",
        }
    )

    def check_list_filter(self, params: dict[str, str], has_criteria: bool) -> None:
        if (
            SNAPSHOT_LIST_NEEDS_FILTER
            and not has_criteria
            and not any(k in params for k in SNAPSHOT_LIST_FILTERS)
        ):
            raise SimError("SM_missing_arg", arg="vol_id")

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        vol = ctx.obj(d["vol_id"]) or {}
        acrs = [
            a
            for a in ctx.children("acr", d["vol_id"])
            if a.get("snap_id") == d["id"] or a["apply_to"] in ("snapshot", "both")
        ]
        used = self.m.snap_usage(d)
        out: Doc = {
            "access_control_records": [_acr_embedded(ctx, a) for a in acrs] or None,
            "agent_type": d["agent_type"],
            "app_uuid": d["app_uuid"],
            "creation_time": d["creation_time"],
            "description": d["description"],
            "expiry_after": d["expiry_after"],
            "expiry_time": d["creation_time"] + d["expiry_after"] if d["expiry_after"] > 1 else 0,
            "id": d["id"],
            "is_manually_managed": True,
            "is_replica": False,
            "is_unmanaged": False,
            "last_modified": d["last_modified"],
            "metadata": d["metadata"] or None,
            "name": d["name"],
            "new_data_compressed_bytes": used,
            "new_data_uncompressed_bytes": used,
            "new_data_valid": True,
            "offline_reason": None if d["online"] else "user",
            "online": d["online"],
            "origin_name": "",
            "pool_name": ctx.name_of(vol.get("pool_id", "")),
            "replication_status": None,
            "schedule_id": "",
            "schedule_name": "",
            "serial_number": d["serial_number"],
            "size": d["size_mib"] * MIB if SNAPSHOT_SIZE_IN_BYTES else d["size_mib"],
            "snap_collection_id": "",
            "snap_collection_name": "",
            "target_name": d["target_name"],
            "vol_id": d["vol_id"],
            "vol_name": vol.get("name", ""),
            "writable": d["writable"],
        }
        out.update(_vpd(d["serial_number"]))
        return out

    def prepare(self, ctx: Ctx) -> None:
        ctx.preload("volume")
        ctx.preload("acr")
        ctx.preload("pool")
        ctx.preload("initiator_group")

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
            serial_number=_serial(),
        )
        doc["target_name"] = SNAPSHOT_TARGET_FORMAT.format(
            prefix=IQN_PREFIX,
            vol=vol["name"],
            name=doc["name"],
            guid=m.guid,
            seq=doc["id"][-8:],
            serial_tail=_serial_tail(doc["serial_number"]),
        )
        vol["shared_bytes"] = vol.get("written_bytes", 0)
        m.save(tx, vol)
        m.save(tx, doc)
        m.dp.snapshot(vol["id"], doc["id"])
        if data.get("online"):
            self._set_online(ctx, doc, True)
            m.save(tx, doc)
        return doc

    def _set_online(self, ctx: Ctx, doc: Doc, online: bool) -> None:
        if doc["online"] == online:
            if SNAPSHOT_STATE_NOOP_IS_ERROR:
                raise SimError("SM_ealready")
            return
        doc["online"] = online
        self.m.dp.set_online(doc["target_name"], doc["id"], online)
        if online:
            self.m.dp.set_acl(
                doc["target_name"],
                doc["id"],
                self.m.initiator_iqns(ctx, doc["vol_id"], for_snapshot=True),
            )

    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = v.check_body(raw, SNAPSHOT_UPDATE)
        if data.get("id") and data["id"] != doc["id"]:
            raise SimError("SM_invalid_arg_value", arg="id", value=data["id"])
        if "name" in data and data["name"] != doc["name"]:
            self.unique(ctx, data["name"], scope=doc["vol_id"], exclude=doc["id"])
            doc["name"] = data["name"]
        for key in ("description", "app_uuid", "expiry_after"):
            if key in data:
                doc[key] = data[key]
        if "metadata" in data:
            doc["metadata"] = _merge_metadata(doc["metadata"], data["metadata"])
        if "online" in data:
            self._set_online(ctx, doc, data["online"])
        self.m.save(ctx.tx, doc)
        return doc

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        vol = ctx.obj(doc["vol_id"]) or {"name": ""}
        if _clones_of(ctx.tx, [doc["id"]]):
            raise SimError("SM_snap_has_clone", snap=doc["name"], vol=vol["name"])
        if doc["online"]:
            raise SimError(ONLINE_DELETE_CODE, snap=doc["name"])
        for acr in ctx.children("acr", doc["vol_id"]):
            if acr.get("snap_id") == doc["id"]:
                ctx.tx.delete(acr["id"])
        ctx.tx.delete(doc["id"])
        self.m.dp.delete(doc["id"])


# ----- initiator groups and initiators ----------------------------------------------------

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
IG_KEYS = _words(
    "access_protocol app_uuid creation_time description fc_initiators fc_tdz_ports full_name "
    "host_type id iscsi_initiators last_modified metadata name num_connections search_name "
    "target_subnets volume_count volume_list"
)
INITIATOR_CREATE: dict[str, v.Validator] = {
    "access_protocol": v.v_enum("iscsi", "fc"),
    "initiator_group_id": v.v_id,
    "label": v.v_str(64, v.OBJECT_NAME, allow_empty=False),
    "iqn": lambda value, arg: _iqn(value),
    "ip_address": v.v_str(64, allow_empty=False),
    "alias": v.v_str(32),
    "wwpn": v.v_str(23),
    "override_existing_alias": v.v_bool,
    "chapuser_id": v.v_id,
}
INITIATOR_KEYS = _words(
    "access_protocol alias chapuser_id creation_time id initiator_group_id initiator_group_name "
    "ip_address iqn label last_modified override_existing_alias vp_override wwpn"
)


def _iqn(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 255 or not v.IQN.match(value):
        raise SimError("SM_invalid_initiator_iqn")
    return value


def _check_initiator(item: Any, index: int) -> dict[str, str]:
    arg = "iscsi_initiators"
    data = v.check_body(
        item,
        {
            "label": INITIATOR_CREATE["label"],
            "iqn": INITIATOR_CREATE["iqn"],
            "ip_address": INITIATOR_CREATE["ip_address"],
        },
        ("label",),
    )
    if "iqn" not in data and "ip_address" not in data:
        raise SimError("SM_missing_arg", arg=f"{arg}[{index}].iqn")
    return data


class InitiatorGroupSet(ObjectSet):
    name = "initiator_groups"
    type = "initiator_group"
    sample_keys = tuple(IG_KEYS)
    raw_fields = frozenset({"id", "name", "access_protocol", "description"})

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        inits = ctx.children("initiator", d["id"])
        acrs = [a for a in ctx.preload("acr") if a["initiator_group_id"] == d["id"]]
        vols = []
        for a in acrs:
            vol = ctx.obj(a["vol_id"])
            if vol is not None:
                pool = ctx.name_of(vol["pool_id"])
                vols.append(
                    {
                        "id": vol["id"],
                        "name": vol["name"],
                        "full_name": f"{pool}:/{vol['name']}",
                        "app_category": _app_category(ctx, vol["perfpolicy_id"]),
                        "lun": a["lun"],
                    }
                )
        return {
            "access_protocol": d["access_protocol"],
            "app_uuid": d["app_uuid"],
            "creation_time": d["creation_time"],
            "description": d["description"],
            "fc_initiators": None,
            "fc_tdz_ports": None,
            "full_name": d["name"],
            "host_type": d["host_type"],
            "id": d["id"],
            "iscsi_initiators": [
                {
                    "id": i["id"],
                    "initiator_id": i["id"],
                    "label": i["label"],
                    "iqn": i.get("iqn") or "*",
                    "ip_address": i.get("ip_address") or "*",
                }
                for i in inits
            ]
            or None,
            "last_modified": d["last_modified"],
            "metadata": d["metadata"] or None,
            "name": d["name"],
            "num_connections": 0,
            "search_name": d["name"],
            "target_subnets": d["target_subnets"] or None,
            "volume_count": len(vols),
            "volume_list": vols or None,
        }

    def prepare(self, ctx: Ctx) -> None:
        ctx.preload("initiator")
        ctx.preload("acr")
        ctx.preload("volume")

    def _initiators(self, ctx: Ctx, ig: Doc, items: list[Any]) -> None:
        seen_label: set[str] = set()
        seen_iqn: set[str] = set()
        for index, item in enumerate(items):
            data = _check_initiator(item, index)
            if data["label"] in seen_label:
                raise SimError(
                    "SM_duplicate_initiator_with_args", name="label", value=data["label"]
                )
            if data.get("iqn") and data["iqn"] in seen_iqn:
                raise SimError("SM_duplicate_initiator_with_args", name="iqn", value=data["iqn"])
            seen_label.add(data["label"])
            if data.get("iqn"):
                seen_iqn.add(data["iqn"])
            self.m.save(
                ctx.tx,
                self.m.new_doc(
                    ctx.tx,
                    "initiator",
                    access_protocol="iscsi",
                    initiator_group_id=ig["id"],
                    label=data["label"],
                    iqn=data.get("iqn", ""),
                    ip_address=data.get("ip_address", ""),
                ),
            )
        ctx.forget("initiator", ig["id"])

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        data = v.check_body(raw, IG_CREATE, ("name", "access_protocol"))
        if data["access_protocol"] == "fc":
            raise SimError("SM_fc_svc_not_available")
        if data.get("fc_initiators"):
            raise SimError("SM_invalid_arg_value", arg="fc_initiators", value=data["fc_initiators"])
        self.unique(ctx, data["name"])
        doc = self.m.new_doc(
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
        self.m.save(ctx.tx, doc)
        self._initiators(ctx, doc, data.get("iscsi_initiators", []))
        return doc

    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = v.check_body(raw, IG_UPDATE)
        if data.get("id") and data["id"] != doc["id"]:
            raise SimError("SM_invalid_arg_value", arg="id", value=data["id"])
        if "name" in data and data["name"] != doc["name"]:
            self.unique(ctx, data["name"], exclude=doc["id"])
            doc["name"] = data["name"]
        for key in ("description", "host_type", "app_uuid"):
            if key in data:
                doc[key] = data[key]
        if "target_subnets" in data:
            doc["target_subnets"] = _target_subnets(ctx, data["target_subnets"])
        if "metadata" in data:
            doc["metadata"] = _merge_metadata(doc["metadata"], data["metadata"])
        if data.get("fc_initiators"):
            raise SimError("SM_invalid_arg_value", arg="fc_initiators", value=data["fc_initiators"])
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


def _push_ig_acls(ctx: Ctx, ig_id: str) -> None:
    for acr in ctx.tx.list("acr"):
        if acr["initiator_group_id"] == ig_id:
            ctx.model.push_acl(ctx, acr["vol_id"])


class InitiatorSet(ObjectSet):
    name = "initiators"
    type = "initiator"
    sample_keys = tuple(INITIATOR_KEYS)
    summary_keys = ("id",)
    raw_fields = frozenset({"id", "label", "initiator_group_id", "access_protocol"})

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        return {
            "access_protocol": d["access_protocol"],
            "alias": "",
            "chapuser_id": "",
            "creation_time": d["creation_time"],
            "id": d["id"],
            "initiator_group_id": d["initiator_group_id"],
            "initiator_group_name": ctx.name_of(d["initiator_group_id"]),
            "ip_address": d.get("ip_address") or "*",
            "iqn": d.get("iqn") or "*",
            "label": d["label"],
            "last_modified": d["last_modified"],
            "override_existing_alias": False,
            "vp_override": False,
            "wwpn": "",
        }

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        data = v.check_body(raw, INITIATOR_CREATE, ("access_protocol", "initiator_group_id"))
        if data["access_protocol"] == "fc":
            raise SimError("SM_fc_svc_not_available")
        if not data["initiator_group_id"]:
            raise SimError("SM_missing_arg", arg="initiator_group_id")
        ig = self.ref(ctx, data["initiator_group_id"], "initiator_group", "initiator_group_id")
        if "label" not in data:
            raise SimError("SM_missing_arg", arg="label")
        if "iqn" not in data and "ip_address" not in data:
            raise SimError("SM_missing_arg", arg="iqn")
        for other in ctx.children("initiator", ig["id"]):
            if other["label"] == data["label"]:
                raise SimError(
                    "SM_duplicate_initiator_with_args", name="label", value=data["label"]
                )
            if data.get("iqn") and other.get("iqn") == data["iqn"]:
                raise SimError("SM_duplicate_initiator_with_args", name="iqn", value=data["iqn"])
        doc = self.m.new_doc(
            ctx.tx,
            "initiator",
            access_protocol="iscsi",
            initiator_group_id=ig["id"],
            label=data["label"],
            iqn=data.get("iqn", ""),
            ip_address=data.get("ip_address", ""),
        )
        self.m.save(ctx.tx, doc)
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
ACR_KEYS = _words(
    "access_protocol apply_to chap_user_id chap_user_name creation_time id initiator_group_id "
    "initiator_group_name last_modified lun pe_id pe_ids pe_lun pe_name snap_id snap_name "
    "snapluns vol_agent_type vol_id vol_name"
)
_APPLY_SCOPE = {
    "volume": {"volume"},
    "snapshot": {"snapshot"},
    "both": {"volume", "snapshot"},
    "pe": {"pe"},
    "vvol_volume": {"vvol_volume"},
    "vvol_snapshot": {"vvol_snapshot"},
}


class AcrSet(ObjectSet):
    name = "access_control_records"
    type = "acr"
    sample_keys = tuple(ACR_KEYS)
    summary_keys = ("id",)
    raw_fields = frozenset({"id", "vol_id", "initiator_group_id", "apply_to", "lun", "snap_id"})

    @staticmethod
    def render_doc(ctx: Ctx, d: Doc) -> Doc:
        vol = ctx.obj(d["vol_id"]) or {}
        ig_name = ctx.name_of(d["initiator_group_id"]) if d["initiator_group_id"] else "*"
        return {
            "access_protocol": "iscsi",
            "apply_to": d["apply_to"],
            "chap_user_id": "",
            "chap_user_name": "*" if not d["initiator_group_id"] else "",
            "creation_time": d["creation_time"],
            "id": d["id"],
            "initiator_group_id": d["initiator_group_id"],
            "initiator_group_name": ig_name,
            "last_modified": d["last_modified"],
            "lun": d["lun"],
            "pe_id": "",
            "pe_ids": None,
            "pe_lun": None,
            "pe_name": "",
            "snap_id": d.get("snap_id", ""),
            "snap_name": ctx.name_of(d.get("snap_id", "")),
            "snapluns": None,
            "vol_agent_type": vol.get("agent_type", "none"),
            "vol_id": d["vol_id"],
            "vol_name": vol.get("name", ""),
        }

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        return self.render_doc(ctx, d)

    def prepare(self, ctx: Ctx) -> None:
        ctx.preload("volume")
        ctx.preload("initiator_group")
        ctx.preload("snapshot")

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
        lun = data.get("lun")
        scope = vol["iscsi_target_scope"]
        if lun is None:
            if scope == "group" and ig_id:
                used = {
                    a["lun"]
                    for a in ctx.tx.list("acr")
                    if a["initiator_group_id"] == ig_id and a["lun"] is not None
                }
                lun = next(n for n in range(2049) if n not in used)
            else:
                lun = 0
        elif (scope == "volume" and lun != 0) or lun > 2047:
            raise SimError("SM_invalid_arg_value", arg="lun", value=lun)
        if apply_to == "snapshot" and not snap:
            lun = None
        doc = self.m.new_doc(
            ctx.tx,
            "acr",
            apply_to=apply_to,
            initiator_group_id=ig_id,
            vol_id=vol["id"],
            snap_id=snap["id"] if snap else "",
            lun=lun,
            pe_id="",
        )
        self.m.save(ctx.tx, doc)
        ctx.forget("acr", vol["id"])
        self.m.push_acl(ctx, vol["id"])
        return doc

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        ctx.tx.delete(doc["id"])
        ctx.forget("acr", doc["vol_id"])
        self.m.push_acl(ctx, doc["vol_id"])


# ----- pools, performance policies, group, array, network ---------------------------------

POOL_KEYS = _words(
    "all_flash array_count array_list cache_capacity capacity creation_time dedupe_all_volumes "
    "dedupe_all_volumes_capable dedupe_capable dedupe_capacity_bytes dedupe_usage_bytes "
    "description folder_list free_space full_name id is_default last_modified name "
    "pinnable_cache_capacity pinned_cache_capacity pinned_vol_list reserve savings "
    "savings_compression savings_data_reduction savings_dedupe savings_ratio snap_count "
    "snap_usage_bytes snapcoll_count search_name unassigned_array_list "
    "uncompressed_snap_usage_bytes uncompressed_vol_usage_bytes unused_reserve usage "
    "usage_valid vol_count vol_list vol_usage_bytes"
)


class PoolSet(ObjectSet):
    name = "pools"
    type = "pool"
    sample_keys = tuple(POOL_KEYS)

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        s = self.m.space(ctx)
        vols = ctx.preload("volume")
        array = ctx.preload("array")[0]
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
            "usage": s["usage"],
            "snap_usage_bytes": s["snap_usage"],
            "vol_usage_bytes": s["vol_usage"],
        }
        return {
            "all_flash": True,
            "array_count": 1,
            "array_list": [arr],
            "cache_capacity": 0,
            "capacity": s["capacity"],
            "creation_time": d["creation_time"],
            "dedupe_all_volumes": False,
            "dedupe_all_volumes_capable": True,
            "dedupe_capable": True,
            "dedupe_capacity_bytes": s["capacity"],
            "dedupe_usage_bytes": 0,
            "description": d["description"],
            "folder_list": None,
            "free_space": s["free_space"],
            "full_name": d["name"],
            "id": d["id"],
            "is_default": d["name"] == "default",
            "last_modified": d["last_modified"],
            "name": d["name"],
            "pinnable_cache_capacity": 0,
            "pinned_cache_capacity": 0,
            "pinned_vol_list": None,
            "reserve": s["reserve"],
            "savings": 0,
            "savings_compression": 0,
            "savings_data_reduction": 0,
            "savings_dedupe": 0,
            "savings_ratio": 1.0,
            "snap_count": s["snap_count"],
            "snap_usage_bytes": s["snap_usage"],
            "snapcoll_count": 0,
            "search_name": d["name"],
            "unassigned_array_list": None,
            "uncompressed_snap_usage_bytes": s["snap_usage"],
            "uncompressed_vol_usage_bytes": s["vol_usage"],
            "unused_reserve": s["unused_reserve"],
            "usage": s["usage"],
            "usage_valid": True,
            "vol_count": s["vol_count"],
            "vol_list": [
                {"id": x["id"], "name": x["name"], "vol_id": x["id"], "vol_name": x["name"]}
                for x in vols
            ]
            or None,
            "vol_usage_bytes": s["vol_usage"],
        }


POLICY_CREATE: dict[str, v.Validator] = {
    "name": v.v_str(64, v.POLICY_NAME, allow_empty=False),
    "description": v.v_str(255),
    "block_size": _block_size,
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
POLICY_KEYS = _words(
    "app_category block_size cache cache_policy compress creation_time dedupe_enabled "
    "dedupe_override_pools deprecated description full_name id last_modified name predefined "
    "sample_rate search_name space_policy volume_count"
)


class PerfPolicySet(ObjectSet):
    name = "performance_policies"
    type = "perfpolicy"
    sample_keys = tuple(POLICY_KEYS)

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        vols = ctx.preload("volume")
        return {
            "app_category": d["app_category"],
            "block_size": d["block_size"],
            "cache": d["cache"],
            "cache_policy": d["cache_policy"],
            "compress": d["compress"],
            "creation_time": d["creation_time"],
            "dedupe_enabled": d["dedupe_enabled"],
            "dedupe_override_pools": None,
            "deprecated": False,
            "description": d["description"],
            "full_name": d["name"],
            "id": d["id"],
            "last_modified": d["last_modified"],
            "name": d["name"],
            "predefined": d["predefined"],
            "sample_rate": d["sample_rate"],
            "search_name": d["name"],
            "space_policy": d["space_policy"],
            "volume_count": sum(1 for x in vols if x["perfpolicy_id"] == d["id"]),
        }

    def create(self, ctx: Ctx, raw: dict[str, Any]) -> Doc:
        data = v.check_body(raw, POLICY_CREATE, ("name",))
        self.unique(ctx, data["name"])
        doc = self.m.new_doc(
            ctx.tx,
            "perfpolicy",
            name=data["name"],
            description=data.get("description", ""),
            block_size=data.get("block_size", 4096),
            compress=data.get("compress", True),
            cache=data.get("cache", True),
            cache_policy=data.get("cache_policy", "normal"),
            space_policy=data.get("space_policy", "offline"),
            app_category=data.get("app_category", "Unassigned"),
            dedupe_enabled=data.get("dedupe_enabled", False),
            predefined=False,
            sample_rate=data.get("sample_rate", 0),
        )
        self.m.save(ctx.tx, doc)
        return doc

    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = v.check_body(raw, POLICY_UPDATE)
        if data.get("id") and data["id"] != doc["id"]:
            raise SimError("SM_invalid_arg_value", arg="id", value=data["id"])
        if doc["predefined"] and set(data) - {"id"}:
            raise SimError("SM_eperm")
        if "block_size" in data and data["block_size"] != doc["block_size"]:
            raise SimError("SM_invalid_arg_value", arg="block_size", value=data["block_size"])
        if "name" in data and data["name"] != doc["name"]:
            self.unique(ctx, data["name"], exclude=doc["id"])
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


GROUP_UPDATE: dict[str, v.Validator] = {
    "id": v.v_id,
    "name": v.v_str(64, v.OBJECT_NAME, allow_empty=False),
    "user_inactivity_timeout": v.v_int(1, 43200),
    "group_target_enabled": v.v_bool,
    "default_iscsi_target_scope": v.v_enum("volume", "group"),
    "default_volume_reserve": _PCT,
    "default_volume_warn_level": _PCT,
    "default_volume_limit": _PCT,
    "default_snap_reserve": v.v_int(0, 2**31 - 1),
    "default_snap_warn_level": v.v_int(0, 2**31 - 1),
    "default_snap_limit": v.v_int(0, 2**63 - 1),
    "description": v.v_str(255),
}
GROUP_KEYS = _words(
    "access_protocol_list alarms_enabled compressed_snap_usage_bytes compressed_vol_usage_bytes "
    "compression_ratio creation_time date default_iscsi_target_scope default_snap_limit "
    "default_snap_reserve default_snap_warn_level default_volume_limit default_volume_reserve "
    "default_volume_warn_level description fc_enabled free_space group_target_enabled "
    "group_target_name id iscsi_enabled last_modified leader_array_name leader_array_serial "
    "member_list name num_snapcolls num_snaps raw_capacity snap_usage_populated "
    "unique_name_enabled usable_capacity_bytes usage usage_valid user_inactivity_timeout "
    "version_current version_target vol_usage_compressed_bytes vvol_enabled"
)


class GroupSet(ObjectSet):
    name = "groups"
    type = "group"
    sample_keys = tuple(GROUP_KEYS)

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        s = self.m.space(ctx)
        array = ctx.preload("array")[0]
        return {
            "access_protocol_list": ["iscsi"],
            "alarms_enabled": True,
            "compressed_snap_usage_bytes": s["snap_usage"],
            "compressed_vol_usage_bytes": s["vol_usage"],
            "compression_ratio": 1.0,
            "creation_time": d["creation_time"],
            "date": now(),
            "default_iscsi_target_scope": d["default_iscsi_target_scope"],
            "default_snap_limit": d["default_snap_limit"]
            if d["default_snap_limit"] is not None
            else 9223372036854775807,
            "default_snap_reserve": d["default_snap_reserve"],
            "default_snap_warn_level": d["default_snap_warn_level"],
            "default_volume_limit": d["default_volume_limit"],
            "default_volume_reserve": d["default_volume_reserve"],
            "default_volume_warn_level": d["default_volume_warn_level"],
            "description": d["description"],
            "fc_enabled": False,
            "free_space": s["free_space"],
            "group_target_enabled": d["group_target_enabled"],
            "group_target_name": _group_target(d, self.m.guid)
            if d["group_target_enabled"]
            else None,
            "id": d["id"],
            "iscsi_enabled": True,
            "last_modified": d["last_modified"],
            "leader_array_name": array["name"],
            "leader_array_serial": array["serial"],
            "member_list": [array["name"]],
            "name": d["name"],
            "num_snapcolls": 0,
            "num_snaps": s["snap_count"],
            "raw_capacity": s["capacity"] * 4 // 3,
            "snap_usage_populated": s["snap_usage"],
            "unique_name_enabled": True,
            "usable_capacity_bytes": s["capacity"],
            "usage": s["usage"],
            "usage_valid": True,
            "user_inactivity_timeout": d["user_inactivity_timeout"],
            "version_current": SOFTWARE_VERSION,
            "version_target": SOFTWARE_VERSION,
            "vol_usage_compressed_bytes": s["vol_usage"],
            "vvol_enabled": False,
        }

    def update(self, ctx: Ctx, doc: Doc, raw: dict[str, Any], force: bool) -> Doc:
        data = v.check_body(raw, GROUP_UPDATE)
        if data.get("id") and data["id"] != doc["id"]:
            raise SimError("SM_invalid_arg_value", arg="id", value=data["id"])
        for key, value in data.items():
            if key != "id":
                doc[key] = value
        self.m.save(ctx.tx, doc)
        return doc


ARRAY_KEYS = _words(
    "all_flash available_bytes creation_time full_name group_state id last_modified model name "
    "pool_id pool_name raw_capacity_bytes role search_name serial snap_usage_bytes status "
    "usable_cache_capacity_bytes usable_capacity_bytes usage usage_valid version vol_usage_bytes"
)


class ArraySet(ObjectSet):
    name = "arrays"
    type = "array"
    sample_keys = tuple(ARRAY_KEYS)

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        s = self.m.space(ctx)
        pool = ctx.preload("pool")[0]
        return {
            "all_flash": True,
            "available_bytes": s["free_space"],
            "creation_time": d["creation_time"],
            "full_name": d["name"],
            "group_state": "in_group",
            "id": d["id"],
            "last_modified": d["last_modified"],
            "model": ARRAY_MODEL,
            "name": d["name"],
            "pool_id": pool["id"],
            "pool_name": pool["name"],
            "raw_capacity_bytes": s["capacity"] * 4 // 3,
            "role": "leader",
            "search_name": d["name"],
            "serial": d["serial"],
            "snap_usage_bytes": s["snap_usage"],
            "status": "reachable",
            "usable_cache_capacity_bytes": 0,
            "usable_capacity_bytes": s["capacity"],
            "usage": s["usage"],
            "usage_valid": True,
            "version": SOFTWARE_VERSION,
            "vol_usage_bytes": s["vol_usage"],
        }


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


SUBNET_KEYS = _words(
    "allow_group allow_iscsi creation_time discovery_ip failover failover_enable_time id label "
    "last_modified mtu name netmask netzone_type network type vlan_id"
)


class SubnetSet(ObjectSet):
    name = "subnets"
    type = "subnet"
    sample_keys = tuple(SUBNET_KEYS)

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        return subnet_object(self.m.config, d)


def subnet_object(config: Config, d: Doc) -> Doc:
    data = d["label"] == "data"
    ip = config.iscsi_portal_ip if data else config.mgmt_ip
    return {
        "allow_group": not data,
        "allow_iscsi": data,
        "creation_time": d["creation_time"],
        "discovery_ip": discovery_address(config) if data else "",
        "failover": True,
        "failover_enable_time": 0,
        "id": d["id"],
        "label": d["label"],
        "last_modified": d["last_modified"],
        "mtu": 1500,
        "name": d["name"],
        "netmask": "255.255.255.0" if ":" not in ip else "ffff:ffff:ffff:ffff::",
        "netzone_type": "none",
        "network": _network_of(ip),
        "type": "data" if data else "mgmt",
        "vlan_id": 0,
    }


NETCONFIG_KEYS = _words(
    "active_since array_list creation_time group_leader_array id ignore_validation_mask "
    "iscsi_automatic_connection_method iscsi_connection_rebalancing last_active last_modified "
    "mgmt_ip name role route_list secondary_mgmt_ip subnet_list"
)


class NetworkConfigSet(ObjectSet):
    name = "network_configs"
    type = "netconfig"
    sample_keys = tuple(NETCONFIG_KEYS)

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        cfg = self.m.config
        subnets = [subnet_object(cfg, s) for s in ctx.preload("subnet")]
        array = ctx.preload("array")[0]
        return {
            "active_since": d["creation_time"],
            "array_list": [
                {
                    "name": array["name"],
                    "member_gid": 1,
                    "ctrlr_a_support_ip": cfg.mgmt_ip,
                    "ctrlr_b_support_ip": cfg.mgmt_ip,
                    "nic_list": [
                        {
                            "name": "eth1",
                            "subnet_label": "management",
                            "data_ip": cfg.mgmt_ip,
                            "tagged": False,
                        },
                        {
                            "name": "tg1",
                            "subnet_label": "data",
                            "data_ip": cfg.iscsi_portal_ip,
                            "tagged": False,
                        },
                    ],
                }
            ],
            "creation_time": d["creation_time"],
            "group_leader_array": array["name"],
            "id": d["id"],
            "ignore_validation_mask": 0,
            "iscsi_automatic_connection_method": True,
            "iscsi_connection_rebalancing": True,
            "last_active": d["creation_time"],
            "last_modified": d["last_modified"],
            "mgmt_ip": cfg.mgmt_ip,
            "name": d["name"],
            "role": d["role"],
            "route_list": None,
            "secondary_mgmt_ip": "",
            "subnet_list": [
                {
                    k: s[k]
                    for k in (
                        "label",
                        "network",
                        "netmask",
                        "netzone_type",
                        "type",
                        "allow_iscsi",
                        "allow_group",
                        "discovery_ip",
                        "mtu",
                        "vlan_id",
                        "failover",
                        "failover_enable_time",
                    )
                }
                for s in subnets
            ],
        }


JOB_KEYS = _words(
    "completion_time creation_time current_phase current_phase_description description id "
    "last_modified name object_id op_type parent_job_id percent_complete request response "
    "result state total_phases type"
)


class JobSet(ObjectSet):
    """Every operation completes synchronously, so the array never has a job to report."""

    name = "jobs"
    type = "job"
    sample_keys = tuple(JOB_KEYS)

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        return {k: d.get(k) for k in JOB_KEYS}


TOKEN_KEYS = _words(
    "app_name creation_time expiry_time id last_modified sdk_name server_uuid session_token "
    "source_ip username"
)
TOKEN_CREATE: dict[str, v.Validator] = {
    "username": v.v_str(104, allow_empty=False),
    "password": v.v_secret,
    "app_name": v.v_str(255),
    "source_ip": v.v_str(64),
    "sdk_name": v.v_str(255),
    "otp_code": v.v_str(64),
    "grant_type": v.v_str(255),
    "assertion": v.v_str(8192),
}


TOKEN_PRUNE_INTERVAL = 60.0


class TokenSet(ObjectSet):
    name = "tokens"
    type = "token"
    _last_prune = 0.0
    raw_fields = frozenset({"id", "username", "app_name", "session_token"})
    sample_keys = tuple(TOKEN_KEYS)
    summary_keys = ("id",)

    def render(self, ctx: Ctx, d: Doc) -> Doc:
        timeout = ctx.group["user_inactivity_timeout"]
        return {
            "app_name": d["app_name"],
            "creation_time": d["creation_time"],
            "expiry_time": self.m.token_expiry(d, timeout),
            "id": d["id"],
            "last_modified": d["last_modified"],
            "sdk_name": d["sdk_name"],
            "server_uuid": "",
            "session_token": d["session_token"],
            "source_ip": d["source_ip"],
            "username": d["username"],
        }

    def login(self, ctx: Ctx, raw: dict[str, Any], peer_ip: str) -> Doc:
        data = v.check_body(raw, TOKEN_CREATE, ("username",))
        cfg = self.m.config
        if not (
            secrets.compare_digest(data["username"].encode(), cfg.username.encode())
            and secrets.compare_digest(
                str(data.get("password", "")).encode(), cfg.password.encode()
            )
        ):
            raise SimError("SM_http_unauthorized", status=401)
        self._prune(ctx)
        doc = self.m.new_doc(
            ctx.tx,
            "token",
            session_token=secrets.token_hex(16),
            username=data["username"],
            app_name=data.get("app_name", ""),
            sdk_name=data.get("sdk_name", ""),
            source_ip=data.get("source_ip") or peer_ip,
        )
        self.m.save(ctx.tx, doc)
        return doc

    def _prune(self, ctx: Ctx) -> None:
        """Forget expired sessions, at most once a minute, so CI runs that log in thousands of
        times do not grow the state without bound."""
        t = self.m.clock()
        if t - self._last_prune < TOKEN_PRUNE_INTERVAL:
            return
        self._last_prune = t
        timeout = ctx.group["user_inactivity_timeout"]
        for doc in ctx.tx.list("token"):
            if self.m.token_expiry(doc, timeout) < t:
                ctx.tx.delete(doc["id"])

    def delete(self, ctx: Ctx, doc: Doc) -> None:
        ctx.tx.delete(doc["id"])
