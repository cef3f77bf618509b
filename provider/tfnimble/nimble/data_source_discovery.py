"""nimble_discovery data source: what an iSCSI initiator needs to find the array."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfnimble.plugin import Attribute, Context, DataSource, Schema, types

from . import _common as c


@dataclass
class DiscoveryDataModel:
    group_name: Any = None
    discovery_ip: Any = None
    data_ips: Any = None
    subnet_label: Any = None


class DiscoveryDataSource(DataSource):
    TYPE_NAME = "discovery"
    Model = DiscoveryDataModel

    def schema(self) -> Schema:
        return Schema(
            description=(
                "The array group's name, its iSCSI discovery IP and data IPs: the portal "
                "`glance_iscsi_store` (or `iscsiadm -m discovery`) needs."
            ),
            attributes={
                "group_name": Attribute(
                    type=types.String, computed=True, description="Name of the array group."
                ),
                "discovery_ip": Attribute(
                    type=types.String,
                    computed=True,
                    description="iSCSI discovery IP of the data subnet (port 3260).",
                ),
                "data_ips": Attribute(
                    type=types.List(types.String),
                    computed=True,
                    description="Data IPs of the arrays' network interfaces on that subnet.",
                ),
                "subnet_label": Attribute(
                    type=types.String,
                    computed=True,
                    description="Label of the subnet used for iSCSI.",
                ),
            },
        )

    def read(self, ctx: Context, config: DiscoveryDataModel) -> DiscoveryDataModel:
        from .client import network

        cl = c.client(ctx)
        d = c.call(lambda: network.get_discovery(cl), "read", "discovery", cl.host)
        return DiscoveryDataModel(
            group_name=d.group_name,
            discovery_ip=d.discovery_ip,
            data_ips=list(d.data_ips),
            subnet_label=d.subnet_label,
        )
