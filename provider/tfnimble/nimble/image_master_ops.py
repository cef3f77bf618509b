"""The nimble_image_master operations, free of Terraform: what happens on the array and over
iSCSI between "the plan says create" and "the master is ready".

Steps of a create, in order (the resource calls them, and maps failures to diagnostics):
:func:`prepare_source` (probe and hash, before anything exists on the array),
:func:`check_size`, :func:`discovery_portal`, :func:`create_volume`, then
:func:`write_and_snapshot`: temporary access for the writing initiator, the LUN that access
record was given confirmed on the target (its unit serial number is the volume's), write,
verify, access removed, base snapshot. After a failure :func:`discard` deletes the volume.

Rules:
1. The base snapshot is taken only after the image was verified and the access removed, so
   no clone can be made from a half-written master.
2. Temporary access is removed on the way out whatever happened; a failure to remove it
   after a good write is an error of its own.
3. Errors are :class:`Failure` (what went wrong, and which attribute it concerns) or
   :class:`ApiFailure` (a client call, with what was being done); nothing here knows
   Terraform. Cancellation and timeouts are the caller's ``Job.check``.
4. The REST client is imported inside functions, like everywhere in the provider, so that
   importing this module does not load ``requests``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from . import chap_login, dependents, lunprobe, temp_access
from . import glance_source as gs
from . import imagewrite as iw

if TYPE_CHECKING:
    from .client import AccessControlRecord, NimbleClient, NimbleError, Snapshot, Volume

T = TypeVar("T")

KIND = "image master"
DEFAULT_SNAPSHOT = "ito-base"
PROVENANCE = "nimble_image_master"
MIB = 1024 * 1024


class Failure(Exception):
    """A step failed; `summary` is a Title Case headline, `attribute` the one it concerns."""

    def __init__(self, summary: str, detail: str, attribute: str | None = None) -> None:
        super().__init__(detail)
        self.summary, self.detail, self.attribute = summary, detail, attribute


class ApiFailure(Exception):
    """A client call failed while doing `action` to the `kind` called `name`."""

    def __init__(
        self, action: str, kind: str, name: str, cause: NimbleError, pinpoint: bool = True
    ) -> None:
        super().__init__(str(cause))
        self.action, self.kind, self.name, self.cause = action, kind, name, cause
        #: whether a rejected argument the array names may point at its attribute
        self.pinpoint = pinpoint


class StillHasClones(Exception):
    """The base snapshot cannot be deleted: these clones of it exist."""

    def __init__(self, clones: list[str], cause: BaseException | None = None) -> None:
        super().__init__(", ".join(clones))
        self.clones, self.cause = clones, cause


@dataclass
class Job:
    """What one operation runs with: the client, and the caller's cancellation and clock."""

    client: NimbleClient
    check: Callable[[str], None]
    stop_event: threading.Event
    deadline: float | None
    log: logging.Logger


def api(fn: Callable[[], T], action: str, kind: str, name: str) -> T:
    from .client import NimbleError

    try:
        return fn()
    except NimbleError as err:
        raise ApiFailure(action, kind, name, err) from err


# --- source ------------------------------------------------------------------------------------


def prepare_source(
    job: Job,
    name: str,
    source: str,
    fmt: str | None,
    sha256: str | None,
    planned: dict[str, Any],
    workdir: str,
    auth: tuple[str, str] | None = None,
    glance: gs.Glance | None = None,
) -> iw.Source:
    """Fetch, hash and probe the source; check it against the pinned digest and against what
    the plan showed (`planned`: image_format and image_virtual_size, when known). `auth` is
    the download's (username, password), kept out of every message. With `glance`, the
    image comes from Glance instead of `source`, verified against Glance's checksums."""
    shown = glance.shown if glance is not None else iw.display_source(source)
    job.log.info("image master %s: reading %s", name, shown)
    stop, deadline = job.stop_event, job.deadline
    try:
        if glance is not None:
            src = gs.prepare(glance, fmt, workdir, stop, deadline, job.log)
        else:
            src = iw.prepare_source(source, fmt, workdir, stop, deadline, job.log, auth=auth)
    except gs.GlanceError as err:
        at = f"glance_{err.attribute}" if err.attribute else None
        raise Failure(err.summary, err.detail, at) from err
    except iw.ImageError as err:
        raise Failure(err.summary, err.detail, "glance_image_id" if glance else "source") from err
    if sha256 and sha256.lower() != src.sha256:
        raise Failure(
            "Image Checksum Mismatch",
            f"{shown} has SHA-256 {src.sha256}, but sha256 expects {sha256.lower()}. "
            "Nothing was created on the array. Check that source and sha256 name the same "
            "image (a download may have been truncated or replaced).",
            "sha256",
        )
    for attr, got in (("image_format", src.format), ("image_virtual_size", src.virtual_size)):
        was = planned.get(attr)
        if was is not None and was != got:
            raise Failure(
                "Image Changed Since Plan",
                f"{shown} is now {attr} = {got}; the plan was made with {was}. Run "
                "terraform apply again to plan with the current file.",
                "source",
            )
    return src


def check_size(size_mib: int | None, virtual_size: int) -> None:
    need = -(-virtual_size // MIB)
    if size_mib is not None and size_mib < need:
        raise Failure(
            "Volume Smaller Than Image",
            f"size_mib = {size_mib} cannot hold the image: its virtual size is "
            f"{virtual_size} bytes ({need} MiB). Set size_mib to {need} or more, or leave it "
            "unset.",
            "size_mib",
        )


def source_changed(
    source: str, image_sha256: str | None, known: object, job: Job
) -> tuple[str | None, list[Any] | None]:
    """Why the local source no longer matches the master (or None), and the fingerprint
    ``[size, mtime_ns, sha256]`` to remember when it was re-hashed and still matches.

    Hashing a multi-GiB image at every refresh would make every plan slow, so the file is
    re-hashed only when its size or modification time differ from `known` (the fingerprint
    of the last hash). A URL is not fetched: pin `sha256` for that.
    """
    if iw.is_url(source) or not image_sha256:
        return None, None
    fp = iw.fingerprint(source)
    if fp is None:
        return None, None  # the file may be gone after the write; the master is still good
    if isinstance(known, list) and len(known) == 3 and tuple(known[:2]) == fp:
        return None, None
    try:
        digest = iw.sha256_file(source, job.stop_event)
    except (OSError, iw.ImageError) as err:
        job.log.warning("cannot hash %s: %s", source, err)
        return None, None
    if digest == image_sha256:
        return None, [fp[0], fp[1], digest]
    return f"sha256 {digest[:12]}…, master holds {image_sha256[:12]}…", None


# --- the array ---------------------------------------------------------------------------------


def discovery_portal(job: Job) -> str:
    from .client import network

    cl = job.client
    found = api(lambda: network.get_discovery(cl), "find", "iSCSI discovery IP", "group")
    return found.discovery_ip


def create_volume(
    job: Job,
    name: str,
    size_mib: int,
    pool_id: str | None,
    policy_id: str | None,
    description: str | None,
) -> Volume:
    from .client import volumes

    cl = job.client
    job.check(f"creating image master {name}")
    vol = api(
        lambda: volumes.create_volume(
            cl,
            name,
            size_mib,
            pool_id=pool_id,
            perfpolicy_id=policy_id,
            description=description,
            online=True,
            never_adopt="an image master writes only into a volume created by this apply",
        ),
        "create",
        KIND,
        name,
    )
    job.log.info("image master %s: volume %s created (%d MiB)", name, vol.id, size_mib)
    return vol


def chap_user_id(job: Job, username: str) -> str:
    """The array's ID of the CHAP user the image write logs in as (before anything exists)."""
    found = api(lambda: chap_login.user_id(job.client, username), "find", "CHAP user", username)
    if found is None:
        raise Failure(
            "CHAP User Not Found",
            f'The array has no CHAP user "{username}". Create it first (nimble_chap_user) '
            "or correct chap_username. Nothing was created on the array.",
            "chap_username",
        )
    return found


@contextmanager
def temporary_access(
    job: Job, vol: Volume, initiator: str, name: str, chap_user: str | None = None
) -> Iterator[AccessControlRecord]:
    """An access control record for `initiator` (naming the CHAP user whose ID is `chap_user`,
    if given) through a temporary initiator group of its
    own (never a group that exists already: see ``temp_access``), both removed on the way
    out whatever happened. Leftover temporary groups of killed runs are removed first.
    Yields the record: its ``lun`` is where the volume appears on the target (read back if
    the answer omitted it)."""
    from .client import access_control_records as acrs
    from .client import initiator_groups as igs

    cl = job.client
    for gone in temp_access.remove_leftovers(cl, job.log):
        job.log.warning("image master %s: removed leftover temporary group %s", name, gone)
    group = api(
        lambda: temp_access.create_group(cl, initiator, name),
        "create",
        "initiator group",
        initiator,
    )
    undo: list[tuple[Callable[[], Any], str]] = [
        (
            lambda: igs.delete_initiator_group(cl, group.id, missing_ok=True),
            f'initiator group "{group.name}"',
        )
    ]
    group_id, group_name = group.id, group.name
    try:
        acr = api(
            lambda: acrs.create_access_control_record(
                cl, vol.id, group_id, apply_to="volume", chap_user_id=chap_user
            ),
            "create",
            "access control record",
            f"{name}/{group_name}",
        )
        undo.insert(
            0,
            (
                lambda: acrs.delete_access_control_record(cl, acr.id, missing_ok=True),
                f"access control record {acr.id}",
            ),
        )
        if acr.lun is None:
            again = api(
                lambda: acrs.get_access_control_record(cl, acr.id),
                "read",
                "access control record",
                f"{name}/{group_name}",
            )
            acr = again if again is not None else acr
        job.log.info(
            "image master %s: %s may write it (temporarily) at LUN %s", name, initiator, acr.lun
        )
        yield acr
    except BaseException:
        problems = [p for fn, what in undo for p in _attempt(fn, what)]
        if problems:
            job.log.error("could not remove temporary access: %s", "; ".join(problems))
        raise
    problems = [p for fn, what in undo for p in _attempt(fn, what)]
    if problems:
        raise Failure(
            "Temporary Access Not Removed",
            f"The image was written to {name}, but removing the temporary access failed: "
            f"{'; '.join(problems)}.",
        )


def _iscsi(fn: Callable[[], T], chap: chap_login.Chap | None = None) -> T:
    try:
        return fn()
    except iw.ImageError as err:
        attribute = {
            "iSCSI Portal Unreachable": "portal",
            "Initiator Refused": "initiator_name",
            "iSCSI Login Refused": "chap_secret_wo" if chap else "chap_username",
        }
        raise Failure(err.summary, err.detail, attribute.get(err.summary)) from err


def write_and_snapshot(
    job: Job,
    vol: Volume,
    src: iw.Source,
    initiator: str,
    portal: str,
    snapshot_name: str,
    description: str,
    chap: tuple[chap_login.Chap, str] | None = None,
) -> Snapshot:
    """Write and verify the image through temporary access, then take the base snapshot.
    With `chap` (the login and its CHAP user's ID) the access record names that user and
    every tool logs in with it."""
    from .client import snapshots

    cl, name, stop, deadline = job.client, vol.name, job.stop_event, job.deadline
    login, chap_id = chap if chap is not None else (None, None)
    with temporary_access(job, vol, initiator, name, chap_id) as acr:
        if acr.lun is None:
            raise Failure(
                "Access Record Has No LUN",
                f"The array created access control record {acr.id} for {name} but reports no "
                "LUN for it, so the volume cannot be found on the target. Nothing was written.",
            )
        given: int = acr.lun
        serial, settle = vol.serial_number, iw.ACL_PROPAGATION
        lun = _iscsi(
            lambda: lunprobe.confirm_lun(
                portal, vol.target_name, initiator, given, serial, stop, deadline, settle, login
            ),
            login,
        )
        target = iw.Target(portal, vol.target_name, lun, initiator, login)
        _iscsi(lambda: iw.write(src, target, stop, deadline, job.log), login)
        _iscsi(lambda: iw.verify(src, target, stop, deadline, job.log), login)
        if not src.downloaded and iw.fingerprint(src.path) != (src.file_size, src.mtime_ns):
            raise Failure(
                "Image Changed While Written",
                f"{src.path} changed while it was written; the master would not hold what "
                "image_sha256 says. Apply again once the file is stable.",
                "source",
            )
    job.check(f"snapshotting image master {name}")
    snap = api(
        lambda: snapshots.create_snapshot(cl, vol.id, snapshot_name, description=description),
        "create",
        "snapshot",
        f"{name}/{snapshot_name}",
    )
    job.log.info("image master %s ready: snapshot %s (%s)", name, snap.name, snap.id)
    return snap


def discard(job: Job, vol: Volume, err: BaseException) -> str | None:
    """After a failure: delete the unfinished volume. The problem, if that failed too."""
    from .client import volumes

    cl = job.client
    job.log.warning("image master %s failed (%s); deleting volume %s", vol.name, err, vol.id)
    problems = _attempt(
        lambda: volumes.offline_and_delete_volume(cl, vol.id, force=True), f"volume {vol.id}"
    )
    return problems[0] if problems else None


def discard_note(name: str, problem: str | None) -> str:
    """What :func:`discard` did, for the end of the failure's message."""
    if problem is None:
        return f"The unfinished volume {name} was deleted: nothing was left on the array."
    return (
        f"Deleting the unfinished volume {name} failed too ({problem}); Terraform records it as "
        "tainted, so the next apply replaces it. It has no snapshot, so no clone can be made "
        "from it."
    )


def delete_base_snapshot(job: Job, name: str, snapshot_id: str, snapshot_name: str) -> None:
    """Delete the base snapshot of master `name`. While clones of it exist, wait for those this
    run deletes (``dependents``); refused (:class:`StillHasClones`) if any remain."""
    from .client import Conflict, NimbleError, snapshots

    cl = job.client
    job.check(f"deleting image master {name}")

    def clones() -> dict[str, str]:
        return {v.id: v.name for v in snapshots.list_clones_of_snapshot(cl, snapshot_id)}

    def remaining() -> list[str]:
        left = dependents.wait_until_gone(
            snapshot_id, clones, job.stop_event, job.deadline, job.log
        )
        return sorted(left.values())

    with dependents.deleting(snapshot_id):
        for _ in range(3):
            left = api(remaining, "delete", KIND, name)
            if left:
                raise StillHasClones(left)
            try:
                snapshots.delete_snapshot(cl, snapshot_id, missing_ok=True)
                return
            except Conflict as err:
                if err.code not in ("SM_snap_has_clone", "SM_vol_has_clone"):
                    raise ApiFailure("delete", "snapshot", snapshot_name, err, False) from err
                refused = err
            except NimbleError as err:
                raise ApiFailure("delete", "snapshot", snapshot_name, err, pinpoint=False) from err
        raise StillHasClones(sorted(api(clones, "delete", KIND, name).values()), refused)


def _attempt(fn: Callable[[], Any], what: str) -> list[str]:
    from .client import NimbleError

    try:
        fn()
    except NimbleError as err:
        return [f"{what}: {err}"]
    return []


# --- provenance --------------------------------------------------------------------------------


def provenance(src: iw.Source, source: str, pinned: bool) -> str:
    """What the base snapshot's description records (at most 255 characters)."""
    head = (
        f"{PROVENANCE}: sha256={src.sha256} format={src.format} "
        f"virtual_size={src.virtual_size} pinned={int(pinned)}"
    )
    shown = iw.display_source(source)
    tail = f" source={shown}"
    # A source that does not fit, or that lost a secret to display_source, is not recorded:
    # import then adopts whatever source the configuration names.
    if shown == source and len(head) + len(tail) <= 255:
        head += tail
    return head


_PROVENANCE = re.compile(
    rf"^{PROVENANCE}: sha256=(?P<sha256>[0-9a-f]{{64}}) format=(?P<format>\w+) "
    r"virtual_size=(?P<virtual_size>\d+) pinned=(?P<pinned>[01])(?: source=(?P<source>.+))?$"
)


def parse_provenance(text: str) -> dict[str, Any]:
    m = _PROVENANCE.match(text or "")
    if not m:
        return {}
    return {
        "sha256": m["sha256"],
        "format": m["format"],
        "virtual_size": int(m["virtual_size"]),
        "pinned": m["pinned"] == "1",
        "source": m["source"],
    }
