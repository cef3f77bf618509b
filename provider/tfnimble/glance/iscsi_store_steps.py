"""The steps of a glance_iscsi_store, each with check / ensure / undo / drift.

A step's ``check`` runs in the preflight, before anything changes, and raises if the step
cannot be done; ``ensure`` makes the step so, acting only where it is not; ``undo`` takes it
away and skips what is already gone; ``drift`` only looks, for read. The steps share one
:class:`Run`, into which each writes what it found or made for the steps after it.
:mod:`tfnimble.glance.iscsi_store_ops` holds their order and walks them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import controller as ctl
from . import fstab, glance_conf
from .controller import (
    ConfigError,
    ControllerError,
    DeviceNotFound,
    DiscoveryError,
    FilesystemMismatch,
    FstabError,
    MountError,
    Portal,
    ServiceError,
    StoreNotEmpty,
)
from .iscsi_store_spec import STORE_MODE, StoreSpec, StoreState
from .transport.base import Transport

__all__ = [
    "DATADIR",
    "DEVICE",
    "FILESYSTEM",
    "FSTAB",
    "FSTAB_LINE",
    "MOUNT",
    "MOUNT_POINT",
    "OWNER",
    "SERVICE",
    "SESSION",
    "WRITABLE",
    "Progress",
    "Run",
    "Sleep",
    "Step",
    "refuse_while_images",
    "resolve_service",
]

FSTAB = "/etc/fstab"

Progress = Callable[[str], None]
Sleep = Callable[[float], None]


def _noop(_: str) -> None:
    return None


def _nothing(_: Run) -> None:
    return None


@dataclass
class Run:
    """One walk over the steps: the request, and what the steps found or made so far."""

    t: Transport
    spec: StoreSpec
    known: StoreState | None = None
    """The store as last created or read (None on create and import)."""
    progress: Progress = _noop
    sleep: Sleep = time.sleep
    allow_format: bool = False
    notes: list[str] = field(default_factory=list)

    initiator: str | None = None
    service: str | None = None
    user: str = ""
    group: str = ""
    owner: str | None = None
    sessions: list[ctl.Session] = field(default_factory=list)
    portal: Portal | None = None
    sid: int | None = None
    new_session: bool = False
    lun: int | None = None
    by_path: str | None = None
    device: str | None = None
    uuid: str | None = None
    formatted: bool = False
    fstab_text: str = ""
    fstab_entry: fstab.FstabEntry | None = None
    fstab_ok: bool = False
    fstab_changed: bool = False
    mount: ctl.MountInfo | None = None
    mount_uuid: str | None = None
    mounted: bool = False
    mount_changed: bool = False
    owner_ok: bool = False
    location: glance_conf.DatadirLocation | None = None
    layout: str | None = None
    section: str | None = None
    previous: str | None = None
    marked: bool = False
    datadir_ok: bool = False
    config_text: str = ""
    config_changed: bool = False
    service_active: bool = False
    writable: bool = False

    def step(self, message: str) -> None:
        self.notes.append(message)
        self.progress(message)

    @property
    def known_uuid(self) -> str | None:
        return self.known.fs_uuid.lower() if self.known is not None and self.known.fs_uuid else None


@dataclass(frozen=True)
class Step:
    """One part of the store. ``found`` is set on the steps that leave a trace read can see."""

    name: str
    check: Callable[[Run], None] = _nothing
    ensure: Callable[[Run], None] = _nothing
    undo: Callable[[Run], None] = _nothing
    drift: Callable[[Run], None] = _nothing
    found: Callable[[Run], bool] | None = None


def _need(value: str | int | Portal | None, what: str) -> str:
    """``value`` as text; an earlier step must have set it."""
    if value is None:
        raise RuntimeError(f"internal error: the {what} step has not run")
    return str(value)


def _uuid_of(r: Run, device: str) -> str | None:
    info = ctl.blkid_probe(r.t, device)
    return None if info is None or info.uuid is None else info.uuid.lower()


def _read_fstab(r: Run) -> str:
    return (r.t.read_file(FSTAB) or b"").decode()


# -- iSCSI session ---------------------------------------------------------------------------


def _sessions_for(r: Run) -> list[ctl.Session]:
    return [s for s in ctl.iscsi_sessions(r.t) if s.iqn == r.spec.target_iqn]


def _check_session(r: Run) -> None:
    r.initiator = ctl.read_initiator_name(r.t)


def _ensure_session(r: Run) -> None:
    """Log in unless a session exists, and mark the node to log in at boot."""
    iqn = r.spec.target_iqn
    existing = _sessions_for(r)
    if existing:
        r.step(f"reusing iSCSI session {existing[0].sid} to {iqn}")
        r.portal, r.sid, r.new_session = existing[0].portal, existing[0].sid, False
    else:
        r.step(f"discovering iSCSI targets at {r.spec.portal}")
        targets = ctl.iscsi_discover(r.t, r.spec.portal)
        ours = [x for x in targets if x.iqn == iqn]
        if not ours:
            offered = ", ".join(sorted({x.iqn for x in targets})) or "none"
            who = f" to initiator {r.initiator}" if r.initiator else ""
            raise DiscoveryError(
                f"the portal {r.spec.portal} does not offer target {iqn}{who} (offered: "
                f"{offered}). Check the target name, that the volume is online, and that an "
                "access control record allows this controller"
            )
        wanted = ctl.parse_portal(r.spec.portal)
        portal = next((x.portal for x in ours if x.portal == wanted), ours[0].portal)
        r.step(f"logging in to {iqn} at {portal}")
        ctl.iscsi_login(r.t, iqn, portal, initiator=r.initiator)
        sessions = _sessions_for(r)
        r.portal, r.sid, r.new_session = portal, sessions[0].sid if sessions else None, True
    ctl.iscsi_set_startup(r.t, iqn, r.portal, ctl.AUTOMATIC)


def _undo_session(r: Run) -> None:
    """Not at boot, log out of every portal, forget the node."""
    iqn = r.spec.target_iqn
    sessions = _sessions_for(r)
    ctl.iscsi_set_startup(r.t, iqn, None, ctl.MANUAL)
    for portal in dict.fromkeys(s.portal for s in sessions):
        r.step(f"logging out of {iqn} at {portal}")
        ctl.iscsi_logout(r.t, iqn, portal)
    if ctl.iscsi_delete_node(r.t, iqn, None):
        r.step(f"deleted the iSCSI node records of {iqn}")


def _drift_session(r: Run) -> None:
    r.sessions = _sessions_for(r)


SESSION = Step(
    "iscsi session",
    check=_check_session,
    ensure=_ensure_session,
    undo=_undo_session,
    drift=_drift_session,
    found=lambda r: bool(r.sessions),
)


# -- the LUN's block device ------------------------------------------------------------------


def _ensure_device(r: Run) -> None:
    t, iqn = r.t, r.spec.target_iqn
    lun = r.spec.lun
    if lun is None:
        lun = r.known.lun if r.known is not None and r.known.lun is not None else None
    if lun is None:
        lun = ctl.detect_lun(t, iqn)
    r.lun = lun
    portal = r.portal
    if portal is None:
        raise RuntimeError("internal error: the iscsi session step has not run")
    attempts = max(1, math.ceil(r.spec.device_wait_seconds / 0.5))
    found = ctl.find_by_path_device(t, portal, iqn, lun, attempts=attempts, sleep=r.sleep)
    if found is None and r.sid is not None and not r.new_session:
        # The LUN may have been added to a session that already existed.
        r.step(f"rescanning iSCSI session {r.sid} for LUN {lun}")
        ctl.iscsi_rescan(t, r.sid)
        found = ctl.find_by_path_device(t, portal, iqn, lun, attempts=attempts, sleep=r.sleep)
    if found is None:
        for detail in ctl.iscsi_session_details(t):
            disk = detail.luns.get(lun) if detail.iqn == iqn else None
            device = ctl.resolve_path(t, f"/dev/{disk}") if disk else None
            if device:
                found = (device, device)
                break
    if found is None:
        raise DeviceNotFound(
            f"no disk appeared for LUN {lun} of {iqn} (waited {r.spec.device_wait_seconds:g} s "
            f"for {ctl.by_path_link(portal, iqn, lun)}). Check the lun argument (see "
            "`iscsiadm -m session -P 3`) and that the volume is online"
        )
    r.by_path, r.device = found


def _drift_device(r: Run) -> None:
    spec, known = r.spec, r.known
    lun = spec.lun if spec.lun is not None else (known.lun if known is not None else None)
    if lun is None and r.sessions:
        lun = ctl.detect_lun(r.t, spec.target_iqn)
    r.lun = lun
    if r.sessions and lun is not None:
        found = ctl.find_by_path_device(r.t, r.sessions[0].portal, spec.target_iqn, lun, attempts=1)
        if found is not None:
            r.by_path, r.device = found


DEVICE = Step("block device", ensure=_ensure_device, drift=_drift_device)


# -- the filesystem: made only on an empty device (rule 1) ----------------------------------


def _is_our_store(r: Run, uuid: str | None) -> bool:
    """Already this store: mounted at mount_point, or named by its fstab line."""
    m = ctl.mounted_at(r.t, r.spec.mount_point)
    if m is not None and uuid is not None and _uuid_of(r, m.source) == uuid:
        return True
    if uuid is None:
        return False
    return fstab.find_line(_read_fstab(r), uuid=uuid, mount_point=r.spec.mount_point) is not None


def _format(r: Run, device: str, *, force: bool) -> None:
    in_use = ctl.findmnt(r.t, source=device)
    if in_use:
        raise FilesystemMismatch(
            f"refusing to format {device}: it is mounted at {in_use[0].target}"
        )
    r.step(f"making the {r.spec.fs_type} filesystem (mkfs.{r.spec.fs_type}) on {device}")
    ctl.mkfs(r.t, device, r.spec.fs_type, r.spec.mkfs_options, force=force)
    r.formatted = True


def _ensure_filesystem(r: Run) -> None:
    spec, device = r.spec, _need(r.device, "block device")
    info = ctl.blkid_probe(r.t, device)
    known_uuid = r.known_uuid
    if info is None:
        if known_uuid is not None:
            raise FilesystemMismatch(
                f"{device} ({spec.target_iqn} LUN) is empty, but the store had filesystem "
                f"UUID {known_uuid}: the volume was replaced or wiped. Replace the resource "
                "to make a new store on it"
            )
        if not r.allow_format:
            raise FilesystemMismatch(f"{device} holds no filesystem")
        _format(r, device, force=False)
    else:
        mismatch = info.type != spec.fs_type
        wrong_uuid = known_uuid is not None and (info.uuid or "").lower() != known_uuid
        if wrong_uuid:
            raise FilesystemMismatch(
                f"{device} now holds {info.describe()}, not the store's filesystem UUID "
                f"{known_uuid}: the volume was replaced or reformatted. Replace the resource"
            )
        want_force = spec.force_format and r.allow_format
        if mismatch and not want_force:
            raise FilesystemMismatch(
                f"{device} ({spec.target_iqn}) holds {info.describe()}, not {spec.fs_type}. "
                "Nothing was changed. Set fs_type to match to use it as it is, or set "
                "force_format = true to erase it"
            )
        if want_force and known_uuid is None:
            uuid = (info.uuid or "").lower() or None
            if mismatch or not _is_our_store(r, uuid):
                r.step(f"force_format: erasing {info.describe()} on {device}")
                _format(r, device, force=True)
        elif not mismatch:
            r.step(f"reusing the {info.type} filesystem on {device} (UUID {info.uuid})")
    if r.formatted:
        info = ctl.blkid_probe(r.t, device)
    if info is None or not info.uuid or info.type != spec.fs_type:
        raise FilesystemMismatch(
            f"{device} has no {spec.fs_type} filesystem UUID after mkfs; see `blkid -p {device}`"
        )
    r.uuid = info.uuid.lower()


def _drift_filesystem(r: Run) -> None:
    """The store's identity: the known UUID, else the fstab line's, else what is mounted."""
    mp = r.spec.mount_point
    r.fstab_text = _read_fstab(r)
    r.mount = ctl.mounted_at(r.t, mp)
    r.mount_uuid = _uuid_of(r, r.mount.source) if r.mount is not None else None
    uuid = r.known_uuid
    if uuid is None:
        entry = fstab.find_line(r.fstab_text, mount_point=mp)
        uuid = entry.uuid if entry is not None and entry.uuid else r.mount_uuid
    r.uuid = uuid


FILESYSTEM = Step("filesystem", ensure=_ensure_filesystem, drift=_drift_filesystem)

MOUNT_POINT = Step("mount point directory", ensure=lambda r: ctl.mkdir_p(r.t, r.spec.mount_point))


# -- the fstab line --------------------------------------------------------------------------


def _ensure_fstab(r: Run) -> None:
    spec, uuid = r.spec, _need(r.uuid, "filesystem")
    text = _read_fstab(r)
    try:
        new = fstab.add_line(text, uuid, spec.mount_point, spec.fs_type, spec.mount_options)
    except fstab.FstabConflict as exc:
        raise FstabError(str(exc)) from exc
    if new != text:
        r.step(f"writing the /etc/fstab line for UUID={uuid}")
        r.t.write_file(FSTAB, new.encode())
        r.fstab_changed = True


def _undo_fstab(r: Run) -> None:
    text = _read_fstab(r)
    uuid = r.known_uuid
    if uuid:
        new = fstab.remove_line(text, uuid)
        if new != text:
            r.step(f"removing the /etc/fstab line for UUID={uuid}")
            r.t.write_file(FSTAB, new.encode())


def _drift_fstab(r: Run) -> None:
    spec = r.spec
    entry = fstab.find_line(r.fstab_text, uuid=r.uuid) if r.uuid else None
    r.fstab_entry = entry
    r.fstab_ok = (
        entry is not None
        and fstab.norm_mount_point(entry.mount_point) == spec.mount_point
        and entry.fs_type == spec.fs_type
        and entry.options == spec.mount_options
    )


FSTAB_LINE = Step(
    "fstab line",
    ensure=_ensure_fstab,
    undo=_undo_fstab,
    drift=_drift_fstab,
    found=lambda r: r.fstab_entry is not None,
)


# -- the mount: never over existing files ----------------------------------------------------


def _check_mount(r: Run) -> None:
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


def _ensure_mount(r: Run) -> None:
    """Mount by the fstab line, or remount when the line changed."""
    mp, uuid = r.spec.mount_point, _need(r.uuid, "filesystem")
    current = ctl.mounted_at(r.t, mp)
    if current is not None:
        current_uuid = _uuid_of(r, current.source)
        if current_uuid != uuid:
            raise MountError(
                f"{mp} already has {current.source} ({current.fs_type}, UUID {current_uuid}) "
                "mounted. Unmount it or choose another mount_point"
            )
        if r.fstab_changed:
            r.step(f"remounting {mp} with the new options")
            ctl.remount(r.t, mp)
            r.mount_changed = True
        return
    r.step(f"mounting UUID={uuid} at {mp}")
    ctl.mount(r.t, mp)
    after = ctl.mounted_at(r.t, mp)
    if after is None or _uuid_of(r, after.source) != uuid:
        raise MountError(f"after `mount {mp}`, {mp} does not show filesystem UUID {uuid}")
    r.mount_changed = True


def _undo_mount(r: Run) -> None:
    """Unmount only our filesystem (``r.mounted`` as delete found it before any change)."""
    if r.mounted:
        r.step(f"unmounting {r.spec.mount_point}")
        ctl.umount(r.t, r.spec.mount_point)


def _drift_mount(r: Run) -> None:
    r.mounted = r.mount is not None and r.uuid is not None and r.mount_uuid == r.uuid


MOUNT = Step(
    "mount",
    check=_check_mount,
    ensure=_ensure_mount,
    undo=_undo_mount,
    drift=_drift_mount,
    found=lambda r: r.mounted,
)


# -- owner and mode --------------------------------------------------------------------------


def resolve_service(r: Run) -> str:
    """The glance-api unit: the spec's, the known one, else the one detected (once per run)."""
    if r.service is None:
        known = r.known.service if r.known is not None else None
        r.service = r.spec.service or known or ctl.detect_service(r.t)
    return r.service


def _check_owner(r: Run) -> None:
    if r.spec.owner:
        user, _, group = r.spec.owner.partition(":")
    else:
        user = ctl.service_user(r.t, resolve_service(r)) or ctl.DEFAULT_SERVICE_USER
        group = ""
    if not ctl.user_exists(r.t, user):
        raise ControllerError(
            f"user {user!r} (owner of the Glance store) does not exist on the controller; "
            "set owner to the user glance-api runs as (glance, stack on devstack, 42415 "
            "on kolla)"
        )
    r.user, r.group = user, group or ctl.primary_group(r.t, user)


def _ensure_owner(r: Run) -> None:
    mp = r.spec.mount_point
    current = ctl.stat_path(r.t, mp)
    if current is None or (current[0], current[1]) != (r.user, r.group):
        r.step(f"chown {r.user}:{r.group} {mp}")
        ctl.chown(r.t, mp, r.user, r.group)
    if current is None or current[2] != STORE_MODE:
        ctl.chmod(r.t, mp, STORE_MODE)
    r.owner = f"{r.user}:{r.group}"


def _owner_ok(r: Run, owner: str | None) -> bool:
    current = ctl.stat_path(r.t, r.spec.mount_point)
    if current is None or owner is None:
        return False
    user, _, group = owner.partition(":")
    return current[0] == user and (not group or current[1] == group) and current[2] == STORE_MODE


def _drift_owner(r: Run) -> None:
    spec = r.spec
    owner = r.known.owner if r.known is not None else None
    if owner is None and spec.owner:
        owner = spec.owner if ":" in spec.owner else None
    if owner is None and r.mounted:
        st = ctl.stat_path(r.t, spec.mount_point)
        owner = f"{st[0]}:{st[1]}" if st else None
    owner_ok = r.mounted and _owner_ok(r, owner)
    if spec.owner and owner and ":" not in spec.owner:
        owner_ok = owner_ok and owner.partition(":")[0] == spec.owner
    r.owner, r.owner_ok = owner, owner_ok
    r.user = owner.partition(":")[0] if owner else ""


OWNER = Step("owner and mode", check=_check_owner, ensure=_ensure_owner, drift=_drift_owner)


# -- filesystem_store_datadir in glance-api.conf, the previous value kept on the controller ---


def _read_config(r: Run) -> str:
    data = r.t.read_file(r.spec.config_file)
    if data is None:
        raise ConfigError(
            f"{r.spec.config_file} does not exist on the controller; set config_file to "
            "glance-api's configuration file"
        )
    return data.decode("utf-8")


def _config_error(r: Run, exc: glance_conf.GlanceConfError) -> ConfigError:
    return ConfigError(f"{r.spec.config_file}: {exc}")


def _check_datadir(r: Run) -> None:
    text = _read_config(r)
    try:
        r.location = glance_conf.get_datadir(text, r.spec.backend)
    except glance_conf.GlanceConfError as exc:
        raise _config_error(r, exc) from exc


def _ensure_datadir(r: Run) -> None:
    spec = r.spec
    text = _read_config(r)  # again: the file may have changed since the preflight
    try:
        new_text, previous, r.layout, section = glance_conf.set_datadir(
            text, spec.mount_point, spec.backend
        )
    except glance_conf.GlanceConfError as exc:
        raise _config_error(r, exc) from exc
    marked, marked_previous = glance_conf.read_marker(text, section)
    if marked:
        previous = marked_previous  # recorded on the controller by an earlier run
    elif r.known is not None:
        previous = r.known.previous_datadir
    new_text = glance_conf.add_marker(new_text, section, previous)
    r.config_changed = new_text != text
    if r.config_changed:
        was = r.location.value if r.location is not None else None
        r.step(
            f"setting [{section}] filesystem_store_datadir = {spec.mount_point} in "
            f"{spec.config_file} (was {was})"
        )
        r.t.write_file(spec.config_file, new_text.encode())
    r.config_text, r.previous, r.section = new_text, previous, section


def _undo_datadir(r: Run) -> None:
    """Point Glance back at its previous datadir, so it lets go of the mount."""
    spec = r.spec
    conf = r.t.read_file(spec.config_file)
    if conf is None:
        return
    text = conf.decode("utf-8")
    try:
        location = glance_conf.get_datadir(text, spec.backend)
        marked, marked_previous = glance_conf.read_marker(text, location.section)
        known_previous = r.known.previous_datadir if r.known is not None else None
        previous = marked_previous if marked else known_previous
        new_text = text
        if glance_conf.same_path(location.value, spec.mount_point):
            new_text = glance_conf.restore_datadir(text, previous, spec.backend)
        new_text = glance_conf.remove_marker(new_text, location.section)
    except glance_conf.GlanceConfError as exc:
        raise _config_error(r, exc) from exc
    if new_text != text:
        r.step(f"restoring filesystem_store_datadir = {previous} in {spec.config_file}")
        r.t.write_file(spec.config_file, new_text.encode())
        _restart(r, resolve_service(r))


def _drift_datadir(r: Run) -> None:
    conf = r.t.read_file(r.spec.config_file)
    if conf is None:
        return
    text = conf.decode("utf-8")
    try:
        location = glance_conf.get_datadir(text, r.spec.backend)
        r.layout, r.section = location.layout, location.section
        r.datadir_ok = glance_conf.same_path(location.value, r.spec.mount_point)
        r.marked, r.previous = glance_conf.read_marker(text, location.section)
    except glance_conf.GlanceConfError:
        pass


DATADIR = Step(
    "glance-api datadir",
    check=_check_datadir,
    ensure=_ensure_datadir,
    undo=_undo_datadir,
    drift=_drift_datadir,
    found=lambda r: r.datadir_ok,
)


# -- glance-api: restarted when anything it serves from changed, then verified ---------------


def _verify_service(r: Run, service: str) -> None:
    state = ctl.wait_service_active(r.t, service, sleep=r.sleep)
    if state != "active":
        journal = ctl.service_journal_tail(r.t, service)
        raise ServiceError(
            f"{service} is {state} after the restart. See `systemctl status {service}` and "
            f"`journalctl -u {service}`"
            + (f". Last log lines: {journal[-600:]}" if journal else "")
        )


def _restart(r: Run, service: str) -> None:
    r.step(f"restarting {service}")
    ctl.service_restart(r.t, service)
    _verify_service(r, service)


def _verify_api_data_dir(r: Run) -> None:
    """If glance-api answers for its stores, it must report the new data_dir."""
    dirs = ctl.glance_store_data_dirs(r.t, ctl.store_detail_url(r.config_text))
    if not dirs:
        return  # not answered (auth, single-store layout, not listening): nothing to compare
    section = r.section or ""
    store = section if section in dirs else ("file" if "file" in dirs else None)
    if store is None:
        return
    if not glance_conf.same_path(dirs[store], r.spec.mount_point):
        raise ServiceError(
            f"glance-api reports data_dir {dirs[store]} for store {store!r}, not "
            f"{r.spec.mount_point}: it did not pick up {r.spec.config_file}. Check which "
            "configuration file the service reads (e.g. --config-dir)"
        )


def _ensure_service(r: Run) -> None:
    service = resolve_service(r)
    active = ctl.service_is_active(r.t, service) == "active"
    if r.config_changed or r.mount_changed or not active:
        _restart(r, service)
    else:
        _verify_service(r, service)
    _verify_api_data_dir(r)
    r.service_active = True


def _check_service(r: Run) -> None:
    resolve_service(r)


def _drift_service(r: Run) -> None:
    service = r.spec.service or (r.known.service if r.known is not None else None)
    if service is None:
        try:
            service = ctl.detect_service(r.t)
        except ServiceError:
            service = None
    r.service = service
    r.service_active = service is not None and ctl.service_is_active(r.t, service) == "active"


SERVICE = Step(
    "glance-api service",
    check=_check_service,
    ensure=_ensure_service,
    drift=_drift_service,
)


# -- the service user can write to the store --------------------------------------------------


def _ensure_writable(r: Run) -> None:
    mp = r.spec.mount_point
    if not ctl.is_writable_by(r.t, r.user, mp):
        raise ControllerError(
            f"{mp} is mounted but {r.user} cannot write to it; check its owner "
            "and mode, and mount options such as ro"
        )
    r.writable = True


def _drift_writable(r: Run) -> None:
    r.writable = bool(r.mounted and r.user and ctl.is_writable_by(r.t, r.user, r.spec.mount_point))


WRITABLE = Step("writable by the service user", ensure=_ensure_writable, drift=_drift_writable)


def refuse_while_images(r: Run, force_destroy: bool) -> None:
    """Delete's guard, before any undo: is our filesystem mounted, and does it hold images?"""
    mp, uuid = r.spec.mount_point, r.known_uuid
    current = ctl.mounted_at(r.t, mp)
    r.mounted = current is not None and (uuid is None or _uuid_of(r, current.source) == uuid)
    if r.mounted:
        files = ctl.count_files(r.t, mp)
        if files and not force_destroy:
            raise StoreNotEmpty(
                f"the Glance store at {mp} (filesystem UUID {uuid}) still holds {files} image "
                f"file(s). Delete those images in Glance first (`openstack image list`), or "
                "set force_destroy = true to detach the store anyway; the files stay on the "
                "volume either way"
            )
