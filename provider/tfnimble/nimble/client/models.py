"""Typed, immutable views of NimbleOS objects.

Every model is a frozen dataclass built with ``from_api(dict)``, which tolerates extra and
missing keys and the lenient typing real arrays use (``"true"``, numeric strings, ``null``
lists). ``raw`` keeps the array's full dict for fields not modelled here; it is excluded from
equality, hashing and repr.

Units are the array's own: volume ``size_mib`` in MiB, ``*_bytes`` in bytes, times in epoch
seconds. Snapshot ``size`` is kept as the array sends it (its unit is an open question).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AccessControlRecord",
    "Discovery",
    "Group",
    "Initiator",
    "InitiatorGroup",
    "NetworkConfig",
    "PerformancePolicy",
    "Pool",
    "Snapshot",
    "Volume",
]

JSON = Mapping[str, Any]


def _s(d: JSON, key: str, default: str = "") -> str:
    v = d.get(key)
    return default if v is None else str(v)


def _opt_s(d: JSON, key: str) -> str | None:
    v = d.get(key)
    return None if v is None or v == "" else str(v)


def _i(d: JSON, key: str, default: int = 0) -> int:
    v = d.get(key)
    if v is None or isinstance(v, bool):
        return default
    if isinstance(v, int):
        return v
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return default


def _opt_i(d: JSON, key: str) -> int | None:
    v = d.get(key)
    if v is None or isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _b(d: JSON, key: str, default: bool = False) -> bool:
    v = d.get(key)
    if v is None:
        return default
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes", "on")
    return bool(v)


def _list(d: JSON, key: str) -> list[Any]:
    v = d.get(key)
    return v if isinstance(v, list) else []


@dataclass(frozen=True)
class AccessControlRecord:
    """An access control record: which initiator group may see a volume, at which LUN."""

    id: str
    vol_id: str = ""
    vol_name: str = ""
    initiator_group_id: str = ""
    initiator_group_name: str = ""
    apply_to: str = ""
    lun: int | None = None
    pe_id: str = ""
    snap_id: str = ""
    chap_user_id: str = ""
    access_protocol: str = ""
    creation_time: int = 0
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: JSON, vol_id: str = "", vol_name: str = "") -> AccessControlRecord:
        # Embedded copies in a volume carry acl_id; some firmware lists use volume_id.
        return cls(
            id=_s(d, "id") or _s(d, "acl_id"),
            vol_id=_s(d, "vol_id") or _s(d, "volume_id") or vol_id,
            vol_name=_s(d, "vol_name") or vol_name,
            initiator_group_id=_s(d, "initiator_group_id"),
            initiator_group_name=_s(d, "initiator_group_name"),
            apply_to=_s(d, "apply_to"),
            lun=_opt_i(d, "lun"),
            pe_id=_s(d, "pe_id"),
            snap_id=_s(d, "snap_id"),
            chap_user_id=_s(d, "chap_user_id"),
            access_protocol=_s(d, "access_protocol"),
            creation_time=_i(d, "creation_time"),
            raw=dict(d),
        )


@dataclass(frozen=True)
class Volume:
    """A volume (or a clone: ``clone`` is true and ``base_snap_id`` names its snapshot)."""

    id: str
    name: str
    size_mib: int
    description: str = ""
    pool_id: str = ""
    pool_name: str = ""
    perfpolicy_id: str = ""
    perfpolicy_name: str = ""
    online: bool = True
    vol_state: str = ""
    read_only: bool = False
    clone: bool = False
    parent_vol_id: str = ""
    parent_vol_name: str = ""
    base_snap_id: str = ""
    base_snap_name: str = ""
    serial_number: str = ""
    target_name: str = ""
    num_snaps: int = 0
    num_connections: int = 0
    total_usage_bytes: int = 0
    vol_usage_compressed_bytes: int = 0
    vol_usage_uncompressed_bytes: int = 0
    vol_usage_mapped_bytes: int = 0
    snap_usage_compressed_bytes: int = 0
    snap_usage_uncompressed_bytes: int = 0
    snap_usage_populated_bytes: int = 0
    thinly_provisioned: bool = True
    reserve: int = 0
    limit: int = 100
    block_size: int = 4096
    creation_time: int = 0
    last_modified: int = 0
    access_control_records: tuple[AccessControlRecord, ...] = ()
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: JSON) -> Volume:
        vol_id, name = _s(d, "id"), _s(d, "name")
        return cls(
            id=vol_id,
            name=name,
            size_mib=_i(d, "size"),
            description=_s(d, "description"),
            pool_id=_s(d, "pool_id"),
            pool_name=_s(d, "pool_name"),
            perfpolicy_id=_s(d, "perfpolicy_id"),
            perfpolicy_name=_s(d, "perfpolicy_name"),
            online=_b(d, "online", True),
            vol_state=_s(d, "vol_state"),
            read_only=_b(d, "read_only"),
            clone=_b(d, "clone"),
            parent_vol_id=_s(d, "parent_vol_id"),
            parent_vol_name=_s(d, "parent_vol_name"),
            base_snap_id=_s(d, "base_snap_id"),
            base_snap_name=_s(d, "base_snap_name"),
            serial_number=_s(d, "serial_number"),
            target_name=_s(d, "target_name"),
            num_snaps=_i(d, "num_snaps"),
            num_connections=_i(d, "num_connections"),
            total_usage_bytes=_i(d, "total_usage_bytes"),
            vol_usage_compressed_bytes=_i(d, "vol_usage_compressed_bytes"),
            vol_usage_uncompressed_bytes=_i(d, "vol_usage_uncompressed_bytes"),
            vol_usage_mapped_bytes=_i(d, "vol_usage_mapped_bytes"),
            snap_usage_compressed_bytes=_i(d, "snap_usage_compressed_bytes"),
            snap_usage_uncompressed_bytes=_i(d, "snap_usage_uncompressed_bytes"),
            snap_usage_populated_bytes=_i(d, "snap_usage_populated_bytes"),
            thinly_provisioned=_b(d, "thinly_provisioned", True),
            reserve=_i(d, "reserve"),
            limit=_i(d, "limit", 100),
            block_size=_i(d, "block_size", 4096),
            creation_time=_i(d, "creation_time"),
            last_modified=_i(d, "last_modified"),
            access_control_records=tuple(
                AccessControlRecord.from_api(a, vol_id=vol_id, vol_name=name)
                for a in _list(d, "access_control_records")
                if isinstance(a, Mapping)
            ),
            raw=dict(d),
        )


@dataclass(frozen=True)
class Snapshot:
    """A snapshot of one volume. Names are unique per volume."""

    id: str
    name: str
    vol_id: str
    vol_name: str = ""
    size: int = 0
    description: str = ""
    online: bool = False
    writable: bool = False
    creation_time: int = 0
    last_modified: int = 0
    serial_number: str = ""
    target_name: str = ""
    pool_name: str = ""
    offline_reason: str | None = None
    expiry_time: int = 0
    is_replica: bool = False
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: JSON) -> Snapshot:
        return cls(
            id=_s(d, "id"),
            name=_s(d, "name"),
            vol_id=_s(d, "vol_id"),
            vol_name=_s(d, "vol_name"),
            size=_i(d, "size"),
            description=_s(d, "description"),
            online=_b(d, "online"),
            writable=_b(d, "writable"),
            creation_time=_i(d, "creation_time"),
            last_modified=_i(d, "last_modified"),
            serial_number=_s(d, "serial_number"),
            target_name=_s(d, "target_name"),
            pool_name=_s(d, "pool_name"),
            offline_reason=_opt_s(d, "offline_reason"),
            expiry_time=_i(d, "expiry_time"),
            is_replica=_b(d, "is_replica"),
            raw=dict(d),
        )


@dataclass(frozen=True)
class Initiator:
    """One iSCSI initiator of an initiator group. Unset iqn/ip read back as ``"*"``."""

    label: str
    iqn: str = ""
    ip_address: str = ""

    @classmethod
    def from_api(cls, d: JSON) -> Initiator:
        iqn, ip = _s(d, "iqn"), _s(d, "ip_address")
        return cls(
            label=_s(d, "label"), iqn="" if iqn == "*" else iqn, ip_address="" if ip == "*" else ip
        )

    def to_api(self) -> dict[str, str]:
        out = {"label": self.label}
        if self.iqn:
            out["iqn"] = self.iqn
        if self.ip_address:
            out["ip_address"] = self.ip_address
        return out


@dataclass(frozen=True)
class InitiatorGroup:
    """An initiator group: the hosts an access control record grants access to."""

    id: str
    name: str
    description: str = ""
    access_protocol: str = "iscsi"
    iscsi_initiators: tuple[Initiator, ...] = ()
    volume_count: int = 0
    num_connections: int = 0
    creation_time: int = 0
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: JSON) -> InitiatorGroup:
        return cls(
            id=_s(d, "id"),
            name=_s(d, "name"),
            description=_s(d, "description"),
            access_protocol=_s(d, "access_protocol", "iscsi"),
            iscsi_initiators=tuple(
                Initiator.from_api(i)
                for i in _list(d, "iscsi_initiators")
                if isinstance(i, Mapping)
            ),
            volume_count=_i(d, "volume_count"),
            num_connections=_i(d, "num_connections"),
            creation_time=_i(d, "creation_time"),
            raw=dict(d),
        )

    @property
    def iqns(self) -> tuple[str, ...]:
        return tuple(i.iqn for i in self.iscsi_initiators if i.iqn)


@dataclass(frozen=True)
class Pool:
    """A storage pool. Space figures are bytes."""

    id: str
    name: str
    description: str = ""
    capacity: int = 0
    usage: int = 0
    free_space: int = 0
    vol_count: int = 0
    snap_count: int = 0
    is_default: bool = False
    dedupe_capable: bool = False
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: JSON) -> Pool:
        return cls(
            id=_s(d, "id"),
            name=_s(d, "name"),
            description=_s(d, "description"),
            capacity=_i(d, "capacity"),
            usage=_i(d, "usage"),
            free_space=_i(d, "free_space"),
            vol_count=_i(d, "vol_count"),
            snap_count=_i(d, "snap_count"),
            is_default=_b(d, "is_default"),
            dedupe_capable=_b(d, "dedupe_capable"),
            raw=dict(d),
        )


@dataclass(frozen=True)
class PerformancePolicy:
    """A performance policy. ``block_size`` is immutable on the array."""

    id: str
    name: str
    description: str = ""
    block_size: int = 4096
    compress: bool = True
    cache: bool = True
    cache_policy: str = ""
    space_policy: str = ""
    app_category: str = ""
    dedupe_enabled: bool = False
    predefined: bool = False
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: JSON) -> PerformancePolicy:
        return cls(
            id=_s(d, "id"),
            name=_s(d, "name"),
            description=_s(d, "description"),
            block_size=_i(d, "block_size", 4096),
            compress=_b(d, "compress", True),
            cache=_b(d, "cache", True),
            cache_policy=_s(d, "cache_policy"),
            space_policy=_s(d, "space_policy"),
            app_category=_s(d, "app_category"),
            dedupe_enabled=_b(d, "dedupe_enabled"),
            predefined=_b(d, "predefined"),
            raw=dict(d),
        )


@dataclass(frozen=True)
class Group:
    """The array group (there is exactly one)."""

    id: str
    name: str
    version_current: str = ""
    iscsi_enabled: bool = True
    fc_enabled: bool = False
    access_protocol_list: tuple[str, ...] = ()
    group_target_enabled: bool = False
    group_target_name: str | None = None
    default_iscsi_target_scope: str = ""
    usable_capacity_bytes: int = 0
    free_space: int = 0
    usage: int = 0
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: JSON) -> Group:
        return cls(
            id=_s(d, "id"),
            name=_s(d, "name"),
            version_current=_s(d, "version_current"),
            iscsi_enabled=_b(d, "iscsi_enabled", True),
            fc_enabled=_b(d, "fc_enabled"),
            access_protocol_list=tuple(str(p) for p in _list(d, "access_protocol_list")),
            group_target_enabled=_b(d, "group_target_enabled"),
            group_target_name=_opt_s(d, "group_target_name"),
            default_iscsi_target_scope=_s(d, "default_iscsi_target_scope"),
            usable_capacity_bytes=_i(d, "usable_capacity_bytes"),
            free_space=_i(d, "free_space"),
            usage=_i(d, "usage"),
            raw=dict(d),
        )


#: Subnet ``type`` spellings seen for a management+data subnet (spec, SDK doc, Cinder).
MGMT_DATA_TYPES = frozenset({"mgmt_data", "mgmt-data", "mgmt,data"})


@dataclass(frozen=True)
class NetworkConfig:
    """A network configuration (``role`` active, backup or draft)."""

    id: str
    name: str
    role: str
    mgmt_ip: str = ""
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: JSON) -> NetworkConfig:
        return cls(
            id=_s(d, "id"),
            name=_s(d, "name"),
            role=_s(d, "role"),
            mgmt_ip=_s(d, "mgmt_ip"),
            raw=dict(d),
        )

    def iscsi_subnet(self) -> JSON | None:
        """The subnet initiators discover targets on: the first ``data`` subnet that allows
        iSCSI, else the first management+data one (Cinder's order)."""
        subnets = [s for s in _list(self.raw, "subnet_list") if isinstance(s, Mapping)]
        iscsi = [s for s in subnets if _b(s, "allow_iscsi", True)]
        for s in iscsi:
            if _s(s, "type").lower() == "data":
                return s
        for s in iscsi:
            if _s(s, "type").lower() in MGMT_DATA_TYPES:
                return s
        return None

    def data_ips(self, subnet_label: str) -> tuple[str, ...]:
        """Data IPs of every array's NICs on the subnet with that label, in order, unique."""
        out: list[str] = []
        for array in _list(self.raw, "array_list"):
            if not isinstance(array, Mapping):
                continue
            for nic in _list(array, "nic_list"):
                if not isinstance(nic, Mapping) or _s(nic, "subnet_label") != subnet_label:
                    continue
                ip = _s(nic, "data_ip")
                if ip and ip not in out:
                    out.append(ip)
        return tuple(out)


@dataclass(frozen=True)
class Discovery:
    """What an iSCSI initiator needs: the group, its discovery IP and its data IPs."""

    group_name: str
    discovery_ip: str
    data_ips: tuple[str, ...] = ()
    subnet_label: str = ""
