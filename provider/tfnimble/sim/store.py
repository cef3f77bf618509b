"""SQLite persistence for nimble-sim.

Invariants:
- Every acknowledged change is committed before the reply is written (WAL, synchronous=FULL), so
  ``kill -9`` at any moment loses nothing that a client saw succeed.
- Writers are serialized in-process by one lock around ``BEGIN IMMEDIATE`` (SQLite's busy handler
  backs off in large sleeps, which would stall 100 concurrent writers); readers never wait for
  writers (WAL snapshots).
- One process per state directory, enforced with an exclusive ``flock`` on ``DIR/sim.lock``.
- Objects are JSON documents keyed by their 42-hex id; ``(type, scope, name)`` is unique so the
  array's name-uniqueness rules hold even if a rule check were skipped.
- A write transaction records which objects it put or deleted (``Tx.changed``) and runs the
  store's ``before_commit`` hooks inside the transaction, so a derived table (the space ledger)
  is brought up to date atomically with the objects it is derived from.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import json
import os
import queue
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seq (type TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    name TEXT,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS objects_name ON objects (type, scope, name);
CREATE INDEX IF NOT EXISTS objects_type ON objects (type, id);
CREATE INDEX IF NOT EXISTS objects_scope ON objects (type, scope, id);
CREATE TABLE IF NOT EXISTS space (
    family TEXT PRIMARY KEY,
    vol_used INTEGER NOT NULL,
    snap_used INTEGER NOT NULL,
    reserve INTEGER NOT NULL,
    unused INTEGER NOT NULL,
    vols INTEGER NOT NULL,
    snaps INTEGER NOT NULL
);
"""

Doc = dict[str, Any]

#: The columns of one row of the space ledger, in order (see ``Tx.set_space``).
SPACE_COLUMNS = ("vol_used", "snap_used", "reserve", "unused", "vols", "snaps")


class StateLocked(RuntimeError):
    """Another nimble-sim process owns this state directory."""


class Tx:
    """One transaction's view of the store. Documents carry ``id`` and ``type`` keys."""

    def __init__(self, conn: sqlite3.Connection, writable: bool) -> None:
        self._conn = conn
        self.writable = writable
        self._after_commit: list[Any] = []
        #: (type, id, scope) of every object put or deleted in this transaction.
        self.changed: set[tuple[str, str, str]] = set()

    def get(self, obj_id: str) -> Doc | None:
        row = self._conn.execute("SELECT doc FROM objects WHERE id = ?", (obj_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def by_name(self, obj_type: str, name: str, scope: str = "") -> Doc | None:
        row = self._conn.execute(
            "SELECT doc FROM objects WHERE type = ? AND scope = ? AND name = ?",
            (obj_type, scope, name),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def list(self, obj_type: str, scope: str | None = None) -> list[Doc]:
        if scope is None:
            rows = self._conn.execute(
                "SELECT doc FROM objects WHERE type = ? ORDER BY id", (obj_type,)
            )
        else:
            rows = self._conn.execute(
                "SELECT doc FROM objects WHERE type = ? AND scope = ? ORDER BY id",
                (obj_type, scope),
            )
        return [json.loads(r[0]) for r in rows]

    def ids(self, obj_type: str) -> builtins.list[str]:
        return [
            r[0]
            for r in self._conn.execute(
                "SELECT id FROM objects WHERE type = ? ORDER BY id", (obj_type,)
            )
        ]

    def count(self, obj_type: str, scope: str | None = None) -> int:
        if scope is None:
            row = self._conn.execute("SELECT count(*) FROM objects WHERE type = ?", (obj_type,))
        else:
            row = self._conn.execute(
                "SELECT count(*) FROM objects WHERE type = ? AND scope = ?", (obj_type, scope)
            )
        return int(row.fetchone()[0])

    def ids_where(self, obj_type: str, key: str, values: builtins.list[str]) -> builtins.list[str]:
        """Ids of ``obj_type`` objects whose document field ``key`` is one of ``values``."""
        if not values or not key.isidentifier():
            return []
        marks = ",".join("?" * len(values))
        rows = self._conn.execute(
            f"SELECT id FROM objects WHERE type = ? AND json_extract(doc, '$.{key}') IN ({marks})",
            (obj_type, *values),
        ).fetchall()
        return [r[0] for r in rows]

    def put(self, doc: Doc, *, scope: str = "", name: str | None = None) -> None:
        self._need_write()
        self._conn.execute(
            "INSERT INTO objects (id, type, scope, name, doc) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET scope = excluded.scope, name = excluded.name, "
            "doc = excluded.doc",
            (doc["id"], doc["type"], scope, name, json.dumps(doc, separators=(",", ":"))),
        )
        self.changed.add((doc["type"], doc["id"], scope))

    def delete(self, obj_id: str) -> None:
        self._need_write()
        row = self._conn.execute(
            "DELETE FROM objects WHERE id = ? RETURNING type, scope", (obj_id,)
        ).fetchone()
        if row is not None:
            self.changed.add((row[0], obj_id, row[1]))

    def set_space(self, family: str, row: tuple[int, ...] | None) -> None:
        """Store (or, with ``None``, drop) one family's row of the space ledger."""
        self._need_write()
        if row is None:
            self._conn.execute("DELETE FROM space WHERE family = ?", (family,))
            return
        self._conn.execute(
            f"INSERT OR REPLACE INTO space (family, {', '.join(SPACE_COLUMNS)}) "
            f"VALUES (?{', ?' * len(SPACE_COLUMNS)})",
            (family, *row),
        )

    def space_totals(self) -> dict[str, int]:
        """The sums of the space ledger's columns (zeros when it is empty)."""
        sums = ", ".join(f"coalesce(sum({c}), 0)" for c in SPACE_COLUMNS)
        row = self._conn.execute(f"SELECT {sums} FROM space").fetchone()
        return dict(zip(SPACE_COLUMNS, (int(x) for x in row), strict=True))

    def clear_space(self) -> None:
        self._need_write()
        self._conn.execute("DELETE FROM space")

    def next_seq(self, obj_type: str) -> int:
        self._need_write()
        row = self._conn.execute(
            "INSERT INTO seq (type, last) VALUES (?, 1) "
            "ON CONFLICT(type) DO UPDATE SET last = last + 1 RETURNING last",
            (obj_type,),
        ).fetchone()
        return int(row[0])

    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._need_write()
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def after_commit(self, fn: Any) -> None:
        """Run ``fn()`` once the transaction has committed (never on rollback)."""
        self._after_commit.append(fn)

    def _need_write(self) -> None:
        if not self.writable:
            raise RuntimeError("write in a read transaction")


class Store:
    def __init__(self, state_dir: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "sim.sqlite3"
        self._durable = durable
        self._lock_fd = os.open(self.dir / "sim.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise StateLocked(f"{self.dir} is in use by another nimble-sim process") from None
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False
        #: Called with the transaction just before every write transaction commits (an
        #: exception rolls it back).
        self.before_commit: list[Any] = []
        conn = self._connect()
        with self._all_lock:
            self._all.append(conn)
        conn.executescript(_SCHEMA)
        self._pool.put(conn)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=60.0
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys=OFF")
        return conn

    @contextlib.contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise RuntimeError("store is closed")
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._connect()
            with self._all_lock:
                self._all.append(conn)
        try:
            yield conn
        finally:
            self._pool.put(conn)

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        with self._conn() as conn:
            conn.execute("BEGIN")
            try:
                yield Tx(conn, writable=False)
            finally:
                conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        with self._conn() as conn, self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            tx = Tx(conn, writable=True)
            try:
                yield tx
                for hook in self.before_commit:
                    hook(tx)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        for fn in tx._after_commit:
            fn()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._all_lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
