"""The disk side of a glance_iscsi_store: iSCSI session, block device, filesystem, mount point
directory, fstab line, mount, owner and mode (see :mod:`tfnimble.glance.iscsi_store_run`).
"""

from __future__ import annotations

import contextlib
import math

from . import controller as ctl
from . import fstab
from .controller import (
    ControllerError,
    DeviceNotFound,
    DiscoveryError,
    FilesystemMismatch,
    FstabError,
    MountError,
    StoreNotEmpty,
)
from .iscsi_store_run import FSTAB, Run, Step, need, read_fstab, resolve_service, uuid_of
from .iscsi_store_spec import STORE_MODE

__all__ = [
    "DEVICE",
    "FILESYSTEM",
    "FSTAB_LINE",
    "MOUNT",
    "MOUNT_POINT",
    "OWNER",
    "SESSION",
    "refuse_while_images",
]


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
        # A new secret (chap_secret_wo_version) goes into the node record: the next login
        # uses it. The running session stays; a target checks CHAP only at login.
        _set_chap(r, iqn, existing[0].portal)
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
        _set_chap(r, iqn, portal)
        r.step(f"logging in to {iqn} at {portal}")
        try:
            ctl.iscsi_login(r.t, iqn, portal, initiator=r.initiator)
        except ctl.LoginError as exc:
            # The node record (with the CHAP secret, if any) of a login that failed helps
            # nobody: it goes, so a failed create leaves nothing on the controller.
            with contextlib.suppress(ControllerError):
                ctl.iscsi_delete_node(r.t, iqn, portal)
            raise _refused(r, iqn, portal, exc) from exc
        sessions = _sessions_for(r)
        r.portal, r.sid, r.new_session = portal, sessions[0].sid if sessions else None, True


def _set_chap(r: Run, iqn: str, portal: ctl.Portal) -> None:
    if r.spec.chap_username is not None and r.spec.chap_secret is not None:
        r.step(f"setting CHAP user {r.spec.chap_username} in the node record of {iqn}")
        ctl.iscsi_set_chap(r.t, iqn, portal, r.spec.chap_username, r.spec.chap_secret)


def _refused(r: Run, iqn: str, portal: ctl.Portal, exc: ctl.LoginError) -> ctl.LoginError:
    """A login the target refused (status 24), as a diagnostic on the CHAP setting to fix."""
    if exc.returncode != 24:
        return exc
    who = f" (initiator {r.initiator})" if r.initiator else ""
    head = (
        f"iSCSI login to {iqn} at {portal}{who} was refused with status 24 (authorization failure)"
    )
    user = r.spec.chap_username
    if user is None or r.spec.chap_secret is None:
        attribute = "chap_username"
        what = (
            ". The target asks for CHAP (the volume's access control record names a CHAP user, "
            "chap_user_id) and this store logs in without it: set chap_username to that CHAP "
            "user (nimble_chap_user.NAME.name) and chap_secret_wo to its secret. If the record "
            "names no CHAP user, check that it allows this initiator"
        )
    else:
        attribute = "chap_secret_wo"
        what = (
            f": the target refused the CHAP login as {user}. Set chap_secret_wo to the secret "
            f"the array holds for CHAP user {user} (its secret_wo) and change "
            "chap_secret_wo_version; check that the volume's access control record names this "
            "CHAP user (chap_user_id) and allows this initiator"
        )
    return ctl.LoginRefused(
        f"{head}{what}. The node record made for this login was deleted: no session, fstab "
        "line, mount or Glance setting was changed",
        attribute=attribute,
        result=exc.result,
    )


def _others_in_use(r: Run) -> list[str]:
    """Disks of the target's sessions other than the store's LUN that are mounted: under a
    group-scoped target one session carries every volume exported to this host."""
    busy = []
    for detail in ctl.iscsi_session_details(r.t):
        if detail.iqn != r.spec.target_iqn:
            continue
        for lun, disk in detail.luns.items():
            if disk and lun != r.lun and ctl.findmnt(r.t, source=f"/dev/{disk}"):
                busy.append(f"LUN {lun} (/dev/{disk})")
    return busy


def _undo_session(r: Run) -> None:
    """Not at boot, log out of every portal, forget the node; unless other LUNs of the
    target are in use on this host (a group-scoped target): then the session stays."""
    iqn = r.spec.target_iqn
    sessions = _sessions_for(r)
    if r.lun is None and r.known is not None:
        r.lun = r.known.lun
    busy = _others_in_use(r) if sessions else []
    if busy:
        r.step(f"keeping the iSCSI session to {iqn}: {', '.join(busy)} still in use")
        return
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
        _let_go(r)
        raise DeviceNotFound(
            f"no disk appeared for LUN {lun} of {iqn} (waited {r.spec.device_wait_seconds:g} s "
            f"for {ctl.by_path_link(portal, iqn, lun)}). Check the lun argument (see "
            "`iscsiadm -m session -P 3`) and that the volume is online"
        )
    r.by_path, r.device = found
    _confirm_volume(r, lun, found[1])
    ctl.iscsi_set_startup(t, iqn, portal, ctl.AUTOMATIC)


def _let_go(r: Run) -> None:
    """Before refusing: log out of a session this run made, so nothing is left changed."""
    if r.new_session and r.portal is not None:
        ctl.iscsi_logout(r.t, r.spec.target_iqn, r.portal)
        ctl.iscsi_delete_node(r.t, r.spec.target_iqn, r.portal)
        r.new_session, r.sid = False, None


def _confirm_volume(r: Run, lun: int, device: str) -> None:
    """Before any mkfs or mount: the disk at the LUN must be the volume given (by serial)."""
    serial = r.spec.volume_serial
    if serial is None:
        return
    ident = ctl.device_identity(r.t, device)
    if ctl.identity_matches(ident, serial):
        r.step(f"{device} (LUN {lun}) is volume {serial}")
        return
    _let_go(r)
    raise ctl.WrongVolume(
        f"LUN {lun} of {r.spec.target_iqn} is {device}, which reports {ident.describe()}; "
        f"that is not the volume with serial number {serial} (volume_serial). Nothing was "
        "written: no mkfs, mount, fstab or Glance change. Check that lun is the LUN of this "
        "volume's access record (nimble_access_control_record.NAME.lun) and volume_serial "
        "the volume's serial_number"
    )


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
    if m is not None and uuid is not None and uuid_of(r, m.source) == uuid:
        return True
    if uuid is None:
        return False
    return fstab.find_line(read_fstab(r), uuid=uuid, mount_point=r.spec.mount_point) is not None


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
    spec, device = r.spec, need(r.device, "block device")
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
    r.fstab_text = read_fstab(r)
    r.mount = ctl.mounted_at(r.t, mp)
    r.mount_uuid = uuid_of(r, r.mount.source) if r.mount is not None else None
    uuid = r.known_uuid
    if uuid is None:
        entry = fstab.find_line(r.fstab_text, mount_point=mp)
        uuid = entry.uuid if entry is not None and entry.uuid else r.mount_uuid
    r.uuid = uuid


FILESYSTEM = Step("filesystem", ensure=_ensure_filesystem, drift=_drift_filesystem)

MOUNT_POINT = Step("mount point directory", ensure=lambda r: ctl.mkdir_p(r.t, r.spec.mount_point))


# -- the fstab line --------------------------------------------------------------------------


def _ensure_fstab(r: Run) -> None:
    spec, uuid = r.spec, need(r.uuid, "filesystem")
    text = read_fstab(r)
    try:
        new = fstab.add_line(text, uuid, spec.mount_point, spec.fs_type, spec.mount_options)
    except fstab.FstabConflict as exc:
        raise FstabError(str(exc)) from exc
    if new != text:
        r.step(f"writing the /etc/fstab line for UUID={uuid}")
        r.t.write_file(FSTAB, new.encode())
        r.fstab_changed = True


def _undo_fstab(r: Run) -> None:
    text = read_fstab(r)
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
    mp, uuid = r.spec.mount_point, need(r.uuid, "filesystem")
    current = ctl.mounted_at(r.t, mp)
    if current is not None:
        current_uuid = uuid_of(r, current.source)
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
    if after is None or uuid_of(r, after.source) != uuid:
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


def refuse_while_images(r: Run, force_destroy: bool) -> None:
    """Delete's guard, before any undo: is our filesystem mounted, and does it hold images?"""
    mp, uuid = r.spec.mount_point, r.known_uuid
    current = ctl.mounted_at(r.t, mp)
    r.mounted = current is not None and (uuid is None or uuid_of(r, current.source) == uuid)
    if r.mounted:
        files = ctl.count_files(r.t, mp)
        if files and not force_destroy:
            raise StoreNotEmpty(
                f"the Glance store at {mp} (filesystem UUID {uuid}) still holds {files} image "
                f"file(s). Delete those images in Glance first (`openstack image list`), or "
                "set force_destroy = true to detach the store anyway; the files stay on the "
                "volume either way"
            )
