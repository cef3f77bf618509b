"""The glance_iscsi_store operations, free of Terraform: create, read, update, delete.

The store is ONE ordered list of steps (:data:`STEPS`, each a :class:`Step` of
:mod:`tfnimble.glance.iscsi_store_run`: check / ensure / undo / drift). ``create`` and
``update`` run every ``check`` (the preflight), then every ``ensure`` in order; ``read`` runs
every ``drift`` in order; ``delete`` runs every ``undo`` in reverse order.

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
3. **Preflight first.** The initiator name, the mount point (no files to hide), the service,
   its user and the config file are checked before anything on the controller is changed.
4. **Delete reverses create in order** (datadir, restart, unmount, fstab, node.startup
   manual, logout, node record) and keeps the data on the volume. Before undoing anything it
   refuses while the mounted store holds image files, unless ``force_destroy``.
5. ``read`` changes nothing. It reports drift as flags on :class:`StoreState` and returns
   None only when nothing of the store is left.

Spec fields that can change in place (``update``): :data:`IN_PLACE_FIELDS`. Any other change
means a new store (:data:`REPLACE_FIELDS`).
"""

from __future__ import annotations

import time
from dataclasses import replace

from . import controller as ctl
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
    ServiceError,
    StoreNotEmpty,
)
from .iscsi_store_glance_steps import DATADIR, SERVICE, WRITABLE
from .iscsi_store_run import FSTAB, Progress, Run, Sleep, Step
from .iscsi_store_spec import IN_PLACE_FIELDS, REPLACE_FIELDS, StoreSpec, StoreState
from .iscsi_store_steps import (
    DEVICE,
    FILESYSTEM,
    FSTAB_LINE,
    MOUNT,
    MOUNT_POINT,
    OWNER,
    SESSION,
    refuse_while_images,
)
from .transport.base import Transport

__all__ = [
    "FSTAB",
    "IN_PLACE_FIELDS",
    "REPLACE_FIELDS",
    "STEPS",
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

#: The store, in the order apply makes it.
STEPS: tuple[Step, ...] = (
    SESSION,
    DEVICE,
    FILESYSTEM,
    MOUNT_POINT,
    FSTAB_LINE,
    MOUNT,
    OWNER,
    DATADIR,
    SERVICE,
    WRITABLE,
)
#: Read stops here when none of the steps that leave a trace (``found``) found one.
_LAST_TRACE = max(i for i, step in enumerate(STEPS) if step.found is not None)


def _apply(r: Run) -> StoreState:
    for step in STEPS:
        step.check(r)
    for step in STEPS:
        step.ensure(r)
    return StoreState(
        fs_uuid=r.uuid,
        device=r.device,
        by_path=r.by_path,
        fs_type=r.spec.fs_type,
        session_id=r.sid,
        target_portal=str(r.portal),
        previous_datadir=r.previous,
        config_layout=r.layout,
        config_section=r.section,
        service=r.service,
        owner=r.owner,
        initiator_name=r.initiator,
        lun=r.lun,
        mounted=True,
        fstab_ok=True,
        datadir_ok=True,
        session_ok=True,
        service_active=True,
        owner_ok=True,
        writable=True,
        formatted=r.formatted,
        image_files=ctl.count_files(r.t, r.spec.mount_point),
    )


def create(
    transport: Transport,
    spec: StoreSpec,
    progress: Progress | None = None,
    *,
    sleep: Sleep = time.sleep,
) -> StoreState:
    """Make the store (or finish making it after an interrupted run)."""
    return _apply(Run(transport, spec, None, progress or _noop, sleep, allow_format=True))


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
    return _apply(Run(transport, spec, state, progress or _noop, sleep, allow_format=False))


repair = update


def read(
    transport: Transport, spec: StoreSpec, known: StoreState | None = None
) -> StoreState | None:
    """The store as it is now, without changing anything; None if nothing of it is left.

    "Nothing left" means no iSCSI session, no fstab line, no mount and no datadir pointing at
    the mount point. With ``known=None`` (import) the filesystem is identified by the fstab
    line for ``mount_point``, else by what is mounted there.
    """
    r = Run(transport, spec, known)
    for i, step in enumerate(STEPS):
        step.drift(r)
        if i == _LAST_TRACE and not any(s.found(r) for s in STEPS if s.found is not None):
            return None
    base = known if known is not None else StoreState(fs_uuid=r.uuid)
    session = r.sessions[0] if r.sessions else None
    return replace(
        base,
        fs_uuid=r.uuid,
        device=r.device,
        by_path=r.by_path,
        fs_type=spec.fs_type if r.mounted else base.fs_type,
        session_id=session.sid if session else None,
        target_portal=str(session.portal) if session else base.target_portal,
        initiator_name=base.initiator_name or ctl.read_initiator_name(transport),
        config_layout=r.layout or base.config_layout,
        previous_datadir=r.previous if r.marked else base.previous_datadir,
        config_section=r.section or base.config_section,
        service=r.service,
        owner=r.owner,
        lun=r.lun,
        mounted=r.mounted,
        fstab_ok=r.fstab_ok,
        datadir_ok=r.datadir_ok,
        session_ok=session is not None,
        service_active=r.service_active,
        owner_ok=r.owner_ok,
        writable=r.writable,
        formatted=False,
        image_files=ctl.count_files(transport, spec.mount_point) if r.mounted else None,
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
    """Take the store apart in reverse order; the data stays on the volume.

    Refuses (:class:`StoreNotEmpty`) while the mounted store holds image files, unless
    ``force_destroy``. Every step is skipped when already done, so a failed delete can be
    re-run. glance-api is restarted only when the datadir was changed back, so if that
    restart fails, a re-run goes on to unmount (the config is already restored).
    """
    r = Run(transport, spec, state, progress or _noop, sleep)
    refuse_while_images(r, force_destroy)
    for step in reversed(STEPS):
        step.undo(r)


def _noop(_: str) -> None:
    return None
