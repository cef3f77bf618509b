"""The client against the real simulator over HTTPS, with TLS verified against the sim's CA."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tfnimble.nimble.client import (
    AuthenticationFailed,
    Conflict,
    NimbleClient,
    TLSVerificationFailed,
    access_control_records,
    groups,
    initiator_groups,
    network,
    performance_policies,
    pools,
    snapshots,
    volumes,
)
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


def _make(sim: Any, **kw: Any) -> NimbleClient:
    kw.setdefault("ca_file", sim.ca_file)
    kw.setdefault("password", PASSWORD)
    return NimbleClient(sim.host, sim.port, USER, retries=2, backoff=0.05, **kw)


@pytest.fixture
def nc(sim: Any) -> Iterator[NimbleClient]:
    c = _make(sim)
    yield c
    c.close()


def _name(request: pytest.FixtureRequest, suffix: str = "") -> str:
    base = request.node.name.replace("_", "-").replace("[", "-").replace("]", "")
    return f"{base}{suffix}"[:200]


def test_sim_group_pool_policy(nc: NimbleClient) -> None:
    assert groups.get_group(nc).name
    pool = pools.find_pool_by_name(nc, "default")
    assert pool is not None and pools.get_pool(nc, pool.id) == pool
    pol = performance_policies.find_performance_policy_by_name(nc, "default")
    assert pol is not None and pol.block_size == 4096


def test_sim_volume_lifecycle(nc: NimbleClient, request: pytest.FixtureRequest) -> None:
    name = _name(request)
    vol = volumes.create_volume(nc, name, 64, description="d")
    assert (vol.name, vol.size_mib, vol.online) == (name, 64, True)
    assert volumes.find_volume_by_name(nc, name) == volumes.get_volume(nc, vol.id)
    assert volumes.update_volume(nc, vol.id, size_mib=128).size_mib == 128
    with pytest.raises(Conflict) as info:
        volumes.create_volume(nc, name, 64)
    assert info.value.code == "SM_eexist" and "SM_eexist" in str(info.value)
    assert volumes.set_volume_online(nc, vol.id, True).online is True  # already online
    volumes.offline_and_delete_volume(nc, vol.id)
    assert volumes.get_volume(nc, vol.id) is None
    volumes.offline_and_delete_volume(nc, vol.id)  # gone already: fine


def test_sim_snapshot_clone_and_refusals(nc: NimbleClient, request: pytest.FixtureRequest) -> None:
    name = _name(request)
    vol = volumes.create_volume(nc, name, 64)
    snap = snapshots.create_snapshot(nc, vol.id, "base")
    assert snapshots.find_snapshot_by_name(nc, vol.id, "base") == snapshots.get_snapshot(
        nc, snap.id
    )
    clone = volumes.clone_volume(nc, name + "-c", snap.id, size_mib=128)
    assert clone.clone and clone.base_snap_id == snap.id and clone.size_mib == 128
    assert [c.id for c in snapshots.list_clones_of_snapshot(nc, snap.id)] == [clone.id]
    with pytest.raises(Conflict):
        snapshots.delete_snapshot(nc, snap.id)
    volumes.offline_and_delete_volume(nc, clone.id)
    snapshots.delete_snapshot(nc, snap.id)
    volumes.offline_and_delete_volume(nc, vol.id)


def test_sim_initiator_group_and_acr(nc: NimbleClient, request: pytest.FixtureRequest) -> None:
    name = _name(request)
    vol = volumes.create_volume(nc, name, 16)
    ig = initiator_groups.create_initiator_group(nc, name, ["iqn.1993-08.org.debian:01:aa"])
    ig = initiator_groups.update_initiator_group(
        nc, ig.id, initiators=["iqn.1993-08.org.debian:01:bb"]
    )
    assert ig.iqns == ("iqn.1993-08.org.debian:01:bb",)
    acr = access_control_records.create_access_control_record(nc, vol.id, ig.id)
    assert access_control_records.find_access_control_record(nc, vol.id, ig.id) == acr
    access_control_records.delete_access_control_record(nc, acr.id)
    initiator_groups.delete_initiator_group(nc, ig.id)
    volumes.offline_and_delete_volume(nc, vol.id)


def test_sim_discovery(nc: NimbleClient) -> None:
    disc = network.get_discovery(nc)
    assert disc.group_name and disc.discovery_ip


def test_sim_many_concurrent_clones(nc: NimbleClient, request: pytest.FixtureRequest) -> None:
    name = _name(request)
    vol = volumes.create_volume(nc, name, 16)
    snap = snapshots.create_snapshot(nc, vol.id, "base")
    with ThreadPoolExecutor(20) as pool:
        clones = list(
            pool.map(lambda i: volumes.clone_volume(nc, f"{name}-{i}", snap.id), range(40))
        )
    assert len({c.id for c in clones}) == 40
    assert len(volumes.list_volumes(nc, {"base_snap_id": snap.id})) == 40
    with ThreadPoolExecutor(20) as pool:
        list(pool.map(lambda c: volumes.offline_and_delete_volume(nc, c.id), clones))
    snapshots.delete_snapshot(nc, snap.id)
    volumes.offline_and_delete_volume(nc, vol.id)


def test_sim_untrusted_certificate_is_refused(sim: Any) -> None:
    c = NimbleClient(sim.host, sim.port, USER, PASSWORD, retries=0)
    with pytest.raises(TLSVerificationFailed, match="ca_file"):
        c.login()


def test_sim_wrong_password(sim: Any) -> None:
    c = _make(sim, password="wrong-password")
    with pytest.raises(AuthenticationFailed) as info:
        c.login()
    assert "wrong-password" not in str(info.value)


# ------------------------------------------------------------------ faults injected by the sim


def _faults(sim: Any, rules: list[dict[str, Any]]) -> None:
    import requests

    resp = requests.put(
        f"{sim.url}/sim/faults",
        json={"seed": 1, "rules": rules},
        auth=(USER, PASSWORD),
        verify=sim.ca_file,
        timeout=10,
    )
    resp.raise_for_status()


@pytest.fixture
def faults(sim: Any) -> Iterator[Any]:
    yield lambda rules: _faults(sim, rules)
    _faults(sim, [])


def test_sim_lost_create_response_is_adopted(
    nc: NimbleClient, faults: Any, request: pytest.FixtureRequest
) -> None:
    name = _name(request)
    nc.login()
    faults([{"method": "POST", "path": "^/v1/volumes$", "drop_rate": 1, "times": 1}])
    vol = volumes.create_volume(nc, name, 32)
    assert vol.name == name and vol.size_mib == 32
    assert [v.id for v in volumes.list_volumes(nc, {"name": name})] == [vol.id]
    volumes.offline_and_delete_volume(nc, vol.id)


def test_sim_lost_clone_response_is_adopted(
    nc: NimbleClient, faults: Any, request: pytest.FixtureRequest
) -> None:
    name = _name(request)
    vol = volumes.create_volume(nc, name, 16)
    snap = snapshots.create_snapshot(nc, vol.id, "base")
    faults([{"method": "POST", "path": "^/v1/volumes$", "drop_rate": 1, "times": 1}])
    clone = volumes.clone_volume(nc, name + "-c", snap.id)
    assert clone.base_snap_id == snap.id
    assert len(snapshots.list_clones_of_snapshot(nc, snap.id)) == 1
    volumes.offline_and_delete_volume(nc, clone.id)
    snapshots.delete_snapshot(nc, snap.id)
    volumes.offline_and_delete_volume(nc, vol.id)


def test_sim_lost_delete_response_is_success(
    nc: NimbleClient, faults: Any, request: pytest.FixtureRequest
) -> None:
    vol = volumes.create_volume(nc, _name(request), 16, online=False)
    faults([{"method": "DELETE", "path": "^/v1/volumes/", "drop_rate": 1, "times": 1}])
    volumes.delete_volume(nc, vol.id)
    assert volumes.get_volume(nc, vol.id) is None


def test_sim_503_on_get_is_retried(nc: NimbleClient, faults: Any) -> None:
    nc.login()
    faults(
        [{"method": "GET", "path": "^/v1/pools", "error_rate": 1, "error_status": 503, "times": 2}]
    )
    assert pools.find_pool_by_name(nc, "default") is not None


def test_sim_500_on_create_is_not_retried(
    nc: NimbleClient, faults: Any, request: pytest.FixtureRequest
) -> None:
    from tfnimble.nimble.client import NimbleAPIError

    name = _name(request)
    nc.login()
    faults(
        [
            {
                "method": "POST",
                "path": "^/v1/volumes$",
                "error_rate": 1,
                "error_status": 500,
                "times": 1,
            }
        ]
    )
    with pytest.raises(NimbleAPIError) as info:
        volumes.create_volume(nc, name, 16)
    assert info.value.status == 500
    assert volumes.find_volume_by_name(nc, name) is None


def test_sim_expired_session_relogs_in(nc: NimbleClient, faults: Any) -> None:
    nc.login()
    before = nc.login_count
    faults([{"method": "GET", "path": "^/v1/groups", "expire_sessions_rate": 1, "times": 1}])
    assert groups.get_group(nc).name  # expiry may apply to this call or the next one
    assert groups.get_group(nc).name
    assert nc.login_count == before + 1
