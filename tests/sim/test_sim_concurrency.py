"""Many clients at once: distinct creates, racing creates, no request blocks the others."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sim_testkit import Api, hold_latency
from tfnimble.sim.server import SimServer


def _clients(sim: SimServer, n: int) -> list[Api]:
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda _: Api(sim.url, sim.ca_file), range(n)))


def _together(n: int, fn) -> list:
    barrier = threading.Barrier(n)

    def run(i: int):
        barrier.wait(timeout=30)
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_100_concurrent_distinct_creates_all_succeed(sim: SimServer) -> None:
    clients = _clients(sim, 100)
    results = _together(
        100, lambda i: clients[i].post("/v1/volumes", {"name": f"vol-{i:03d}", "size": 64})
    )
    assert [r.status for r in results] == [201] * 100
    ids = {r.data["id"] for r in results}
    assert len(ids) == 100
    listed = clients[0].get("/v1/volumes").json
    assert listed["totalRows"] == 100 and {v["id"] for v in listed["data"]} == ids
    seqs = sorted(int(i[-8:], 16) for i in ids)
    assert seqs == list(range(1, 101))


def test_100_concurrent_creates_of_one_name_give_one_winner(sim: SimServer) -> None:
    clients = _clients(sim, 100)
    results = _together(
        100, lambda i: clients[i].post("/v1/volumes", {"name": "contested", "size": 64})
    )
    assert sorted(r.status for r in results) == [201] + [409] * 99
    assert sum(r.code == "SM_eexist" for r in results if r.status == 409) == 99
    assert clients[0].get("/v1/volumes", name="contested").json["totalRows"] == 1


def test_a_slow_request_does_not_block_the_others(sim: SimServer) -> None:
    # The slow request is held inside its latency until the test releases it, so the fast
    # ones provably ran while it was still in flight (no wall-clock margin).
    inside, release = hold_latency(sim)
    api = Api(sim.url, sim.ca_file)
    api.admin("PUT", "/sim/faults", {"rules": [{"path": "^/v1/pools", "latency_ms": 3000}]})
    clients = _clients(sim, 50)
    slow_result: list[int] = []
    slow = threading.Thread(target=lambda: slow_result.append(api.get("/v1/pools").status))
    slow.start()
    try:
        assert inside.wait(timeout=60)
        results = _together(50, lambda i: clients[i].get("/v1/groups"))
        assert [r.status for r in results] == [200] * 50
        assert slow.is_alive() and slow_result == [] and not release.is_set()
    finally:
        release.set()
        slow.join(timeout=60)
    assert slow_result == [200]


def test_mixed_parallel_workload_keeps_invariants(sim: SimServer) -> None:
    api = Api(sim.url, sim.ca_file)
    base = api.volume("base", 1024)
    snap = api.snapshot(base["id"], "golden")
    clients = _clients(sim, 40)

    def work(i: int) -> int:
        c = clients[i]
        clone = c.post("/v1/volumes", {"name": f"c{i}", "clone": True, "base_snap_id": snap["id"]})
        assert clone.status == 201, clone.json
        c.get("/v1/volumes/detail", pageSize=10)
        c.put(f"/v1/volumes/{clone.data['id']}", {"online": False})
        return c.delete(f"/v1/volumes/{clone.data['id']}").status if i % 2 else 201

    assert set(_together(40, work)) == {200, 201}
    remaining = api.get("/v1/volumes/detail", clone="true").data
    assert len(remaining) == 20 and all(v["base_snap_id"] == snap["id"] for v in remaining)
    r = api.delete(f"/v1/snapshots/{snap['id']}")
    assert r.code == "SM_snap_has_clone"
