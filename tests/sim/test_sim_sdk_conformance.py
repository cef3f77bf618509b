"""HPE's official Python SDK (nimble-sdk 1.2.1), unmodified, against the simulator.

The SDK hard-codes ``verify=False``; for these tests its module-level ``requests`` is swapped for
a shim that verifies against the simulator's ca.pem instead, so TLS is still checked. Nothing
else in the SDK is touched, and the simulator sees exactly what the SDK sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from nimbleclient import and_, or_
from nimbleclient.exceptions import NimOSAPIError, NimOSAuthenticationError
from nimbleclient.v1 import NimOSClient, VolumeFields, restclient
from sim_testkit import PASSWORD, USER, Api
from tfnimble.sim.server import SimServer


class _VerifyingRequests:
    """``requests`` as the SDK uses it, but verifying TLS against the simulator's CA."""

    def __init__(self, ca_file: str) -> None:
        self._ca = ca_file
        self._session = requests.Session()
        self._session.trust_env = False

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)

    def _call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        assert kwargs.pop("verify") is False  # what the SDK sends; we verify instead
        return self._session.request(method, url, verify=self._ca, timeout=30, **kwargs)

    def get(self, url: str, **kw: Any) -> requests.Response:
        return self._call("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> requests.Response:
        return self._call("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> requests.Response:
        return self._call("PUT", url, **kw)

    def delete(self, url: str, **kw: Any) -> requests.Response:
        return self._call("DELETE", url, **kw)


@pytest.fixture(params=["group", "volume"])
def target_scope(request: pytest.FixtureRequest) -> str:
    """HPE's SDK works against either pairing a real group can have."""
    return str(request.param)


@pytest.fixture
def sdk(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[NimOSClient]:
    monkeypatch.setattr(restclient, "requests", _VerifyingRequests(sim.ca_file))
    monkeypatch.setattr(restclient.SessionManager, "_SESSIONS", {})
    yield NimOSClient("127.0.0.1", USER, PASSWORD, port=sim.port)


def _error_codes(exc: NimOSAPIError) -> str:
    return str(exc.args[0])


def test_login_and_bad_password(sim: SimServer, sdk: NimOSClient) -> None:
    assert sdk._client.session_token and sdk._client.session_id.startswith("19")
    with pytest.raises(NimOSAuthenticationError):
        NimOSClient("127.0.0.1", USER, "wrong", port=sim.port)


def test_versions_groups_pools_policies(sdk: NimOSClient) -> None:
    versions = sdk.versions.list()
    assert versions[0].attrs["name"] == "v1"
    group = sdk.groups.list(detail=True)[0]
    assert group.attrs["name"] == "group-sim" and group.attrs["usage_valid"] is True
    assert len(group.attrs["version_current"].split(".")) >= 3
    assert sdk.groups.get(group.id).attrs["user_inactivity_timeout"] == 1800
    pool = sdk.pools.get(name="default")
    assert pool.id.startswith("0a") and pool.attrs["capacity"] > 0
    policy = sdk.performance_policies.get(name="default")
    assert policy.attrs["block_size"] == 4096
    netconfig = sdk.network_configs.get(role="active")
    data = [s for s in netconfig.attrs["subnet_list"] if s["type"] == "data"]
    assert data[0]["discovery_ip"] == "127.0.0.1"


def test_volume_create_get_update_metadata(sdk: NimOSClient) -> None:
    vol = sdk.volumes.create(
        "myvol1", size=1024, description="My first volume", metadata={"mykey1": "myval1"}
    )
    assert vol.id.startswith("06") and vol.attrs["size"] == 1024
    assert vol.attrs["metadata"] == [{"key": "mykey1", "value": "myval1"}]
    again = sdk.volumes.get(vol.id)
    assert again.attrs["description"] == "My first volume"
    by_name = sdk.volumes.get(name="myvol1")
    assert by_name.id == vol.id
    vol.update(id=vol.id, description="new description", metadata={"mykey2": "v2"})
    vol.reload()
    assert vol.attrs["description"] == "new description"
    assert {m["key"] for m in vol.attrs["metadata"]} == {"mykey1", "mykey2"}
    limited = sdk.volumes.list(name="myvol1", detail=True, fields="name,id,size,online,clone")
    assert limited[0].attrs == {
        "clone": False,
        "id": vol.id,
        "name": "myvol1",
        "online": True,
        "size": 1024,
    }


def test_list_paginates_past_the_server_row_limit(sim: SimServer, sdk: NimOSClient) -> None:
    api = Api(sim.url, sim.ca_file)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: api.volume(f"page-{i:04d}", 1), range(1030)))
    everything = sdk.volumes.list()
    assert len(everything) == 1030 and len({v.id for v in everything}) == 1030
    first = sdk.volumes.list(limit=3)
    assert len(first) == 3
    after = sdk.volumes.list(limit=3, from_id=first[-1].id)
    assert [v.id for v in after] == [v.id for v in everything[3:6]]


def test_filters_and_advanced_criteria(sdk: NimOSClient) -> None:
    for name, size in (("myvol1", 1024), ("myvol2", 2048), ("other", 8192)):
        sdk.volumes.create(name, size=size, metadata={"tier": "gold" if size > 1024 else "x"})
    found = sdk.volumes.list(filter=and_(VolumeFields.name.contains("vol")))
    assert [v.attrs["name"] for v in found] == ["myvol1", "myvol2"]
    myfilter = and_(VolumeFields.name.contains("vol"), VolumeFields.metadata("tier") == "gold")
    got = sdk.volumes.list(detail=True, filter=myfilter, fields="name,size,metadata")
    assert [v.attrs["name"] for v in got] == ["myvol2"] and got[0].id is None
    complex_filter = and_(
        VolumeFields.name.contains("vol"),
        VolumeFields.online == "true",
        or_(
            VolumeFields.protection_type == "unprotected",
            and_(VolumeFields.size <= "4096", VolumeFields.encryption_cipher == None),  # noqa: E711 (the SDK query DSL)
        ),
    )
    assert len(sdk.volumes.list(detail=True, filter=complex_filter)) == 2
    big = sdk.volumes.list(detail=True, filter=and_(VolumeFields.size > 1024))
    assert sorted(v.attrs["name"] for v in big) == ["myvol2", "other"]
    assert sdk.volumes.list(online="false") == []


def test_snapshot_clone_acl_offline_delete(sdk: NimOSClient) -> None:
    vol = sdk.volumes.create("base", size=512)
    snap = sdk.snapshots.create("base-snap", vol_id=vol.id, description="for clones")
    assert snap.attrs["vol_name"] == "base" and snap.attrs["online"] is False
    clone = sdk.volumes.create("clone-1", clone=True, base_snap_id=snap.id)
    assert clone.attrs["clone"] is True and clone.attrs["size"] == 512
    assert clone.attrs["parent_vol_id"] == vol.id
    ig = sdk.initiator_groups.create(
        "hosts",
        access_protocol="iscsi",
        iscsi_initiators=[{"label": "h1", "iqn": "iqn.1993-08.org.debian:01:abc"}],
    )
    acr = sdk.access_control_records.create(
        apply_to="both", vol_id=clone.id, initiator_group_id=ig.id
    )
    assert acr.attrs["initiator_group_name"] == "hosts"
    listed = sdk.access_control_records.list(vol_id=clone.id, initiator_group_id=ig.id)
    assert [a.id for a in listed] == [acr.id]
    snaps = sdk.snapshots.list(vol_name="base")
    assert [s.id for s in snaps] == [snap.id]
    with pytest.raises(NimOSAPIError) as info:
        sdk.snapshots.delete(snap.id)
    assert "SM_snap_has_clone" in _error_codes(info.value)
    sdk.access_control_records.delete(acr.id)
    sdk.initiator_groups.delete(ig.id)
    clone.offline()
    assert sdk.volumes.delete(clone.id) == {}
    sdk.snapshots.delete(snap.id)
    offlined = sdk.volumes.offline(vol.id)
    assert offlined["online"] is False and offlined["offline_reason"] == "user"
    sdk.volumes.delete(vol.id)
    assert sdk.volumes.list() == []


def test_restore_via_sdk(sdk: NimOSClient) -> None:
    vol = sdk.volumes.create("r", size=64)
    snap = sdk.snapshots.create("s", vol_id=vol.id)
    with pytest.raises(NimOSAPIError) as info:
        vol.restore(base_snap_id=snap.id)
    assert "SM_vol_not_offline_on_restore" in _error_codes(info.value)
    vol.offline()
    assert vol.restore(base_snap_id=snap.id)["id"] == vol.id
    vol.online()


@pytest.mark.parametrize(
    ("call", "codes"),
    [
        (lambda s: s.volumes.create("dup", size=1), ("SM_http_conflict", "SM_eexist")),
        (
            lambda s: s.volumes.create("bad/,name", size=1),
            ("SM_http_bad_request", "SM_invalid_arg_value"),
        ),
        (lambda s: s.volumes.create("nosize"), ("SM_http_bad_request", "SM_missing_arg")),
        (lambda s: s.volumes.create("x", size=1, bogus=1), ("SM_unexpected_arg",)),
        (lambda s: s.volumes.delete(s.volumes.get(name="dup").id), ("SM_eperm",)),
        (
            lambda s: s.volumes.update(s.volumes.get(name="dup").id, size=1),
            ("SM_vol_size_decreased",),
        ),
        (lambda s: s.volumes.get("06" + "f" * 40), ("SM_http_not_found", "SM_enoent")),
        (lambda s: s.initiator_groups.create("ig"), ("SM_missing_arg",)),
    ],
)
def test_expected_errors_carry_sm_codes(
    sdk: NimOSClient, call: Any, codes: tuple[str, ...]
) -> None:
    sdk.volumes.create("dup", size=100)
    with pytest.raises(NimOSAPIError) as info:
        call(sdk)
    for code in codes:
        assert code in _error_codes(info.value)


def test_sdk_relogs_in_after_session_expiry(sim: SimServer, sdk: NimOSClient) -> None:
    old = sdk._client.session_token
    Api(sim.url, sim.ca_file).admin("POST", "/sim/sessions/expire")
    vol = sdk.volumes.create("after-expiry", size=8)
    assert vol.attrs["name"] == "after-expiry"
    assert sdk._client.session_token != old


def test_sdk_volume_collection_and_schedule_flow(sdk: NimOSClient) -> None:
    """The flow of HPE's own SDK tests for volume collections and protection schedules."""
    vc = sdk.volume_collections.create(name="sdk-vc", description="created by testcase")
    assert vc.attrs.get("description") == "created by testcase"
    vol = sdk.volumes.create("sdk-vc-vol", size=50)
    joined = sdk.volumes.associate(id=vol.attrs.get("id"), volcoll=vc)
    assert joined.get("volcoll_name") == "sdk-vc"
    assert joined.get("volcoll_id") == vc.attrs.get("id")
    with pytest.raises(NimOSAPIError, match="SM_ebusy"):
        sdk.volume_collections.delete(id=vc.attrs.get("id"))
    sdk.volumes.offline(id=vol.attrs.get("id"))
    with pytest.raises(NimOSAPIError, match="SM_vol_assoc_volcoll"):
        sdk.volumes.delete(id=vol.attrs.get("id"))
    sched = sdk.protection_schedules.create(
        name="sdk-sched",
        days="monday,tuesday,wednesday,thursday,friday",
        description="super cool schedule",
        volcoll_or_prottmpl_id=vc.attrs.get("id"),
        volcoll_or_prottmpl_type="volume_collection",
        num_retain=2,
    )
    assert sched.attrs.get("days") == "monday,tuesday,wednesday,thursday,friday"
    updated = sdk.protection_schedules.update(id=sched.attrs.get("id"), period_unit="minutes")
    assert updated.attrs.get("period_unit") == "minutes"
    sdk.protection_schedules.delete(id=sched.attrs.get("id"))
    assert sdk.volume_collections.get(id=vc.attrs.get("id")).attrs.get("schedule_list") is None
    sdk.volumes.dissociate(id=vol.attrs.get("id"))
    assert sdk.volume_collections.get(id=vc.attrs.get("id")).attrs.get("volume_count") == 0
    sdk.volumes.delete(id=vol.attrs.get("id"))
    sdk.volume_collections.delete(id=vc.attrs.get("id"))
