"""Typed, immutable views of NimbleOS objects.

Every model is a frozen dataclass built with ``from_api(dict)``. Its fields are declared once;
one builder reads each field from the array's dict under the field's own name (or the key(s)
in the field's ``api`` metadata) and coerces the value by the field's annotation:

- ``str``: ``null`` or a missing key gives the field's default, anything else ``str(value)``.
- ``str | None``: ``null``, a missing key and ``""`` give ``None``.
- ``int``: numbers and numeric strings (``"2048"``, ``"2.5"`` truncates); ``null``, booleans
  and anything unparsable give the field's default.
- ``int | None``: ``int(value)``; ``null``, booleans and unparsable values give ``None``.
- ``bool``: the strings ``true``, ``1``, ``yes`` and ``on`` (trimmed, any case) are true, other
  strings false, other values by truthiness; ``null`` gives the field's default.
- ``tuple[str, ...]`` and ``tuple[<model>, ...]``: built from a JSON list (its non-object
  items are skipped for models); anything else gives ``()``.

A field without a default defaults to the type's empty value (``""``, ``0``). Several keys in
``api`` are tried in order and the first non-empty value wins. The ``null`` metadata names the
array's own spelling of "unset" (``"*"`` for initiator addresses); ``inherit`` fills empty
string fields of nested models from their parent (a volume's embedded access control records
take its id and name). Extra keys are ignored and ``raw`` keeps the array's full dict for
fields not modelled here; it is excluded from equality, hashing and repr.

Units are the array's own: volume ``size_mib`` in MiB, ``*_bytes`` in bytes, times in epoch
seconds. Snapshot ``size`` is kept in the array's unit, unconverted (which unit that is, is an
open question).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Self

__all__ = [
    "AccessControlRecord",
    "ChapUser",
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
_TRUE_STRINGS = ("true", "1", "yes", "on")


def _text(v: Any, default: str = "") -> str:
    return default if v is None else str(v)


def _opt_text(v: Any, _default: None = None) -> str | None:
    return None if v is None or v == "" else str(v)


def _int(v: Any, default: int = 0) -> int:
    if v is None or isinstance(v, bool):
        return default
    if isinstance(v, int):
        return v
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return default


def _opt_int(v: Any, _default: None = None) -> int | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _bool(v: Any, default: bool = False) -> bool:
    if v is None:
        return default
    if isinstance(v, str):
        return v.strip().lower() in _TRUE_STRINGS
    return bool(v)


def _items(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _str_tuple(v: Any, _default: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(str(p) for p in _items(v))


#: Coercer per scalar annotation: (value, default) -> coerced value.
_SCALARS: dict[Any, Callable[[Any, Any], Any]] = {
    str: _text,
    str | None: _opt_text,
    int: _int,
    int | None: _opt_int,
    bool: _bool,
    tuple[str, ...]: _str_tuple,
}
_EMPTY: dict[Any, Any] = {str: "", int: 0, bool: False, tuple[str, ...]: ()}


@dataclass(frozen=True)
class _Field:
    """How one model field is read: from which keys, coerced how, defaulting to what."""

    name: str
    keys: tuple[str, ...]
    coerce: Callable[[Any, Any], Any] | None  # None for a tuple of models
    default: Any
    null: str | None
    #: For a tuple of models: the builder's context for each item, as
    #: {item field: field of this model already read}.
    inherit: Mapping[str, str]
    item_model: type[_ApiModel] | None


@dataclass(frozen=True)
class _Plan:
    fields: tuple[_Field, ...]
    has_raw: bool


_PLANS: dict[type[_ApiModel], _Plan] = {}


def _plan(cls: type[_ApiModel]) -> _Plan:
    """The field plan of ``cls``, made on first use (plans are immutable, so a race between
    two threads only makes the same plan twice)."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _make_plan(cls)
    return plan


def _make_plan(cls: type[_ApiModel]) -> _Plan:
    hints = typing.get_type_hints(cls)
    plan: list[_Field] = []
    has_raw = False
    for f in fields(cls):  # type: ignore[arg-type]  # every _ApiModel is a dataclass
        if f.name == "raw":
            has_raw = True
            continue
        hint = hints[f.name]
        item_model = _model_items(hint)
        if item_model is None and hint not in _SCALARS:
            raise TypeError(f"{cls.__name__}.{f.name}: no coercion for {hint!r}")
        if f.default is not MISSING:
            default = f.default
        elif item_model is not None:
            default = ()
        else:
            default = _EMPTY.get(hint)
        api = f.metadata.get("api", f.name)
        plan.append(
            _Field(
                name=f.name,
                keys=(api,) if isinstance(api, str) else tuple(api),
                coerce=_SCALARS.get(hint),
                default=default,
                null=f.metadata.get("null"),
                inherit=f.metadata.get("inherit", {}),
                item_model=item_model,
            )
        )
    return _Plan(tuple(plan), has_raw)


def _model_items(hint: Any) -> type[_ApiModel] | None:
    """The model ``M`` of a ``tuple[M, ...]`` annotation, else ``None``."""
    if typing.get_origin(hint) is not tuple:
        return None
    args = typing.get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis and isinstance(args[0], type):
        item = args[0]
        if issubclass(item, _ApiModel):
            return item
    return None


def _read(spec: _Field, d: JSON, values: Mapping[str, Any]) -> Any:
    if spec.item_model is not None:
        context = {item_field: values[ours] for item_field, ours in spec.inherit.items()}
        return tuple(
            _build(spec.item_model, item, context)
            for item in _items(d.get(spec.keys[0]))
            if isinstance(item, Mapping)
        )
    assert spec.coerce is not None
    result: Any = None
    for key in spec.keys:
        v = d.get(key)
        result = spec.coerce(None if spec.null is not None and v == spec.null else v, spec.default)
        if result:
            break
    return result


_M = typing.TypeVar("_M", bound="_ApiModel")


def _build(cls: type[_M], d: JSON, context: Mapping[str, str] | None = None) -> _M:
    """Build ``cls`` from the array's dict. ``context`` fills string fields left empty."""
    plan = _plan(cls)
    values: dict[str, Any] = {}
    for spec in plan.fields:
        value = _read(spec, d, values)
        if context and not value and spec.name in context:
            value = context[spec.name]
        values[spec.name] = value
    if plan.has_raw:
        values["raw"] = dict(d)
    return cls(**values)


class _ApiModel:
    """Base of the models built from the array's JSON (subclasses are frozen dataclasses;
    a ``raw`` field, when declared, receives the whole dict)."""

    @classmethod
    def from_api(cls, d: JSON) -> Self:
        return _build(cls, d)


@dataclass(frozen=True)
class AccessControlRecord(_ApiModel):
    """An access control record: which initiator group may see a volume, at which LUN."""

    # Embedded copies in a volume carry acl_id; some firmware lists use volume_id.
    id: str = field(metadata={"api": ("id", "acl_id")})
    vol_id: str = field(default="", metadata={"api": ("vol_id", "volume_id")})
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
    def from_api(cls, d: JSON, vol_id: str = "", vol_name: str = "") -> Self:
        """``vol_id`` and ``vol_name`` fill in what a record embedded in a volume omits."""
        return _build(cls, d, {"vol_id": vol_id, "vol_name": vol_name})


@dataclass(frozen=True)
class Volume(_ApiModel):
    """A volume (or a clone: ``clone`` is true and ``base_snap_id`` names its snapshot)."""

    id: str
    name: str
    size_mib: int = field(metadata={"api": "size"})
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
    access_control_records: tuple[AccessControlRecord, ...] = field(
        default=(), metadata={"inherit": {"vol_id": "id", "vol_name": "name"}}
    )
    raw: JSON = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Snapshot(_ApiModel):
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


@dataclass(frozen=True)
class Initiator(_ApiModel):
    """One iSCSI initiator of an initiator group. Unset iqn/ip read back as ``"*"``."""

    label: str
    iqn: str = field(default="", metadata={"null": "*"})
    ip_address: str = field(default="", metadata={"null": "*"})

    def to_api(self) -> dict[str, str]:
        out = {"label": self.label}
        if self.iqn:
            out["iqn"] = self.iqn
        if self.ip_address:
            out["ip_address"] = self.ip_address
        return out


@dataclass(frozen=True)
class InitiatorGroup(_ApiModel):
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

    @property
    def iqns(self) -> tuple[str, ...]:
        return tuple(i.iqn for i in self.iscsi_initiators if i.iqn)


@dataclass(frozen=True)
class ChapUser(_ApiModel):
    """A CHAP account initiators log in with. The array never returns its secret."""

    id: str
    name: str
    description: str = ""
    initiator_iqns: tuple[str, ...] = ()
    vol_count: int = 0
    creation_time: int = 0
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: JSON) -> Self:
        """``initiator_iqns`` arrives as ``[{"name": IQN}]`` (NsISCSIIQN)."""
        iqns = [i.get("name") for i in d.get("initiator_iqns") or () if isinstance(i, dict)]
        return _build(cls, {**d, "initiator_iqns": [i for i in iqns if isinstance(i, str)]}, {})


@dataclass(frozen=True)
class Pool(_ApiModel):
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


@dataclass(frozen=True)
class PerformancePolicy(_ApiModel):
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


@dataclass(frozen=True)
class Group(_ApiModel):
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


#: Subnet ``type`` spellings seen for a management+data subnet (spec, SDK doc, Cinder).
MGMT_DATA_TYPES = frozenset({"mgmt_data", "mgmt-data", "mgmt,data"})


@dataclass(frozen=True)
class NetworkConfig(_ApiModel):
    """A network configuration (``role`` active, backup or draft)."""

    id: str
    name: str
    role: str
    mgmt_ip: str = ""
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    def iscsi_subnet(self) -> JSON | None:
        """The subnet initiators discover targets on: the first ``data`` subnet that allows
        iSCSI, else the first management+data one (Cinder's order)."""
        subnets = [s for s in _items(self.raw.get("subnet_list")) if isinstance(s, Mapping)]
        iscsi = [s for s in subnets if _bool(s.get("allow_iscsi"), True)]
        for s in iscsi:
            if _text(s.get("type")).lower() == "data":
                return s
        for s in iscsi:
            if _text(s.get("type")).lower() in MGMT_DATA_TYPES:
                return s
        return None

    def data_ips(self, subnet_label: str) -> tuple[str, ...]:
        """Data IPs of every array's NICs on the subnet with that label, in order, unique."""
        out: list[str] = []
        for array in _items(self.raw.get("array_list")):
            if not isinstance(array, Mapping):
                continue
            for nic in _items(array.get("nic_list")):
                if not isinstance(nic, Mapping) or _text(nic.get("subnet_label")) != subnet_label:
                    continue
                ip = _text(nic.get("data_ip"))
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


# Check every model's annotations now, so an uncoercible field fails at import, not at the
# first reply that carries it.
for _model in _ApiModel.__subclasses__():
    _plan(_model)
