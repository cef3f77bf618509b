"""A volume's delete sends the offline request only when it is needed (``_common.delete_volume``),
against the real simulator: an offline volume is deleted at once; one that state calls offline
but the array has online is taken offline when the array refuses; a refused delete leaves the
volume as it found it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from tfnimble.nimble import _common as c
from tfnimble.nimble import dependents
from tfnimble.nimble.client import NimbleClient, snapshots, volumes
from tfnimble.plugin import Context, DiagnosticError
from tfnimble.sim import server

USER, PASSWORD = "admin", "sim-Pa55word"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    srv = server.SimServer(
        tmp_path_factory.mktemp("sim"), username=USER, password=PASSWORD, durable=False
    ).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def nc(sim: Any) -> Iterator[NimbleClient]:
    cl = NimbleClient(sim.host, sim.port, USER, PASSWORD, ca_file=sim.ca_file, retries=1)
    cl.login()
    yield cl
    cl.close()


def _ctx(nc: NimbleClient) -> Context:
    return Context(provider_data=nc, stop_event=threading.Event(), timeout=60)


def _sent(sim: Any) -> dict[str, int]:
    return dict(sim.app.stats.to_json()["requests"])


def test_an_offline_volume_is_deleted_without_an_offline_request(
    sim: Any, nc: NimbleClient
) -> None:
    vol = volumes.create_volume(nc, "del-offline", 16, online=False)
    sim.app.stats.reset()
    c.delete_volume(_ctx(nc), vol.id, vol.name, "volume", was_online=False)
    assert _sent(sim) == {"DELETE /v1/volumes/{id}": 1}
    assert volumes.get_volume(nc, vol.id) is None


def test_an_online_volume_is_taken_offline_first(sim: Any, nc: NimbleClient) -> None:
    vol = volumes.create_volume(nc, "del-online", 16)
    sim.app.stats.reset()
    c.delete_volume(_ctx(nc), vol.id, vol.name, "volume", was_online=True)
    assert _sent(sim) == {"PUT /v1/volumes/{id}": 1, "DELETE /v1/volumes/{id}": 1}
    assert volumes.get_volume(nc, vol.id) is None


def test_state_says_offline_but_the_array_has_it_online(sim: Any, nc: NimbleClient) -> None:
    vol = volumes.create_volume(nc, "del-stale", 16)
    sim.app.stats.reset()
    c.delete_volume(_ctx(nc), vol.id, vol.name, "volume", was_online=False)
    assert _sent(sim) == {"DELETE /v1/volumes/{id}": 2, "PUT /v1/volumes/{id}": 1}
    assert sim.app.stats.to_json()["statuses"].get("409") == 1  # the refusal it recovered from
    assert volumes.get_volume(nc, vol.id) is None


def test_a_refused_delete_puts_back_online_only_what_it_took_offline(
    sim: Any, nc: NimbleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dependents, "IDLE", 0.0)
    monkeypatch.setattr(dependents, "POLL", 0.01)
    for name, was_online in (("refused-a", True), ("refused-b", False)):
        vol = volumes.create_volume(nc, name, 16)  # online on the array
        snap = snapshots.create_snapshot(nc, vol.id, "s")
        clone = volumes.clone_volume(nc, f"{name}-clone", snap.id)
        with pytest.raises(DiagnosticError) as info:
            c.delete_volume(_ctx(nc), vol.id, vol.name, "volume", was_online=was_online)
        assert clone.name in info.value.detail
        after = volumes.get_volume(nc, vol.id)
        assert after is not None and after.online, "the refused delete left it offline"
    # an offline volume that cannot go stays offline: nothing onlines what it did not offline
    vol = volumes.create_volume(nc, "refused-c", 16)
    snap = snapshots.create_snapshot(nc, vol.id, "s")
    volumes.clone_volume(nc, "refused-c-clone", snap.id)
    volumes.set_volume_online(nc, vol.id, False)
    with pytest.raises(DiagnosticError):
        c.delete_volume(_ctx(nc), vol.id, vol.name, "volume", was_online=False)
    after = volumes.get_volume(nc, vol.id)
    assert after is not None and not after.online
