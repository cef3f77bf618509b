"""client.reads: refreshes of clones of one snapshot share one listing (the simulator over
HTTPS counts the requests; its fault rules fail, expire and hold them)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tfnimble.nimble.client import NimbleAPIError, NimbleClient, snapshots, volumes
from tfnimble.nimble.client.reads import FRESH_SECONDS, VolumeReads, reads_of
from tfnimble.nimble.resource_clone_volume import CloneVolumeModel, CloneVolumeResource
from tfnimble.sim import server

USER, PASSWORD = "admin", "reads-Pa55word"
FIELDS = CloneVolumeResource.READ_FIELDS


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    state = tmp_path_factory.mktemp("sim")
    with server.SimServer(state, username=USER, password=PASSWORD, durable=False) as srv:
        yield srv


@pytest.fixture
def nc(sim: Any) -> Iterator[NimbleClient]:
    c = NimbleClient(sim.host, sim.port, USER, PASSWORD, ca_file=sim.ca_file, retries=1, backoff=0)
    c.login()
    yield c
    sim.faults.clear()
    c.close()


@pytest.fixture
def family(
    sim: Any, nc: NimbleClient, request: pytest.FixtureRequest
) -> tuple[dict[str, str], list[str]]:
    """({"base_snap_id": S}, the ids of 12 clones of S); the sim's request counts start here."""
    name = request.node.name.replace("_", "-").replace("[", "-").replace("]", "")[:40]
    base = volumes.create_volume(nc, f"{name}-base", 1024)
    snap = snapshots.create_snapshot(nc, base.id, "s")
    ids = [volumes.clone_volume(nc, f"{name}-c{i}", snap.id).id for i in range(12)]
    sim.app.stats.reset()
    return {"base_snap_id": snap.id}, ids


def _requests(sim: Any) -> dict[str, int]:
    return dict(sim.app.stats.to_json()["requests"])


def test_concurrent_reads_of_one_family_share_one_listing(
    sim: Any, nc: NimbleClient, family: tuple[dict[str, str], list[str]]
) -> None:
    fam, ids = family
    reads = VolumeReads(nc)
    with ThreadPoolExecutor(10) as pool:
        found = list(pool.map(lambda i: reads.get(i, fam, FIELDS), ids))
    assert [v.id for v in found if v is not None] == ids
    assert all(v is not None and v.base_snap_id == fam["base_snap_id"] for v in found)
    assert _requests(sim) == {"GET /v1/volumes/detail": 1} and reads.listings == 1
    assert reads.get(ids[0], fam, FIELDS) is not None  # a later read: the same listing
    assert _requests(sim) == {"GET /v1/volumes/detail": 1}


def test_the_listing_asks_only_for_the_fields_a_refresh_reads(
    nc: NimbleClient, family: tuple[dict[str, str], list[str]]
) -> None:
    fam, ids = family
    vol = VolumeReads(nc).get(ids[3], fam, FIELDS)
    assert vol is not None and set(vol.raw) == set(FIELDS)
    # ... and those are all the refresh's model needs: the same model as from a full GET
    full = volumes.get_volume(nc, ids[3])
    assert full is not None and set(full.raw) > set(FIELDS)
    state = CloneVolumeModel(id=ids[3], snapshot_id=fam["base_snap_id"])
    res = CloneVolumeResource()
    assert res.to_model(vol, state) == res.to_model(full, state)


def test_a_clone_deleted_behind_terraforms_back_is_gone(
    sim: Any, nc: NimbleClient, family: tuple[dict[str, str], list[str]]
) -> None:
    fam, ids = family
    volumes.offline_and_delete_volume(nc, ids[5])
    sim.app.stats.reset()
    reads = VolumeReads(nc)
    assert reads.get(ids[5], fam, FIELDS) is None
    # not in the listing: the array's own 404 decides
    assert _requests(sim) == {"GET /v1/volumes/detail": 1, "GET /v1/volumes/{id}": 1}
    assert reads.get(ids[6], fam, FIELDS) is not None


def test_a_volume_outside_its_family_is_read_on_its_own(
    nc: NimbleClient, family: tuple[dict[str, str], list[str]]
) -> None:
    fam, ids = family
    other = volumes.create_volume(nc, f"outside-{ids[0][-6:]}", 64)
    found = VolumeReads(nc).get(other.id, fam, FIELDS)
    assert found is not None and (found.id, found.name) == (other.id, other.name)


def test_a_failed_listing_fails_every_waiting_read_and_is_not_kept(
    sim: Any, nc: NimbleClient, family: tuple[dict[str, str], list[str]]
) -> None:
    fam, ids = family
    inside, release = threading.Event(), threading.Event()

    def hold(_seconds: float) -> None:  # the listing's reply waits until every reader waits
        inside.set()
        release.wait(timeout=60)

    sim.faults.sleep = hold
    rule = {"method": "GET", "path": "^/v1/volumes/detail", "error_rate": 1, "latency_ms": 1}
    sim.faults.configure({"rules": [rule]})
    reads = VolumeReads(nc)
    errors: list[BaseException] = []

    def read(vol_id: str) -> None:
        try:
            reads.get(vol_id, fam, FIELDS)
        except NimbleAPIError as err:
            errors.append(err)

    threads = [threading.Thread(target=read, args=(i,)) for i in ids[:6]]
    threads[0].start()
    assert inside.wait(timeout=60)
    for t in threads[1:]:
        t.start()
    release.set()
    for t in threads:
        t.join(timeout=60)
    assert len(errors) == 6 and all(e.status == 503 for e in errors)  # type: ignore[attr-defined]
    assert reads.listings == 1
    sim.faults.clear()
    assert reads.get(ids[0], fam, FIELDS) is not None  # tried again, not the failure kept
    assert reads.listings == 2


def test_a_session_that_expires_mid_listing_is_renewed(
    sim: Any, nc: NimbleClient, family: tuple[dict[str, str], list[str]]
) -> None:
    fam, ids = family
    rule = {"path": "^/v1/volumes/detail", "expire_sessions_rate": 1, "times": 1}
    sim.faults.configure({"rules": [rule]})
    logins = nc.login_count
    assert VolumeReads(nc).get(ids[1], fam, FIELDS) is not None
    assert nc.login_count == logins + 1


def test_a_write_or_time_ends_a_listing(
    sim: Any, nc: NimbleClient, family: tuple[dict[str, str], list[str]]
) -> None:
    fam, ids = family
    now = [0.0]
    reads = VolumeReads(nc, clock=lambda: now[0])
    assert reads.get(ids[2], fam, FIELDS).description == ""  # type: ignore[union-attr]
    volumes.update_volume(nc, ids[2], description="changed")  # this client wrote
    assert reads.get(ids[2], fam, FIELDS).description == "changed"  # type: ignore[union-attr]
    assert reads.listings == 2
    now[0] += FRESH_SECONDS - 0.1
    reads.get(ids[2], fam, FIELDS)
    assert reads.listings == 2
    now[0] += 0.2
    reads.get(ids[2], fam, FIELDS)
    assert reads.listings == 3


def test_a_write_that_ends_after_a_listing_was_sent_ends_it(
    nc: NimbleClient, family: tuple[dict[str, str], list[str]]
) -> None:
    fam, ids = family
    reads = VolumeReads(nc)
    with nc.writes.writing():  # as if another thread's PUT were on the wire
        reads.get(ids[0], fam, FIELDS)
        reads.get(ids[1], fam, FIELDS)  # the write may land either side of both reads
        assert reads.listings == 1
    reads.get(ids[0], fam, FIELDS)  # it has ended: a read now must see it
    assert reads.listings == 2


def test_an_array_that_refuses_the_query_gets_plain_gets(
    sim: Any, nc: NimbleClient, family: tuple[dict[str, str], list[str]]
) -> None:
    _, ids = family
    reads = reads_of(nc)
    assert reads is reads_of(nc)
    odd = {"no_such_field": "x"}  # the array answers 400 SM_unexpected_query_param
    assert reads.get(ids[4], odd, FIELDS) is not None
    assert reads.get(ids[5], odd, FIELDS) is not None
    assert _requests(sim) == {"GET /v1/volumes/detail": 1, "GET /v1/volumes/{id}": 2}
