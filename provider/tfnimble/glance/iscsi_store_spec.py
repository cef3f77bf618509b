"""What a glance_iscsi_store is asked to be (`StoreSpec`) and what it is (`StoreState`).

Pure data, free of Terraform and of the controller; :mod:`tfnimble.glance.iscsi_store_ops`
walks the store's steps to turn one into the other.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .controller.iscsi import parse_portal

__all__ = ["IN_PLACE_FIELDS", "REPLACE_FIELDS", "STORE_MODE", "StoreSpec", "StoreState"]

STORE_MODE = 0o750
"""Mode of the mount point once the store is in place."""

#: Spec fields :func:`update` applies in place.
IN_PLACE_FIELDS = frozenset({"mount_options", "owner", "service", "force_format"})
#: Spec fields whose change needs a new store (delete, then create).
REPLACE_FIELDS = frozenset(
    {
        "portal",
        "target_iqn",
        "lun",
        "volume_serial",
        "mount_point",
        "fs_type",
        "mkfs_options",
        "config_file",
        "backend",
        "chap_username",
    }
)

_OWNER = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?(?::[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?)?$")
_FORBIDDEN_MOUNT_POINTS = frozenset(
    {
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/var",
        "/var/lib",
    }
)


@dataclass(frozen=True)
class StoreSpec:
    """What the user asked for."""

    portal: str
    """Discovery portal: ``IP``, ``IP:PORT`` or ``[IPv6]:PORT`` (port 3260 by default)."""
    target_iqn: str
    """The volume's target name (``iqn.…``)."""
    lun: int | None
    """LUN of the volume in the target; None detects it (first LUN with a disk, else 0)."""
    mount_point: str
    """Absolute directory where the filesystem is mounted; becomes the Glance datadir."""
    fs_type: str = "ext4"
    mkfs_options: tuple[str, ...] = ("-b", "4096")
    """Extra ``mkfs.<fs_type>`` arguments (for xfs use e.g. ``("-b", "size=4096")``)."""
    mount_options: str = "_netdev,nofail,noatime"
    config_file: str = "/etc/glance/glance-api.conf"
    backend: str | None = None
    """Multi-store backend id; None uses ``default_backend`` (ignored layout: legacy)."""
    service: str | None = None
    """glance-api unit; None detects glance-api, openstack-glance-api or devstack@g-api."""
    owner: str | None = None
    """``user`` or ``user:group`` owning the mount point; None: the unit's User=, else glance."""
    force_format: bool = False
    """Format the device even if it holds a filesystem or partition table (erases it)."""
    device_wait_seconds: float = 30.0
    """How long to wait for udev to create the by-path link after login."""
    volume_serial: str | None = None
    """Serial number of the volume the LUN must be (checked before any mkfs or mount)."""
    chap_username: str | None = None
    """CHAP user the login authenticates as (with ``chap_secret``); None: no CHAP."""
    chap_secret: str | None = field(default=None, repr=False)
    """The CHAP secret: written to the node record through stdin only, never logged."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "mkfs_options", tuple(self.mkfs_options))
        parse_portal(self.portal)
        if not self.target_iqn.startswith(("iqn.", "eui.", "naa.")) or any(
            c.isspace() for c in self.target_iqn
        ):
            raise ValueError(f"target_iqn {self.target_iqn!r} is not an iSCSI name (iqn....)")
        if self.volume_serial is not None and not re.fullmatch(
            r"[0-9A-Fa-f]{16,64}", self.volume_serial
        ):
            raise ValueError(
                f"volume_serial {self.volume_serial!r} is not a volume serial number (hex "
                "digits, e.g. nimble_volume.NAME.serial_number)"
            )
        if self.lun is not None and not 0 <= self.lun < 2**32:
            raise ValueError(f"lun {self.lun} is out of range")
        mp = self.mount_point
        if not mp.startswith("/") or "/../" in mp + "/" or "/./" in mp + "/" or "//" in mp:
            raise ValueError(f"mount_point {mp!r} must be an absolute, normalised path")
        if any(c in mp for c in "\n\r\t\0"):
            raise ValueError("mount_point must not contain control characters")
        if len(mp) > 1 and mp.endswith("/"):
            object.__setattr__(self, "mount_point", mp.rstrip("/"))
        if self.mount_point in _FORBIDDEN_MOUNT_POINTS:
            raise ValueError(f"mount_point {self.mount_point!r} is a system directory")
        if not re.fullmatch(r"[a-z0-9]+", self.fs_type):
            raise ValueError(f"fs_type {self.fs_type!r} is not a filesystem type")
        if not self.mount_options or any(c.isspace() for c in self.mount_options):
            raise ValueError("mount_options must be non-empty and contain no whitespace")
        if self.owner is not None and not _OWNER.match(self.owner):
            raise ValueError(f"owner {self.owner!r} must be 'user' or 'user:group'")
        if not self.config_file.startswith("/"):
            raise ValueError("config_file must be an absolute path")
        if self.chap_secret is not None and self.chap_username is None:
            raise ValueError("chap_secret_wo needs chap_username")


@dataclass(frozen=True)
class StoreState:
    """What is on the controller, as last created or read."""

    fs_uuid: str | None
    """UUID of the store's filesystem: the identity of the store."""
    device: str | None = None
    """Kernel device the by-path link resolved to (``/dev/sdc``); informational only."""
    by_path: str | None = None
    fs_type: str | None = None
    session_id: int | None = None
    target_portal: str | None = None
    """The portal (``IP:PORT``) of the session, as discovery returned it."""
    previous_datadir: str | None = None
    """``filesystem_store_datadir`` before create (None: it was not set); restored on delete."""
    config_layout: str | None = None
    """``legacy`` or ``multi-store``."""
    config_section: str | None = None
    service: str | None = None
    owner: str | None = None
    """``user:group`` owning the mount point."""
    initiator_name: str | None = None
    lun: int | None = None
    mounted: bool = False
    """Mounted at mount_point with this UUID."""
    fstab_ok: bool = False
    """The fstab line for this UUID exists with the spec's mount point, type and options."""
    datadir_ok: bool = False
    """``filesystem_store_datadir`` of the store's section names the mount point."""
    session_ok: bool = False
    """An iSCSI session to ``target_iqn`` is logged in."""
    service_active: bool = False
    """systemd reports the glance-api unit active."""
    owner_ok: bool = False
    """The mount point has the store's owner (and group, when known) and mode 0750."""
    writable: bool = False
    """The service user can write to the mount point."""
    formatted: bool = False
    """This operation made the filesystem (create only)."""
    image_files: int | None = None
    """Regular files in the mounted store (None when not mounted)."""

    @property
    def ok(self) -> bool:
        return not self.drift()

    def drift(self) -> list[str]:
        """What is not as created, in words (empty when everything is in place)."""
        checks = [
            (self.session_ok, "no iSCSI session to the target"),
            (self.mounted, "the filesystem is not mounted at the mount point"),
            (self.fstab_ok, "the /etc/fstab line is missing or differs"),
            (self.datadir_ok, "filesystem_store_datadir no longer points at the mount point"),
            (self.owner_ok, "the mount point's owner or mode differs"),
            (self.service_active, "the glance-api service is not active"),
        ]
        return [message for ok, message in checks if not ok]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoreState:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})
