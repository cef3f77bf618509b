"""Models: tolerant parsing, raw excluded from equality and repr; discovery selection."""

from __future__ import annotations

from typing import Any

import pytest
from nimble_fake_array import FakeArray
from tfnimble.nimble.client import (
    AccessControlRecord,
    InitiatorGroup,
    NetworkConfig,
    NimbleClient,
    NimbleError,
    Snapshot,
    Volume,
    groups,
    network,
)

# Trimmed from the real capture quoted in HPE's published SDK documentation, plus lenient typing.
VOLUME = {
    "id": "0649686580b78e0b16000000000000000000000004",
    "name": "myvol2",
    "size": "2048",
    "online": "true",
    "vol_state": "online",
    "clone": False,
    "base_snap_id": "",
    "pool_name": "default",
    "serial_number": "2ee4231f34e21d4b6c9ce900966ee6fe",
    "target_name": "iqn.2007-11.com.nimblestorage:nva-test-grp-g49686580b78e0b16",
    "total_usage_bytes": 0,
    "snap_limit": 9223372036854775807,
    "access_control_records": [
        {
            "acl_id": "0d00000000000004d3000000000000000000000001",
            "apply_to": "both",
            "initiator_group_id": "02aa",
            "initiator_group_name": "hosts",
            "lun": 0,
        }
    ],
    "metadata": None,
    "some_future_field": {"x": 1},
}


def test_volume_from_api_tolerates_strings_nulls_and_extra_keys() -> None:
    vol = Volume.from_api(VOLUME)
    assert vol.size_mib == 2048 and vol.online is True and vol.clone is False
    assert vol.num_snaps == 0 and vol.raw["some_future_field"] == {"x": 1}
    (acr,) = vol.access_control_records
    assert acr.id.startswith("0d") and acr.vol_id == vol.id and acr.lun == 0


def test_raw_is_excluded_from_equality_hash_and_repr() -> None:
    a = Volume.from_api(VOLUME)
    b = Volume.from_api({**VOLUME, "some_future_field": "changed"})
    assert a == b and hash(a) == hash(b)
    assert "some_future_field" not in repr(a)
    with pytest.raises(AttributeError):
        a.name = "x"  # type: ignore[misc]


def test_snapshot_size_kept_raw_and_initiator_wildcards() -> None:
    snap = Snapshot.from_api({"id": "s", "name": "n", "vol_id": "v", "size": 1073741824})
    assert snap.size == 1073741824 and snap.online is False
    ig = InitiatorGroup.from_api(
        {
            "id": "i",
            "name": "g",
            "iscsi_initiators": [
                {"label": "l", "iqn": "iqn.x", "ip_address": "*"},
                {"label": "m", "iqn": "*", "ip_address": "10.0.0.1"},
            ],
        }
    )
    assert ig.iqns == ("iqn.x",) and ig.iscsi_initiators[1].ip_address == "10.0.0.1"
    acr = AccessControlRecord.from_api({"id": "a", "volume_id": "v", "lun": None})
    assert acr.vol_id == "v" and acr.lun is None


def _netconfig(subnets: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "active",
        "role": "active",
        "mgmt_ip": "10.0.0.5",
        "subnet_list": subnets,
        "array_list": [
            {
                "name": "a1",
                "nic_list": [
                    {"name": "eth1", "subnet_label": "mgmt", "data_ip": ""},
                    {"name": "eth2", "subnet_label": "data1", "data_ip": "10.1.0.11"},
                    {"name": "eth3", "subnet_label": "data1", "data_ip": "10.1.0.12"},
                    {"name": "eth4", "subnet_label": "md", "data_ip": "10.0.0.21"},
                ],
            },
            {
                "name": "a2",
                "nic_list": [
                    {"name": "eth2", "subnet_label": "data1", "data_ip": "10.1.0.13"},
                ],
            },
        ],
    }


@pytest.mark.parametrize("mgmt_type", ["mgmt_data", "mgmt-data", "mgmt,data"])
def test_discovery_prefers_data_subnet_then_mgmt_data(mgmt_type: str) -> None:
    md = {"label": "md", "type": mgmt_type, "allow_iscsi": True, "discovery_ip": "10.0.0.20"}
    data = {"label": "data1", "type": "data", "allow_iscsi": True, "discovery_ip": "10.1.0.10"}
    noiscsi = {"label": "x", "type": "data", "allow_iscsi": False, "discovery_ip": "10.9.0.1"}
    cfg = NetworkConfig.from_api(_netconfig([md, noiscsi, data]))
    subnet = cfg.iscsi_subnet()
    assert subnet is not None and subnet["label"] == "data1"
    assert cfg.data_ips("data1") == ("10.1.0.11", "10.1.0.12", "10.1.0.13")
    only_md = NetworkConfig.from_api(_netconfig([noiscsi, md]))
    assert (only_md.iscsi_subnet() or {})["discovery_ip"] == "10.0.0.20"


def test_get_discovery(client: NimbleClient, fake: FakeArray) -> None:
    fake.add(
        "network_configs",
        _netconfig(
            [
                {"label": "mgmt", "type": "mgmt", "allow_iscsi": False, "discovery_ip": ""},
                {
                    "label": "data1",
                    "type": "data",
                    "allow_iscsi": True,
                    "discovery_ip": "10.1.0.10",
                },
            ]
        ),
    )
    disc = network.get_discovery(client)
    assert disc.group_name == "group-sim" and disc.discovery_ip == "10.1.0.10"
    assert disc.data_ips == ("10.1.0.11", "10.1.0.12", "10.1.0.13")
    call = next(c for c in fake.calls if c.path == "/network_configs/detail")
    assert call.query == {"role": "active"}
    assert groups.get_group(client).version_current == "6.1.0.0-1"


def test_get_discovery_without_iscsi_subnet_is_a_clear_error(
    client: NimbleClient, fake: FakeArray
) -> None:
    fake.add("network_configs", _netconfig([{"label": "mgmt", "type": "mgmt"}]))
    with pytest.raises(NimbleError, match="no subnet that allows iSCSI"):
        network.get_discovery(client)
