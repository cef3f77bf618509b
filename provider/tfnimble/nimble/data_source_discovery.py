"""nimble_discovery data source: what an iSCSI initiator needs to find the array."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from tfnimble.plugin import Context, Value, types

from . import _common as c
from . import _fields as f
from ._base import NimbleDataSource

if TYPE_CHECKING:
    from .client import Discovery


@dataclass
class DiscoveryDataModel:
    group_name: Annotated[Value[str], f.out(types.String, "Name of the array group.")] = None
    discovery_ip: Annotated[
        Value[str], f.out(types.String, "iSCSI discovery IP of the data subnet (port 3260).")
    ] = None
    data_ips: Annotated[
        Value[list[str]],
        f.out(
            types.List(types.String),
            "Data IPs of the arrays' network interfaces on that subnet.",
            lambda d: list(d.data_ips),
        ),
    ] = None
    subnet_label: Annotated[
        Value[str], f.out(types.String, "Label of the subnet used for iSCSI.")
    ] = None


class DiscoveryDataSource(NimbleDataSource):
    TYPE_NAME = "discovery"
    Model = DiscoveryDataModel
    DESCRIPTION = (
        "The array group's name, its iSCSI discovery IP and data IPs: the portal "
        "`glance_iscsi_store` (or `iscsiadm -m discovery`) needs."
    )

    def find(self, ctx: Context, config: DiscoveryDataModel) -> Discovery:
        from .client import network

        cl = c.client(ctx)
        return c.call(lambda: network.get_discovery(cl), "read", "discovery", cl.host)
