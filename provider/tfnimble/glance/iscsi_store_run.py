"""One walk over a glance_iscsi_store's steps: the shared :class:`Run` and the :class:`Step` shape.

A step's ``check`` runs in the preflight, before anything changes, and raises if the step
cannot be done; ``ensure`` makes the step so, acting only where it is not; ``undo`` takes it
away and skips what is already gone; ``drift`` only looks, for read. Each step writes what it
found or made into the :class:`Run` for the steps after it. The steps are in
:mod:`tfnimble.glance.iscsi_store_steps` (the disk side) and
:mod:`tfnimble.glance.iscsi_store_glance_steps` (glance-api); their order is
:data:`tfnimble.glance.iscsi_store_ops.STEPS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import controller as ctl
from . import fstab, glance_conf
from .controller import Portal
from .iscsi_store_spec import StoreSpec, StoreState
from .transport.base import Transport

__all__ = [
    "FSTAB",
    "Progress",
    "Run",
    "Sleep",
    "Step",
    "need",
    "read_fstab",
    "resolve_service",
    "uuid_of",
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


def need(value: str | int | Portal | None, what: str) -> str:
    """``value`` as text; an earlier step must have set it."""
    if value is None:
        raise RuntimeError(f"internal error: the {what} step has not run")
    return str(value)


def uuid_of(r: Run, device: str) -> str | None:
    info = ctl.blkid_probe(r.t, device)
    return None if info is None or info.uuid is None else info.uuid.lower()


def read_fstab(r: Run) -> str:
    return (r.t.read_file(FSTAB) or b"").decode()


def resolve_service(r: Run) -> str:
    """The glance-api unit: the spec's, the known one, else the one detected (once per run)."""
    if r.service is None:
        known = r.known.service if r.known is not None else None
        r.service = r.spec.service or known or ctl.detect_service(r.t)
    return r.service
