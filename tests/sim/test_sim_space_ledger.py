"""The space ledger (sim/space.py) always equals a full recount over every volume and snapshot.

Driven in-process through ``App.handle`` (no HTTPS: the ledger is model logic), with a random
but seeded sequence of the operations that change space; refused operations (SM_enospc,
SM_vol_has_clone...) are part of the sequence, since a refusal must leave the ledger as it was.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from tfnimble.sim import space
from tfnimble.sim.app import App, Request
from tfnimble.sim.model import Config, Model
from tfnimble.sim.store import Store

MIB, GIB = 1 << 20, 1 << 30


class Sim:
    def __init__(self, state: Path, capacity: int = 64 * GIB) -> None:
        self.store = Store(state, durable=False)
        self.model = Model(self.store, Config(pool_capacity=capacity))
        self.app = App(self.model)
        login = {"data": {"username": "admin", "password": "admin"}}
        token = self.call("POST", "/v1/tokens", login)[1]["data"]["session_token"]
        self.headers = {"x-auth-token": token}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        raw = json.dumps(body).encode() if body is not None else b""
        headers = getattr(self, "headers", {})
        if path.startswith("/sim/"):
            headers = {"authorization": "Basic YWRtaW46YWRtaW4="}  # admin:admin
        path, _, query = path.partition("?")
        resp = self.app.handle(Request(method, path, query, headers=headers, body=raw))
        return resp.status, resp.body

    def data(self, method: str, path: str, **fields: Any) -> Any:
        status, body = self.call(method, path, {"data": fields})
        return body["data"] if status < 300 else None

    def ids(self, kind: str) -> list[str]:
        with self.store.read() as tx:
            return tx.ids(kind)

    def both(self) -> tuple[dict[str, int], dict[str, int]]:
        """(the ledger's figures, a full recount) in one read transaction."""
        with self.store.read() as tx:
            ctx = self.model.ctx(tx)
            return self.model.space(ctx), space.recount(self.model, ctx)


def _step(sim: Sim, rng: random.Random, n: int) -> None:
    vols, snaps = sim.ids("volume"), sim.ids("snapshot")
    op = rng.choice(
        ["volume", "volume", "snapshot", "clone", "clone", "write", "overwrite", "resize",
         "reserve", "restore", "delete", "delete_snapshot"]
    )  # fmt: skip
    vol = rng.choice(vols) if vols else None
    if op == "volume" or vol is None:
        sim.data(
            "POST",
            "/v1/volumes",
            name=f"v{n}",
            size=rng.choice([64, 1024, 10 * 1024, 40 * 1024]),
            reserve=rng.choice([0, 0, 25, 100]),
            snap_reserve=rng.choice([0, 0, 10, 50]),
        )
    elif op == "snapshot":  # of a volume with data, so that overwrites move blocks to it
        sim.call("POST", f"/sim/volumes/{vol}/write", {"bytes": rng.randrange(0, GIB, MIB)})
        sim.data("POST", "/v1/snapshots", name=f"s{n}", vol_id=vol)
    elif op == "clone" and snaps:
        sim.data("POST", "/v1/volumes", name=f"c{n}", clone=True, base_snap_id=rng.choice(snaps))
    elif op in ("write", "overwrite"):
        if op == "overwrite" and snaps:  # moves blocks to the volume's newest snapshot
            with sim.store.read() as tx:
                vol = tx.get(rng.choice(snaps))["vol_id"]  # type: ignore[index]
        nbytes = rng.randrange(0, 8 * GIB, MIB)
        sim.call(
            "POST", f"/sim/volumes/{vol}/write", {"bytes": nbytes, "overwrite": op == "overwrite"}
        )
    elif op == "resize":
        size = rng.choice([32, 512, 2048, 20 * 1024])
        sim.call("PUT", f"/v1/volumes/{vol}?force=true", {"data": {"size": size}})
    elif op == "reserve":
        sim.data("PUT", f"/v1/volumes/{vol}", reserve=rng.choice([0, 50, 100]))
    elif op == "restore":
        with sim.store.read() as tx:
            own = [s["id"] for s in tx.list("snapshot", vol)]
        if own:
            sim.data("PUT", f"/v1/volumes/{vol}", online=False)
            sim.data("POST", f"/v1/volumes/{vol}/actions/restore", id=vol, base_snap_id=own[0])
            sim.data("PUT", f"/v1/volumes/{vol}", online=True)
    elif op == "delete":
        sim.data("PUT", f"/v1/volumes/{vol}", online=False)
        sim.call("DELETE", f"/v1/volumes/{vol}")
    elif op == "delete_snapshot" and snaps:
        sim.call("DELETE", f"/v1/snapshots/{rng.choice(snaps)}")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ledger_equals_a_full_recount_after_random_operations(tmp_path: Path, seed: int) -> None:
    sim = Sim(tmp_path)
    rng = random.Random(seed)
    seen: dict[str, int] = {}
    for n in range(150):
        _step(sim, rng, n)
        ledger, recount = sim.both()
        assert ledger == recount, f"after step {n} (seed {seed})"
        seen = {k: max(v, seen.get(k, 0)) for k, v in ledger.items()}
    # the sequence reached the interesting cases: data, snapshot data, reservations, a full pool
    assert seen["vol_count"] > 3 and seen["snap_count"] > 0 and seen["usage"] > 0
    assert seen["snap_usage"] > 0 and seen["reserve"] > 0 and seen["unused_reserve"] > 0
    pool = sim.call("GET", "/v1/pools/detail")[1]["data"][0]
    assert (pool["usage"], pool["free_space"]) == (ledger["usage"], ledger["free_space"])


def test_a_state_without_the_ledger_is_rebuilt_at_start(tmp_path: Path) -> None:
    sim = Sim(tmp_path)
    rng = random.Random(7)
    for n in range(60):
        _step(sim, rng, n)
    before, _ = sim.both()
    with sim.store.write() as tx:  # as a state written before the ledger existed
        tx.clear_space()
        tx.set_meta("space_ledger", "0")
    assert sim.both()[0] != before
    sim.store.close()
    again = Sim(tmp_path)
    assert again.both() == (before, before)


def test_a_refused_write_leaves_the_ledger_as_it_was(tmp_path: Path) -> None:
    sim = Sim(tmp_path, capacity=10 * GIB)
    vol = sim.data("POST", "/v1/volumes", name="thick", size=8 * 1024, reserve=100)
    before = sim.both()
    status, body = sim.call(
        "POST", "/v1/volumes", {"data": {"name": "x", "size": 4096, "reserve": 100}}
    )
    assert (status, body["messages"][1]["code"]) == (409, "SM_enospc")
    assert sim.both() == before
    status, _ = sim.call("DELETE", f"/v1/volumes/{vol['id']}")  # online: refused
    assert status == 409 and sim.both() == before
