"""The glance_iscsi_store operations, free of Terraform: create, read, update, delete.

A store is: an iSCSI session to ``target_iqn`` (logged in at boot), a filesystem on the LUN,
one ``UUID=`` line in ``/etc/fstab`` with ``_netdev``, the filesystem mounted at
``mount_point`` (owned by the glance user, mode 0750), ``filesystem_store_datadir`` pointing
at it, and glance-api restarted and active.

Rules:

1. **Never reformat data.** ``mkfs`` runs only on a device on which ``blkid -p`` finds
   nothing. A device with a filesystem of the requested type is reused; anything else is an
   error unless ``force_format`` is set, and even then a device that is mounted, or that is
   already this store, is never formatted.
2. **Every step checks before it acts**, so each operation can be re-run after a crash at
   any point and converges: create twice gives one session, one fstab line, one mkfs.
3. **Preflight first.** The config file, the service and its user are checked before
   anything on the controller is changed.
4. **Delete reverses create in order** (datadir, restart, unmount, fstab, node.startup
   manual, logout, node record) and keeps the data on the volume. It refuses while the
   store holds image files, unless ``force_destroy``.
5. ``read`` changes nothing. It reports drift as flags on :class:`StoreState` and returns
   None only when nothing of the store is left.

Spec fields that can change in place (``update``): :data:`IN_PLACE_FIELDS`. Any other change
means a new store (:data:`REPLACE_FIELDS`).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from . import controller as ctl
from . import fstab, glance_conf
from .controller import (
    CommandFailed,
    ConfigError,
    ControllerError,
    DeviceNotFound,
    DiscoveryError,
    FilesystemMismatch,
    FstabError,
    LoginError,
    MountError,
    Portal,
    ServiceError,
    StoreNotEmpty,
)
from .transport.base import Transport

__all__ = [
    "FSTAB",
    "IN_PLACE_FIELDS",
    "REPLACE_FIELDS",
    "CommandFailed",
    "ConfigError",
    "ControllerError",
    "DeviceNotFound",
    "DiscoveryError",
    "FilesystemMismatch",
    "FstabError",
    "LoginError",
    "MountError",
    "Progress",
    "ServiceError",
    "StoreNotEmpty",
    "StoreSpec",
    "StoreState",
    "create",
    "delete",
    "read",
    "repair",
    "update",
]

FSTAB = "/etc/fstab"
STORE_MODE = 0o750

Progress = Callable[[str], None]
Sleep = Callable[[float], None]

#: Spec fields :func:`update` applies in place.
IN_PLACE_FIELDS = frozenset({"mount_options", "owner", "service", "force_format"})
#: Spec fields whose change needs a new store (delete, then create).
REPLACE_FIELDS = frozenset(
    {
        "portal",
        "target_iqn",
        "lun",
        "mount_point",
        "fs_type",
        "mkfs_options",
        "config_file",
        "backend",
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "mkfs_options", tuple(self.mkfs_options))
        ctl.parse_portal(self.portal)
        if not self.target_iqn.startswith(("iqn.", "eui.", "naa.")) or any(
            c.isspace() for c in self.target_iqn
        ):
            raise ValueError(f"target_iqn {self.target_iqn!r} is not an iSCSI name (iqn....)")
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
    session_ok: bool = False
    service_active: bool = False
    owner_ok: bool = False
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
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoreState:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def _noop(_: str) -> None:
    return None


@dataclass
class _Run:
    t: Transport
    spec: StoreSpec
    progress: Progress = _noop
    sleep: Sleep = time.sleep
    notes: list[str] = field(default_factory=list)

    def step(self, message: str) -> None:
        self.notes.append(message)
        self.progress(message)


# -- building blocks -----------------------------------------------------------------------


def _read_config(r: _Run) -> str:
    data = r.t.read_file(r.spec.config_file)
    if data is None:
        raise ConfigError(
            f"{r.spec.config_file} does not exist on the controller; set config_file to "
            "glance-api's configuration file"
        )
    return data.decode("utf-8")


def _locate_datadir(r: _Run, text: str) -> glance_conf.DatadirLocation:
    try:
        return glance_conf.get_datadir(text, r.spec.backend)
    except glance_conf.GlanceConfError as exc:
        raise ConfigError(f"{r.spec.config_file}: {exc}") from exc


def _resolve_service(r: _Run, known: StoreState | None) -> str:
    if r.spec.service:
        return r.spec.service
    if known is not None and known.service:
        return known.service
    return ctl.detect_service(r.t)


def _resolve_owner(r: _Run, service: str) -> tuple[str, str]:
    if r.spec.owner:
        user, _, group = r.spec.owner.partition(":")
    else:
        user = ctl.service_user(r.t, service) or ctl.DEFAULT_SERVICE_USER
        group = ""
    if not ctl.user_exists(r.t, user):
        raise ControllerError(
            f"user {user!r} (owner of the Glance store) does not exist on the controller; "
            "set owner to the user glance-api runs as (glance, stack on devstack, 42415 "
            "on kolla)"
        )
    return user, group or ctl.primary_group(r.t, user)


def _sessions_for(r: _Run) -> list[ctl.Session]:
    return [s for s in ctl.iscsi_sessions(r.t) if s.iqn == r.spec.target_iqn]


def _ensure_session(r: _Run, initiator: str | None) -> tuple[Portal, int | None, bool]:
    """Log in unless a session exists. Returns (portal, session id, session was new)."""
    iqn = r.spec.target_iqn
    existing = _sessions_for(r)
    if existing:
        r.step(f"reusing iSCSI session {existing[0].sid} to {iqn}")
        return existing[0].portal, existing[0].sid, False
    r.step(f"discovering iSCSI targets at {r.spec.portal}")
    targets = ctl.iscsi_discover(r.t, r.spec.portal)
    ours = [x for x in targets if x.iqn == iqn]
    if not ours:
        offered = ", ".join(sorted({x.iqn for x in targets})) or "none"
        who = f" to initiator {initiator}" if initiator else ""
        raise DiscoveryError(
            f"the portal {r.spec.portal} does not offer target {iqn}{who} (offered: "
            f"{offered}). Check the target name, that the volume is online, and that an "
            "access control record allows this controller"
        )
    wanted = ctl.parse_portal(r.spec.portal)
    portal = next((x.portal for x in ours if x.portal == wanted), ours[0].portal)
    r.step(f"logging in to {iqn} at {portal}")
    ctl.iscsi_login(r.t, iqn, portal, initiator=initiator)
    sessions = _sessions_for(r)
    sid = sessions[0].sid if sessions else None
    return portal, sid, True


def _find_device(
    r: _Run, portal: Portal, lun: int, sid: int | None, session_was_new: bool
) -> tuple[str, str]:
    iqn = r.spec.target_iqn
    attempts = max(1, math.ceil(r.spec.device_wait_seconds / 0.5))
    found = ctl.find_by_path_device(r.t, portal, iqn, lun, attempts=attempts, sleep=r.sleep)
    if found is None and sid is not None and not session_was_new:
        # The LUN may have been added to a session that already existed.
        r.step(f"rescanning iSCSI session {sid} for LUN {lun}")
        ctl.iscsi_rescan(r.t, sid)
        found = ctl.find_by_path_device(r.t, portal, iqn, lun, attempts=attempts, sleep=r.sleep)
    if found is None:
        for detail in ctl.iscsi_session_details(r.t):
            disk = detail.luns.get(lun) if detail.iqn == iqn else None
            if disk:
                device = ctl.resolve_path(r.t, f"/dev/{disk}")
                if device:
                    return device, device
    if found is None:
        raise DeviceNotFound(
            f"no disk appeared for LUN {lun} of {iqn} (waited {r.spec.device_wait_seconds:g} s "
            f"for {ctl.by_path_link(portal, iqn, lun)}). Check the lun argument (see "
            "`iscsiadm -m session -P 3`) and that the volume is online"
        )
    return found


def _uuid_of(r: _Run, device: str) -> str | None:
    info = ctl.blkid_probe(r.t, device)
    return None if info is None or info.uuid is None else info.uuid.lower()


def _is_our_store(r: _Run, device: str, uuid: str | None) -> bool:
    """Already this store: mounted at mount_point, or named by its fstab line."""
    m = ctl.mounted_at(r.t, r.spec.mount_point)
    if m is not None and uuid is not None and _uuid_of(r, m.source) == uuid:
        return True
    if uuid is None:
        return False
    text = (r.t.read_file(FSTAB) or b"").decode()
    return fstab.find_line(text, uuid=uuid, mount_point=r.spec.mount_point) is not None


def _format(r: _Run, device: str, *, force: bool) -> None:
    in_use = ctl.findmnt(r.t, source=device)
    if in_use:
        raise FilesystemMismatch(
            f"refusing to format {device}: it is mounted at {in_use[0].target}"
        )
    r.step(f"making the {r.spec.fs_type} filesystem (mkfs.{r.spec.fs_type}) on {device}")
    ctl.mkfs(r.t, device, r.spec.fs_type, r.spec.mkfs_options, force=force)


def _ensure_filesystem(
    r: _Run, device: str, known: StoreState | None, allow_format: bool
) -> tuple[str, bool]:
    """Returns (filesystem UUID, whether this call formatted the device)."""
    spec = r.spec
    info = ctl.blkid_probe(r.t, device)
    known_uuid = known.fs_uuid.lower() if known is not None and known.fs_uuid else None
    formatted = False
    if info is None:
        if known_uuid is not None:
            raise FilesystemMismatch(
                f"{device} ({spec.target_iqn} LUN) is empty, but the store had filesystem "
                f"UUID {known_uuid}: the volume was replaced or wiped. Replace the resource "
                "to make a new store on it"
            )
        if not allow_format:
            raise FilesystemMismatch(f"{device} holds no filesystem")
        _format(r, device, force=False)
        formatted = True
    else:
        mismatch = info.type != spec.fs_type
        wrong_uuid = known_uuid is not None and (info.uuid or "").lower() != known_uuid
        if wrong_uuid:
            raise FilesystemMismatch(
                f"{device} now holds {info.describe()}, not the store's filesystem UUID "
                f"{known_uuid}: the volume was replaced or reformatted. Replace the resource"
            )
        want_force = spec.force_format and allow_format
        if mismatch and not want_force:
            raise FilesystemMismatch(
                f"{device} ({spec.target_iqn}) holds {info.describe()}, not {spec.fs_type}. "
                "Nothing was changed. Set fs_type to match to use it as it is, or set "
                "force_format = true to erase it"
            )
        if want_force and known_uuid is None:
            uuid = (info.uuid or "").lower() or None
            if mismatch or not _is_our_store(r, device, uuid):
                r.step(f"force_format: erasing {info.describe()} on {device}")
                _format(r, device, force=True)
                formatted = True
        elif not mismatch:
            r.step(f"reusing the {info.type} filesystem on {device} (UUID {info.uuid})")
    if formatted:
        info = ctl.blkid_probe(r.t, device)
    if info is None or not info.uuid or info.type != spec.fs_type:
        raise FilesystemMismatch(
            f"{device} has no {spec.fs_type} filesystem UUID after mkfs; see `blkid -p {device}`"
        )
    return info.uuid.lower(), formatted


def _ensure_fstab(r: _Run, uuid: str) -> bool:
    spec = r.spec
    text = (r.t.read_file(FSTAB) or b"").decode()
    try:
        new = fstab.add_line(text, uuid, spec.mount_point, spec.fs_type, spec.mount_options)
    except fstab.FstabConflict as exc:
        raise FstabError(str(exc)) from exc
    if new == text:
        return False
    r.step(f"writing the /etc/fstab line for UUID={uuid}")
    r.t.write_file(FSTAB, new.encode())
    return True


def _refuse_to_hide_files(r: _Run) -> None:
    """Never mount over files: Glance would lose sight of the images they are."""
    mp = r.spec.mount_point
    if ctl.mounted_at(r.t, mp) is not None:
        return
    files = ctl.count_files(r.t, mp)
    if files:
        raise MountError(
            f"{mp} already holds {files} file(s) on the controller's own disk (existing "
            "Glance images?). Mounting the store there would hide them from Glance. Move "
            "them onto the new store after it is mounted elsewhere, or choose an empty "
            "mount_point"
        )


def _ensure_mounted(r: _Run, uuid: str, fstab_changed: bool) -> bool:
    """Mount by the fstab line. True if this call mounted (or remounted) it."""
    mp = r.spec.mount_point
    current = ctl.mounted_at(r.t, mp)
    if current is not None:
        current_uuid = _uuid_of(r, current.source)
        if current_uuid != uuid:
            raise MountError(
                f"{mp} already has {current.source} ({current.fs_type}, UUID {current_uuid}) "
                "mounted. Unmount it or choose another mount_point"
            )
        if fstab_changed:
            r.step(f"remounting {mp} with the new options")
            ctl.remount(r.t, mp)
            return True
        return False
    r.step(f"mounting UUID={uuid} at {mp}")
    ctl.mount(r.t, mp)
    after = ctl.mounted_at(r.t, mp)
    if after is None or _uuid_of(r, after.source) != uuid:
        raise MountError(f"after `mount {mp}`, {mp} does not show filesystem UUID {uuid}")
    return True


def _ensure_owner(r: _Run, user: str, group: str) -> None:
    mp = r.spec.mount_point
    current = ctl.stat_path(r.t, mp)
    if current is None or (current[0], current[1]) != (user, group):
        r.step(f"chown {user}:{group} {mp}")
        ctl.chown(r.t, mp, user, group)
    if current is None or current[2] != STORE_MODE:
        ctl.chmod(r.t, mp, STORE_MODE)


def _owner_ok(r: _Run, owner: str | None) -> bool:
    current = ctl.stat_path(r.t, r.spec.mount_point)
    if current is None or owner is None:
        return False
    user, _, group = owner.partition(":")
    return current[0] == user and (not group or current[1] == group) and current[2] == STORE_MODE


def _verify_service(r: _Run, service: str) -> None:
    state = ctl.wait_service_active(r.t, service, sleep=r.sleep)
    if state != "active":
        journal = ctl.service_journal_tail(r.t, service)
        raise ServiceError(
            f"{service} is {state} after the restart. See `systemctl status {service}` and "
            f"`journalctl -u {service}`"
            + (f". Last log lines: {journal[-600:]}" if journal else "")
        )


def _glance_api_url(conf_text: str) -> str:
    host = glance_conf.get_option(conf_text, "DEFAULT", "bind_host") or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = glance_conf.get_option(conf_text, "DEFAULT", "bind_port") or "9292"
    return f"http://{host}:{port}/v2/info/stores/detail"


def _verify_api_data_dir(r: _Run, conf_text: str, section: str) -> None:
    """If glance-api answers for its stores, it must report the new data_dir."""
    dirs = ctl.glance_store_data_dirs(r.t, _glance_api_url(conf_text))
    if not dirs:
        return  # not answered (auth, single-store layout, not listening): nothing to compare
    store = section if section in dirs else ("file" if "file" in dirs else None)
    if store is None:
        return
    if not glance_conf.same_path(dirs[store], r.spec.mount_point):
        raise ServiceError(
            f"glance-api reports data_dir {dirs[store]} for store {store!r}, not "
            f"{r.spec.mount_point}: it did not pick up {r.spec.config_file}. Check which "
            "configuration file the service reads (e.g. --config-dir)"
        )


# -- operations ----------------------------------------------------------------------------


def _apply(r: _Run, known: StoreState | None, *, allow_format: bool) -> StoreState:
    spec, t = r.spec, r.t

    # Preflight: everything that can be wrong with the request fails before any change.
    conf_text = _read_config(r)
    location = _locate_datadir(r, conf_text)
    service = _resolve_service(r, known)
    user, group = _resolve_owner(r, service)
    initiator = ctl.read_initiator_name(t)
    _refuse_to_hide_files(r)

    portal, sid, new_session = _ensure_session(r, initiator)
    ctl.iscsi_set_startup(t, spec.target_iqn, portal, ctl.AUTOMATIC)
    lun = spec.lun
    if lun is None:
        lun = known.lun if known is not None and known.lun is not None else None
    if lun is None:
        lun = ctl.detect_lun(t, spec.target_iqn)
    link, device = _find_device(r, portal, lun, sid, new_session)

    uuid, formatted = _ensure_filesystem(r, device, known, allow_format)
    ctl.mkdir_p(t, spec.mount_point)
    fstab_changed = _ensure_fstab(r, uuid)
    mount_changed = _ensure_mounted(r, uuid, fstab_changed)
    _ensure_owner(r, user, group)

    # Re-read: the file may have changed since the preflight.
    conf_text = _read_config(r)
    try:
        new_text, previous, layout, section = glance_conf.set_datadir(
            conf_text, spec.mount_point, spec.backend
        )
    except glance_conf.GlanceConfError as exc:
        raise ConfigError(f"{spec.config_file}: {exc}") from exc
    marked, marked_previous = glance_conf.read_marker(conf_text, section)
    if marked:
        previous = marked_previous  # recorded on the controller by an earlier run
    elif known is not None:
        previous = known.previous_datadir
    new_text = glance_conf.add_marker(new_text, section, previous)
    config_changed = new_text != conf_text
    if config_changed:
        r.step(
            f"setting [{section}] filesystem_store_datadir = {spec.mount_point} in "
            f"{spec.config_file} (was {location.value})"
        )
        t.write_file(spec.config_file, new_text.encode())

    active = ctl.service_is_active(t, service) == "active"
    if config_changed or mount_changed or not active:
        r.step(f"restarting {service}")
        ctl.service_restart(t, service)
    _verify_service(r, service)
    _verify_api_data_dir(r, new_text, section)

    if not ctl.is_writable_by(t, user, spec.mount_point):
        raise ControllerError(
            f"{spec.mount_point} is mounted but {user} cannot write to it; check its owner "
            "and mode, and mount options such as ro"
        )
    return StoreState(
        fs_uuid=uuid,
        device=device,
        by_path=link,
        fs_type=spec.fs_type,
        session_id=sid,
        target_portal=str(portal),
        previous_datadir=previous,
        config_layout=layout,
        config_section=section,
        service=service,
        owner=f"{user}:{group}",
        initiator_name=initiator,
        lun=lun,
        mounted=True,
        fstab_ok=True,
        datadir_ok=True,
        session_ok=True,
        service_active=True,
        owner_ok=True,
        writable=True,
        formatted=formatted,
        image_files=ctl.count_files(t, spec.mount_point),
    )


def create(
    transport: Transport,
    spec: StoreSpec,
    progress: Progress | None = None,
    *,
    sleep: Sleep = time.sleep,
) -> StoreState:
    """Make the store (or finish making it after an interrupted run)."""
    return _apply(_Run(transport, spec, progress or _noop, sleep), None, allow_format=True)


def update(
    transport: Transport,
    spec: StoreSpec,
    state: StoreState,
    progress: Progress | None = None,
    *,
    sleep: Sleep = time.sleep,
) -> StoreState:
    """Re-apply ``spec`` to an existing store (in-place changes and drift repair).

    Never formats: the device must still hold the store's filesystem (``state.fs_uuid``).
    """
    return _apply(_Run(transport, spec, progress or _noop, sleep), state, allow_format=False)


repair = update


def read(
    transport: Transport, spec: StoreSpec, known: StoreState | None = None
) -> StoreState | None:
    """The store as it is now, without changing anything; None if nothing of it is left.

    With ``known=None`` (import) the filesystem is identified by the fstab line for
    ``mount_point``, else by what is mounted there.
    """
    r = _Run(transport, spec)
    t = transport
    mp = spec.mount_point

    sessions = _sessions_for(r)
    fstab_text = (t.read_file(FSTAB) or b"").decode()
    uuid = known.fs_uuid.lower() if known is not None and known.fs_uuid else None
    current = ctl.mounted_at(t, mp)
    current_uuid = _uuid_of(r, current.source) if current is not None else None
    if uuid is None:
        entry = fstab.find_line(fstab_text, mount_point=mp)
        uuid = entry.uuid if entry is not None and entry.uuid else current_uuid
    entry = fstab.find_line(fstab_text, uuid=uuid) if uuid else None
    fstab_ok = (
        entry is not None
        and fstab._norm_mp(entry.mount_point) == mp
        and entry.fs_type == spec.fs_type
        and entry.options == spec.mount_options
    )
    mounted = current is not None and uuid is not None and current_uuid == uuid

    conf = t.read_file(spec.config_file)
    layout = section = None
    datadir_ok = False
    marked, marked_previous = False, None
    if conf is not None:
        try:
            location = glance_conf.get_datadir(conf.decode("utf-8"), spec.backend)
            layout, section = location.layout, location.section
            datadir_ok = glance_conf.same_path(location.value, mp)
            marked, marked_previous = glance_conf.read_marker(conf.decode("utf-8"), section)
        except glance_conf.GlanceConfError:
            pass

    if not sessions and not mounted and entry is None and not datadir_ok:
        return None

    service = spec.service or (known.service if known is not None else None)
    if service is None:
        try:
            service = ctl.detect_service(t)
        except ServiceError:
            service = None
    active = service is not None and ctl.service_is_active(t, service) == "active"

    lun = spec.lun if spec.lun is not None else (known.lun if known is not None else None)
    if lun is None and sessions:
        lun = ctl.detect_lun(t, spec.target_iqn)
    device = by_path = None
    if sessions and lun is not None:
        found = ctl.find_by_path_device(t, sessions[0].portal, spec.target_iqn, lun, attempts=1)
        if found is not None:
            by_path, device = found

    owner = known.owner if known is not None else None
    if owner is None and spec.owner:
        owner = spec.owner if ":" in spec.owner else None
    if owner is None and mounted:
        st = ctl.stat_path(t, mp)
        owner = f"{st[0]}:{st[1]}" if st else None
    owner_ok = mounted and _owner_ok(r, owner)
    if spec.owner and owner and ":" not in spec.owner:
        owner_ok = owner_ok and owner.partition(":")[0] == spec.owner
    user = owner.partition(":")[0] if owner else None
    writable = bool(mounted and user and ctl.is_writable_by(t, user, mp))

    base = known if known is not None else StoreState(fs_uuid=uuid)
    return replace(
        base,
        fs_uuid=uuid,
        device=device,
        by_path=by_path,
        fs_type=spec.fs_type if mounted else base.fs_type,
        session_id=sessions[0].sid if sessions else None,
        target_portal=str(sessions[0].portal) if sessions else base.target_portal,
        initiator_name=base.initiator_name or ctl.read_initiator_name(t),
        config_layout=layout or base.config_layout,
        previous_datadir=marked_previous if marked else base.previous_datadir,
        config_section=section or base.config_section,
        service=service,
        owner=owner,
        lun=lun,
        mounted=mounted,
        fstab_ok=fstab_ok,
        datadir_ok=datadir_ok,
        session_ok=bool(sessions),
        service_active=active,
        owner_ok=owner_ok,
        writable=writable,
        formatted=False,
        image_files=ctl.count_files(t, mp) if mounted else None,
    )


def delete(
    transport: Transport,
    spec: StoreSpec,
    state: StoreState,
    force_destroy: bool = False,
    progress: Progress | None = None,
    *,
    sleep: Sleep = time.sleep,
) -> None:
    """Take the store apart in order; the data stays on the volume.

    Refuses (:class:`StoreNotEmpty`) while the mounted store holds image files, unless
    ``force_destroy``. Every step is skipped when already done, so a failed delete can be
    re-run. glance-api is restarted only when the datadir was changed back, so if that
    restart fails, a re-run goes on to unmount (the config is already restored).
    """
    r = _Run(transport, spec, progress or _noop, sleep)
    t = transport
    mp = spec.mount_point
    uuid = state.fs_uuid.lower() if state.fs_uuid else None

    current = ctl.mounted_at(t, mp)
    ours_mounted = current is not None and (uuid is None or _uuid_of(r, current.source) == uuid)
    if ours_mounted:
        files = ctl.count_files(t, mp)
        if files and not force_destroy:
            raise StoreNotEmpty(
                f"the Glance store at {mp} (filesystem UUID {uuid}) still holds {files} image "
                f"file(s). Delete those images in Glance first (`openstack image list`), or "
                "set force_destroy = true to detach the store anyway; the files stay on the "
                "volume either way"
            )

    # 1. Point Glance back at its previous datadir, so it lets go of the mount.
    conf = t.read_file(spec.config_file)
    if conf is not None:
        text = conf.decode("utf-8")
        try:
            location = glance_conf.get_datadir(text, spec.backend)
            marked, marked_previous = glance_conf.read_marker(text, location.section)
            previous = marked_previous if marked else state.previous_datadir
            new_text = text
            if glance_conf.same_path(location.value, mp):
                new_text = glance_conf.restore_datadir(text, previous, spec.backend)
            new_text = glance_conf.remove_marker(new_text, location.section)
        except glance_conf.GlanceConfError as exc:
            raise ConfigError(f"{spec.config_file}: {exc}") from exc
        if new_text != text:
            r.step(f"restoring filesystem_store_datadir = {previous} in {spec.config_file}")
            t.write_file(spec.config_file, new_text.encode())
            service = spec.service or state.service or ctl.detect_service(t)
            r.step(f"restarting {service}")
            ctl.service_restart(t, service)
            _verify_service(r, service)

    # 2. Unmount (only our filesystem).
    if ours_mounted:
        r.step(f"unmounting {mp}")
        ctl.umount(t, mp)

    # 3. Remove our fstab line.
    text = (t.read_file(FSTAB) or b"").decode()
    if uuid:
        new = fstab.remove_line(text, uuid)
        if new != text:
            r.step(f"removing the /etc/fstab line for UUID={uuid}")
            t.write_file(FSTAB, new.encode())

    # 4. iSCSI: not at boot, log out, forget the node.
    iqn = spec.target_iqn
    sessions = _sessions_for(r)
    ctl.iscsi_set_startup(t, iqn, None, ctl.MANUAL)
    for portal in dict.fromkeys(s.portal for s in sessions):
        r.step(f"logging out of {iqn} at {portal}")
        ctl.iscsi_logout(t, iqn, portal)
    if ctl.iscsi_delete_node(t, iqn, None):
        r.step(f"deleted the iSCSI node records of {iqn}")
