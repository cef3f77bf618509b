"""Network configuration (``/v1/network_configs``) and iSCSI discovery."""

from __future__ import annotations

from .errors import NimbleError
from .groups import get_group
from .models import Discovery, NetworkConfig
from .session import NimbleClient

__all__ = ["get_active_network_config", "get_discovery"]


def get_active_network_config(client: NimbleClient) -> NetworkConfig:
    """The active network configuration (what Cinder reads)."""
    for row in client.iter_objects("network_configs", {"role": "active"}, kind="network config"):
        if row.get("role", "active") == "active":
            return NetworkConfig.from_api(row)
    raise NimbleError(f"the array at {client.host}:{client.port} has no active network config")


def get_discovery(client: NimbleClient) -> Discovery:
    """Group name, iSCSI discovery IP and data IPs.

    The subnet is the first ``data`` subnet that allows iSCSI, else the first
    management+data one (``mgmt_data``, ``mgmt-data`` or ``mgmt,data``); data IPs are the
    NIC addresses of every array on that subnet.
    """
    config = get_active_network_config(client)
    subnet = config.iscsi_subnet()
    if subnet is None:
        raise NimbleError(
            f"the array at {client.host}:{client.port} has no subnet that allows iSCSI "
            f"(type data or mgmt_data with allow_iscsi)"
        )
    label = str(subnet.get("label") or "")
    discovery_ip = str(subnet.get("discovery_ip") or "")
    if not discovery_ip:
        raise NimbleError(f"iSCSI subnet {label!r} on {client.host} has no discovery_ip")
    return Discovery(
        group_name=get_group(client).name,
        discovery_ip=discovery_ip,
        data_ips=config.data_ips(label),
        subnet_label=label,
    )
