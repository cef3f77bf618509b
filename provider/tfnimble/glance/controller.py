"""Small operations on the controller over a :class:`~tfnimble.glance.transport.Transport`.

Each function runs one or two commands (argument vectors only), parses their real output
(controller.md: open-iscsi 2.1.x, util-linux, systemd) and maps exit statuses to the typed
errors below. Nothing here knows Terraform; :mod:`tfnimble.glance.iscsi_store_ops` composes
these into the store's create/read/update/delete.

Exit statuses handled (iscsiadm): 0 ok; 4 portal unreachable; 8 login timeout; 12 iSCSI
driver not loaded; 15 session exists (login: already logged in); 19 target not found or
initiator not allowed; 20 iscsid unreachable; 21 no records / no portals / no sessions /
nothing to log out; 24 authentication or authorization failure.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .transport.base import CommandResult, Transport

__all__ = [
    "AUTOMATIC",
    "DEFAULT_SERVICE_USER",
    "MANUAL",
    "SERVICE_CANDIDATES",
    "BlkidInfo",
    "CommandFailed",
    "ConfigError",
    "ControllerError",
    "DeviceNotFound",
    "DiscoveryError",
    "FilesystemMismatch",
    "FstabError",
    "LoginError",
    "MountError",
    "MountInfo",
    "Portal",
    "ServiceError",
    "Session",
    "SessionDetail",
    "StoreNotEmpty",
    "Target",
    "blkid_probe",
    "by_path_link",
    "chmod",
    "chown",
    "count_files",
    "detect_lun",
    "detect_service",
    "find_by_path_device",
    "findmnt",
    "format_lun",
    "is_writable_by",
    "iscsi_delete_node",
    "iscsi_discover",
    "iscsi_login",
    "iscsi_logout",
    "iscsi_rescan",
    "iscsi_session_details",
    "iscsi_sessions",
    "iscsi_set_startup",
    "mkdir_p",
    "mkfs",
    "mount",
    "mounted_at",
    "parse_blkid_export",
    "parse_discovery",
    "parse_findmnt_raw",
    "parse_initiator_name",
    "parse_portal",
    "parse_session_details",
    "parse_sessions",
    "primary_group",
    "read_initiator_name",
    "remount",
    "resolve_path",
    "service_is_active",
    "service_journal_tail",
    "service_restart",
    "service_user",
    "stat_path",
    "umount",
    "user_exists",
    "wait_service_active",
]

ISCSIADM = "iscsiadm"
INITIATOR_NAME_FILE = "/etc/iscsi/initiatorname.iscsi"
AUTOMATIC = "automatic"
MANUAL = "manual"
DEFAULT_SERVICE_USER = "glance"
#: glance-api unit names, per deployment (controller.md 1.4), in detection order.
SERVICE_CANDIDATES: tuple[str, ...] = ("glance-api", "openstack-glance-api", "devstack@g-api")

Sleep = Callable[[float], None]


# -- errors ------------------------------------------------------------------------------


class ControllerError(Exception):
    """Something on the controller is not as the store needs it.

    ``summary`` is a short Title-Case headline (for a diagnostic); ``str(exc)`` says what
    was being done, names the object and says what to do.
    """

    summary = "Controller Error"

    def __init__(self, message: str, *, result: CommandResult | None = None) -> None:
        super().__init__(message)
        self.result = result

    @property
    def returncode(self) -> int | None:
        return None if self.result is None else self.result.returncode


class CommandFailed(ControllerError):
    summary = "Controller Command Failed"


class DiscoveryError(ControllerError):
    summary = "iSCSI Discovery Failed"


class LoginError(ControllerError):
    summary = "iSCSI Login Failed"


class DeviceNotFound(ControllerError):
    summary = "iSCSI Device Not Found"


class FilesystemMismatch(ControllerError):
    summary = "Unexpected Filesystem On Device"


class MountError(ControllerError):
    summary = "Mount Failed"


class FstabError(ControllerError):
    summary = "Cannot Edit /etc/fstab"


class ConfigError(ControllerError):
    summary = "Cannot Edit glance-api.conf"


class ServiceError(ControllerError):
    summary = "Glance Service Error"


class StoreNotEmpty(ControllerError):
    summary = "Glance Store Not Empty"


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def _failed(what: str, result: CommandResult) -> CommandFailed:
    detail = _tail(result.stderr) or _tail(result.stdout) or "no output"
    return CommandFailed(
        f"{what}: {result.argv[0]} exited with status {result.returncode}: {detail}",
        result=result,
    )


# -- portals -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Portal:
    """An iSCSI portal: host (IPv6 without brackets) and TCP port."""

    host: str
    port: int = 3260

    def __str__(self) -> str:
        """``IP:PORT``, or ``[IPv6]:PORT``: the form ``iscsiadm -p`` takes."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_portal(text: str, default_port: int = 3260) -> Portal:
    """Parse ``IP``, ``IP:PORT``, ``[IPv6]:PORT``, a bare IPv6 address, or a host name."""
    value = text.strip()
    if not value:
        raise ValueError("portal must not be empty")
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep:
            raise ValueError(f"invalid portal {text!r}")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:] else default_port
        return Portal(host, port)
    if value.count(":") == 1:
        host, _, port_text = value.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"invalid port in portal {text!r}")
        return Portal(host, int(port_text))
    return Portal(value, default_port)


# -- discovery ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One line of sendtargets discovery: ``IP:PORT,TPGT IQN``."""

    portal: Portal
    tpgt: int
    iqn: str


_TARGET_NAME = ("iqn.", "eui.", "naa.")


def parse_discovery(stdout: str) -> list[Target]:
    """Parse ``iscsiadm -m discovery`` / ``-m node`` output (os-brick's rule: two fields)."""
    targets = []
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) != 2 or not fields[1].startswith(_TARGET_NAME):
            continue
        address, _, tpgt = fields[0].rpartition(",")
        if not address:
            continue
        try:
            portal = parse_portal(address)
            targets.append(Target(portal, int(tpgt), fields[1]))
        except ValueError:
            continue
    return targets


def iscsi_discover(t: Transport, portal: str) -> list[Target]:
    """SendTargets discovery at ``portal``; the targets it offers to this initiator."""
    p = parse_portal(portal)
    r = t.run([ISCSIADM, "-m", "discovery", "-t", "sendtargets", "-p", str(p)], idempotent=True)
    if r.returncode == 0:
        return parse_discovery(r.stdout)
    if r.returncode == 21:
        raise DiscoveryError(
            f"iSCSI discovery at {p} found no targets for this initiator. Check that the "
            "volume is online and that an access control record allows this host's "
            f"initiator name ({INITIATOR_NAME_FILE})",
            result=r,
        )
    if r.returncode == 4:
        raise DiscoveryError(
            f"cannot connect to the iSCSI portal {p} for discovery. Check the portal "
            "address (the array's discovery IP), routing and firewalls (TCP port "
            f"{p.port})",
            result=r,
        )
    if r.returncode == 12:
        raise DiscoveryError(
            f"iSCSI discovery at {p} failed: the iSCSI driver is not loaded on the "
            "controller. Load it (`modprobe iscsi_tcp`) and start iscsid",
            result=r,
        )
    if r.returncode == 127:
        raise DiscoveryError(
            "iscsiadm is not installed on the controller: install open-iscsi "
            "(Debian/Ubuntu) or iscsi-initiator-utils (RHEL)",
            result=r,
        )
    raise DiscoveryError(
        f"iSCSI discovery at {p} failed with status {r.returncode}: "
        f"{_tail(r.stderr) or _tail(r.stdout)}",
        result=r,
    )


# -- login / logout / node records --------------------------------------------------------


_LOGIN_CAUSES: dict[int, tuple[str, str]] = {
    19: (
        "target not found, or this initiator is not allowed by the array's access control",
        "Check that the volume exists and is online, and that an access control record "
        "(initiator group) on the array allows this controller's initiator name",
    ),
    24: (
        "authentication or authorization failure",
        "Check CHAP settings on the array and in the node record, and the access control "
        "record for this initiator",
    ),
    8: (
        "connection timed out",
        "Check the network path to the array's data IP (routing, firewalls, MTU)",
    ),
    20: (
        "could not connect to iscsid",
        "Start the iSCSI daemon on the controller (`systemctl start iscsid`)",
    ),
}


def iscsi_login(
    t: Transport, iqn: str, portal: str | Portal, *, initiator: str | None = None
) -> bool:
    """Log in to the target. True if a session was created, False if one already existed."""
    p = portal if isinstance(portal, Portal) else parse_portal(portal)
    r = t.run([ISCSIADM, "-m", "node", "-T", iqn, "-p", str(p), "--login"])
    if r.returncode == 0:
        return True
    if r.returncode == 15:
        return False
    who = f" (initiator {initiator})" if initiator else ""
    if r.returncode in _LOGIN_CAUSES:
        cause, hint = _LOGIN_CAUSES[r.returncode]
        raise LoginError(
            f"iSCSI login to {iqn} at {p}{who} failed with status {r.returncode}: {cause}. {hint}",
            result=r,
        )
    if r.returncode == 21:
        raise LoginError(
            f"no iSCSI node record for {iqn} at {p}: run discovery at the portal first",
            result=r,
        )
    raise LoginError(
        f"iSCSI login to {iqn} at {p}{who} failed with status {r.returncode}: "
        f"{_tail(r.stderr) or _tail(r.stdout)}",
        result=r,
    )


def _node_argv(iqn: str, portal: str | Portal | None) -> tuple[list[str], str]:
    argv = [ISCSIADM, "-m", "node", "-T", iqn]
    if portal is None:
        return argv, "all portals"
    p = portal if isinstance(portal, Portal) else parse_portal(portal)
    return [*argv, "-p", str(p)], str(p)


def iscsi_set_startup(t: Transport, iqn: str, portal: str | Portal | None, mode: str) -> bool:
    """Set ``node.startup`` (automatic: logged in at boot). False if there is no record.

    A missing record is fine when setting ``manual`` (nothing to undo) and an error otherwise.
    ``portal=None`` updates the records of every portal of the target.
    """
    if mode not in (AUTOMATIC, MANUAL):
        raise ValueError("mode must be 'automatic' or 'manual'")
    argv, p = _node_argv(iqn, portal)
    r = t.run([*argv, "-o", "update", "-n", "node.startup", "-v", mode], idempotent=True)
    if r.returncode == 0:
        return True
    if r.returncode == 21 and mode == MANUAL:
        return False
    if r.returncode == 21:
        raise LoginError(
            f"no iSCSI node record for {iqn} at {p} to mark node.startup = {mode}", result=r
        )
    raise _failed(f"setting node.startup = {mode} for {iqn} at {p}", r)


def iscsi_logout(t: Transport, iqn: str, portal: str | Portal) -> bool:
    """Log out of the target. False if there was no session to log out of."""
    p = portal if isinstance(portal, Portal) else parse_portal(portal)
    r = t.run([ISCSIADM, "-m", "node", "-T", iqn, "-p", str(p), "--logout"], idempotent=True)
    if r.returncode == 0:
        return True
    if r.returncode == 21:
        return False
    raise _failed(f"logging out of {iqn} at {p}", r)


def iscsi_delete_node(t: Transport, iqn: str, portal: str | Portal | None) -> bool:
    """Delete the node record (every portal's with ``portal=None``). False if there was none."""
    argv, p = _node_argv(iqn, portal)
    r = t.run([*argv, "-o", "delete"], idempotent=True)
    if r.returncode == 0:
        return True
    if r.returncode == 21:
        return False
    raise _failed(f"deleting the iSCSI node record of {iqn} at {p}", r)


def iscsi_rescan(t: Transport, sid: int) -> None:
    """Rescan a session for new LUNs."""
    r = t.run([ISCSIADM, "-m", "session", "-r", str(sid), "--rescan"], idempotent=True)
    if r.returncode != 0:
        raise _failed(f"rescanning iSCSI session {sid}", r)


# -- sessions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """One line of ``iscsiadm -m session``."""

    transport: str
    sid: int
    portal: Portal
    tpgt: int
    iqn: str
    flash: bool = False


_SESSION_LINE = re.compile(
    r"^(?P<transport>\S+): \[(?P<sid>\d+)\] (?P<portal>\S+),(?P<tpgt>-?\d+) (?P<iqn>\S+)"
    r"(?: \((?P<flash>non-flash|flash)\))?\s*$"
)


def parse_sessions(stdout: str) -> list[Session]:
    sessions = []
    for line in stdout.splitlines():
        m = _SESSION_LINE.match(line.strip())
        if not m:
            continue
        sessions.append(
            Session(
                transport=m["transport"],
                sid=int(m["sid"]),
                portal=parse_portal(m["portal"]),
                tpgt=int(m["tpgt"]),
                iqn=m["iqn"],
                flash=m["flash"] == "flash",
            )
        )
    return sessions


def iscsi_sessions(t: Transport) -> list[Session]:
    """Active sessions (empty when iscsiadm says "No active sessions", status 21)."""
    r = t.run([ISCSIADM, "-m", "session"], idempotent=True)
    if r.returncode == 21:
        return []
    if r.returncode != 0:
        raise _failed("listing iSCSI sessions", r)
    return parse_sessions(r.stdout)


@dataclass(frozen=True)
class SessionDetail:
    """One target/session block of ``iscsiadm -m session -P 3``."""

    iqn: str
    portal: Portal | None
    sid: int | None
    session_state: str | None
    luns: dict[int, str | None] = field(default_factory=dict)
    """LUN number → attached disk name (``sdc``) or None when no disk is attached."""


_P3_TARGET = re.compile(r"^Target:\s+(\S+)")
_P3_PORTAL = re.compile(r"^\s*Current Portal:\s+(\S+),(-?\d+)")
_P3_SID = re.compile(r"^\s*SID:\s+(\d+)")
_P3_STATE = re.compile(r"^\s*iSCSI Session State:\s+(\S+)")
_P3_LUN = re.compile(r"^\s*scsi\d+ Channel \d+ Id \d+ Lun: (\d+)\s*$")
_P3_DISK = re.compile(r"^\s*Attached scsi disk (\S+)\s+State:")


def parse_session_details(stdout: str) -> list[SessionDetail]:
    """Parse the TAB-indented tree of ``iscsiadm -m session -P 3``."""
    details: list[SessionDetail] = []
    iqn: str | None = None
    portal: Portal | None = None
    sid: int | None = None
    state: str | None = None
    luns: dict[int, str | None] = {}
    lun: int | None = None

    def flush() -> None:
        if iqn is not None and (sid is not None or luns):
            details.append(SessionDetail(iqn, portal, sid, state, dict(luns)))

    for line in stdout.splitlines():
        if m := _P3_TARGET.match(line):
            flush()
            iqn, portal, sid, state, luns, lun = m[1], None, None, None, {}, None
        elif m := _P3_PORTAL.match(line):
            if sid is not None:  # a second session of the same target
                flush()
                sid, state, luns, lun = None, None, {}, None
            portal = parse_portal(m[1])
        elif m := _P3_SID.match(line):
            sid = int(m[1])
        elif m := _P3_STATE.match(line):
            state = m[1]
        elif m := _P3_LUN.match(line):
            lun = int(m[1])
            luns[lun] = None
        elif (m := _P3_DISK.match(line)) and lun is not None:
            luns[lun] = m[1]
    flush()
    return details


def iscsi_session_details(t: Transport) -> list[SessionDetail]:
    r = t.run([ISCSIADM, "-m", "session", "-P", "3"], idempotent=True)
    if r.returncode == 21:
        return []
    if r.returncode != 0:
        raise _failed("listing iSCSI session details", r)
    return parse_session_details(r.stdout)


def detect_lun(t: Transport, iqn: str) -> int:
    """The target's first LUN with an attached disk, else its first LUN, else 0.

    Nimble exports each volume as LUN 0 of its own target; tgtd adds a controller LUN 0 with
    no disk and puts the volume on LUN 1. Both come out right.
    """
    luns: dict[int, str | None] = {}
    for detail in iscsi_session_details(t):
        if detail.iqn == iqn:
            luns.update(detail.luns)
    with_disk = sorted(n for n, disk in luns.items() if disk)
    if with_disk:
        return with_disk[0]
    return min(luns) if luns else 0


# -- initiator name ----------------------------------------------------------------------


def parse_initiator_name(text: str) -> str | None:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if key.strip() == "InitiatorName" and value.strip():
            return value.strip()
    return None


def read_initiator_name(t: Transport, path: str = INITIATOR_NAME_FILE) -> str | None:
    data = t.read_file(path)
    return None if data is None else parse_initiator_name(data.decode("utf-8", "replace"))


# -- devices -----------------------------------------------------------------------------


def format_lun(lun: int) -> str:
    """LUN as udev's path_id writes it: decimal below 256, else ``0x%04x%04x00000000``."""
    if lun < 256:
        return str(lun)
    return f"0x{lun & 0xFFFF:04x}{(lun >> 16) & 0xFFFF:04x}00000000"


def by_path_link(portal: Portal, iqn: str, lun: int) -> str:
    """``/dev/disk/by-path/ip-<addr>:<port>-iscsi-<iqn>-lun-<n>`` (IPv6 without brackets)."""
    return f"/dev/disk/by-path/ip-{portal.host}:{portal.port}-iscsi-{iqn}-lun-{format_lun(lun)}"


def resolve_path(t: Transport, path: str) -> str | None:
    """The device a link points to (``readlink -e``), or None while it does not exist."""
    r = t.run(["readlink", "-e", "-n", "--", path], idempotent=True)
    if r.returncode == 0 and r.stdout.strip():
        return r.stdout.strip()
    return None


def _glob_by_path(t: Transport, suffix: str) -> str | None:
    """Offload transports prefix the link (``pci-...-ip-...``): look for ``*<suffix>``."""
    r = t.run(
        ["find", "/dev/disk/by-path", "-maxdepth", "1", "-name", f"*{suffix}"], idempotent=True
    )
    if r.returncode != 0:
        return None
    links = sorted(line for line in r.stdout.splitlines() if line.strip())
    return links[0] if links else None


def find_by_path_device(
    t: Transport,
    portal: Portal,
    iqn: str,
    lun: int,
    *,
    attempts: int = 20,
    delay: float = 0.5,
    sleep: Sleep = time.sleep,
) -> tuple[str, str] | None:
    """Wait (bounded) for the by-path link; ``(link, resolved device)`` or None."""
    link = by_path_link(portal, iqn, lun)
    suffix = link.rsplit("/", 1)[1]
    for attempt in range(max(1, attempts)):
        device = resolve_path(t, link)
        if device:
            return link, device
        other = _glob_by_path(t, suffix)
        if other:
            device = resolve_path(t, other)
            if device:
                return other, device
        if attempt + 1 < attempts:
            sleep(delay)
    return None


@dataclass(frozen=True)
class BlkidInfo:
    """What ``blkid -p -o export`` found on a device."""

    values: dict[str, str]

    @property
    def type(self) -> str | None:
        return self.values.get("TYPE")

    @property
    def uuid(self) -> str | None:
        return self.values.get("UUID")

    @property
    def pttype(self) -> str | None:
        return self.values.get("PTTYPE")

    def describe(self) -> str:
        if self.type:
            extra = f" (UUID {self.uuid})" if self.uuid else ""
            return f"an existing {self.type} filesystem{extra}"
        if self.pttype:
            return f"an existing {self.pttype} partition table"
        found = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return f"data blkid recognises ({found})"


def parse_blkid_export(stdout: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip()] = re.sub(r"\\(.)", r"\1", value.strip())
    return values


def blkid_probe(t: Transport, device: str) -> BlkidInfo | None:
    """Low-level probe of ``device``: None when it holds nothing blkid recognises (status 2).

    Anything else (a filesystem, a partition table, RAID members...) is returned, and status 8
    (ambivalent: several signatures) is an error: such a device is never "empty".
    """
    r = t.run(["blkid", "-p", "-o", "export", "--", device], idempotent=True)
    if r.returncode == 2:
        return None
    if r.returncode == 0:
        return BlkidInfo(parse_blkid_export(r.stdout))
    if r.returncode == 8:
        raise FilesystemMismatch(
            f"{device} carries several conflicting signatures (blkid: ambivalent result). "
            "Inspect it with `wipefs --no-act`; it is not treated as empty",
            result=r,
        )
    raise _failed(f"probing {device} with blkid", r)


def mkfs(
    t: Transport, device: str, fs_type: str, options: Sequence[str] = (), *, force: bool = False
) -> None:
    """Make a filesystem. Callers must have checked the device is empty (or been told to force)."""
    if not re.fullmatch(r"[a-z0-9]+", fs_type):
        raise ValueError(f"invalid filesystem type {fs_type!r}")
    argv = [f"mkfs.{fs_type}", "-q"]
    if force:
        argv.append("-f" if fs_type in ("xfs", "btrfs") else "-F")
    argv += [*options, device]
    r = t.run(argv, timeout=1800)
    if r.returncode != 0:
        raise _failed(f"making a {fs_type} filesystem on {device}", r)


# -- mounts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MountInfo:
    source: str
    target: str
    fs_type: str
    options: str


def _unhex(value: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m[1], 16)), value)


def parse_findmnt_raw(stdout: str) -> list[MountInfo]:
    """Parse ``findmnt -rn -o SOURCE,TARGET,FSTYPE,OPTIONS`` (``\\x20``-escaped fields)."""
    mounts = []
    for line in stdout.splitlines():
        fields = line.split(" ")
        if len(fields) < 4:
            continue
        mounts.append(MountInfo(*(_unhex(f) for f in fields[:4])))
    return mounts


def findmnt(
    t: Transport, *, mount_point: str | None = None, source: str | None = None
) -> list[MountInfo]:
    """Mounts, optionally only those at ``mount_point`` or of ``source`` (empty if none)."""
    argv = ["findmnt", "-rn", "-o", "SOURCE,TARGET,FSTYPE,OPTIONS"]
    if mount_point is not None:
        argv += ["--mountpoint", mount_point]
    if source is not None:
        argv += ["--source", source]
    r = t.run(argv, idempotent=True)
    if r.returncode == 1 and not r.stdout.strip():
        return []
    if r.returncode != 0:
        raise _failed("listing mounts with findmnt", r)
    return parse_findmnt_raw(r.stdout)


def mounted_at(t: Transport, mount_point: str) -> MountInfo | None:
    """The mount visible at ``mount_point`` (the top one if mounts are stacked), or None."""
    mounts = findmnt(t, mount_point=mount_point)
    return mounts[-1] if mounts else None


def mount(t: Transport, mount_point: str) -> None:
    """``mount MOUNT_POINT``: mount by the fstab line (and so validate it)."""
    r = t.run(["mount", "--", mount_point])
    if r.returncode != 0:
        raise MountError(
            f"mounting {mount_point} from its /etc/fstab line failed (status {r.returncode}): "
            f"{_tail(r.stderr) or _tail(r.stdout)}",
            result=r,
        )


def remount(t: Transport, mount_point: str) -> None:
    """Re-apply the fstab options of a mounted filesystem."""
    r = t.run(["mount", "-o", "remount", "--", mount_point])
    if r.returncode != 0:
        raise MountError(
            f"remounting {mount_point} failed (status {r.returncode}): {_tail(r.stderr)}",
            result=r,
        )


def umount(t: Transport, mount_point: str) -> bool:
    """Unmount; False if nothing was mounted there."""
    if mounted_at(t, mount_point) is None:
        return False
    r = t.run(["umount", "--", mount_point])
    if r.returncode == 0:
        return True
    if mounted_at(t, mount_point) is None:
        return True
    busy = "busy" in r.stderr
    hint = (
        f" Something still uses it: see `fuser -vm {mount_point}` (is glance-api still "
        "serving from it?)"
        if busy
        else ""
    )
    raise MountError(
        f"unmounting {mount_point} failed (status {r.returncode}): {_tail(r.stderr)}.{hint}",
        result=r,
    )


# -- files and ownership -----------------------------------------------------------------


def mkdir_p(t: Transport, path: str) -> None:
    r = t.run(["mkdir", "-p", "--", path], idempotent=True)
    if r.returncode != 0:
        raise _failed(f"creating directory {path}", r)


def chown(t: Transport, path: str, user: str, group: str | None = None) -> None:
    owner = f"{user}:{group}" if group else user
    r = t.run(["chown", "--", owner, path], idempotent=True)
    if r.returncode != 0:
        raise _failed(f"changing the owner of {path} to {owner}", r)


def chmod(t: Transport, path: str, mode: int) -> None:
    r = t.run(["chmod", "--", format(mode, "04o"), path], idempotent=True)
    if r.returncode != 0:
        raise _failed(f"changing the mode of {path} to {mode:04o}", r)


def stat_path(t: Transport, path: str) -> tuple[str, str, int] | None:
    """``(user, group, mode)`` of ``path``, or None if it does not exist."""
    r = t.run(["stat", "-c", "%U %G %a", "--", path], idempotent=True)
    if r.returncode != 0:
        if "No such file" in r.stderr:
            return None
        raise _failed(f"reading owner and mode of {path}", r)
    user, group, mode = r.stdout.split()
    return user, group, int(mode, 8)


def count_files(t: Transport, directory: str) -> int:
    """Regular files directly in ``directory`` (Glance's image files; not lost+found)."""
    r = t.run(
        ["find", directory, "-mindepth", "1", "-maxdepth", "1", "-type", "f", "-print0"],
        idempotent=True,
    )
    if r.returncode != 0:
        if "No such file" in r.stderr:
            return 0
        raise _failed(f"counting files in {directory}", r)
    return r.stdout.count("\0")


def user_exists(t: Transport, user: str) -> bool:
    r = t.run(["id", "-u", "--", user], idempotent=True)
    return r.returncode == 0


def primary_group(t: Transport, user: str) -> str:
    r = t.run(["id", "-gn", "--", user], idempotent=True)
    if r.returncode != 0:
        raise ControllerError(
            f"user {user!r} does not exist on the controller; set owner to the user "
            "glance-api runs as",
            result=r,
        )
    return r.stdout.strip()


def is_writable_by(t: Transport, user: str, directory: str) -> bool:
    """Whether ``user`` can write to ``directory`` (``runuser``, falling back to ``su``)."""
    r = t.run(["runuser", "-u", user, "--", "test", "-w", directory], idempotent=True)
    if r.returncode in (0, 1):
        return r.returncode == 0
    if r.returncode == 127:  # no runuser (busybox, old distributions)
        script = "test -w " + shlex.quote(directory)
        r = t.run(["su", "-s", "/bin/sh", "-c", script, user], idempotent=True)
        if r.returncode in (0, 1):
            return r.returncode == 0
    raise _failed(f"checking that {user} can write to {directory}", r)


# -- service -----------------------------------------------------------------------------

_UNIT = re.compile(r"^[A-Za-z0-9:_.@\\-]+$")


def _check_unit(name: str) -> None:
    if not _UNIT.match(name) or name.startswith("-"):
        raise ValueError(f"invalid systemd unit name {name!r}")


def _show(t: Transport, unit: str, *props: str) -> dict[str, str] | None:
    argv = ["systemctl", "show", "--no-pager"]
    for prop in props:
        argv += ["-p", prop]
    r = t.run([*argv, unit], idempotent=True)
    if r.returncode != 0:
        return None
    values = {}
    for line in r.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    return values


def detect_service(t: Transport, candidates: Sequence[str] = SERVICE_CANDIDATES) -> str:
    """The glance-api unit of this controller: the loaded candidate (an active one first)."""
    loaded: list[tuple[str, str]] = []
    for unit in candidates:
        _check_unit(unit)
        values = _show(t, unit, "LoadState", "ActiveState")
        if values and values.get("LoadState") == "loaded":
            loaded.append((unit, values.get("ActiveState", "")))
    if not loaded:
        raise ServiceError(
            "no glance-api service found on the controller (looked for "
            + ", ".join(f"{c}.service" for c in candidates)
            + "); set service to the unit that runs glance-api"
        )
    active = [unit for unit, state in loaded if state == "active"]
    return (active or [loaded[0][0]])[0]


def service_user(t: Transport, unit: str) -> str | None:
    """The unit's ``User=`` (None when unset, i.e. it starts as root)."""
    _check_unit(unit)
    r = t.run(["systemctl", "show", "--no-pager", "-p", "User", "--value", unit], idempotent=True)
    if r.returncode != 0:
        return None
    return r.stdout.strip() or None


def service_is_active(t: Transport, unit: str) -> str:
    """``systemctl is-active``: active, activating, inactive, failed, ..."""
    _check_unit(unit)
    r = t.run(["systemctl", "is-active", unit], idempotent=True)
    return r.stdout.strip() or ("active" if r.returncode == 0 else "unknown")


def service_journal_tail(t: Transport, unit: str, lines: int = 10) -> str:
    """The unit's last journal lines, best effort (empty if journalctl is unavailable)."""
    _check_unit(unit)
    r = t.run(
        ["journalctl", "-u", unit, "-n", str(lines), "--no-pager", "-o", "cat"], idempotent=True
    )
    return r.stdout.strip() if r.returncode == 0 else ""


def service_restart(t: Transport, unit: str) -> None:
    _check_unit(unit)
    r = t.run(["systemctl", "restart", unit], timeout=300)
    if r.returncode != 0:
        journal = service_journal_tail(t, unit)
        raise ServiceError(
            f"restarting {unit} failed (status {r.returncode}): {_tail(r.stderr)}. "
            f"See `systemctl status {unit}` and `journalctl -u {unit}`"
            + (f". Last log lines: {_tail(journal, 5)}" if journal else ""),
            result=r,
        )


def wait_service_active(
    t: Transport, unit: str, *, attempts: int = 20, delay: float = 0.5, sleep: Sleep = time.sleep
) -> str:
    """Poll until the unit is active (bounded); returns its last state."""
    state = "unknown"
    for attempt in range(max(1, attempts)):
        state = service_is_active(t, unit)
        if state == "active" or (state in ("failed", "inactive") and attempt > 0):
            return state
        if attempt + 1 < attempts:
            sleep(delay)
    return state


# -- the Glance API's own view of its stores ------------------------------------------------

_FETCH = (
    "import sys, urllib.request\n"
    "try:\n"
    "    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:\n"
    "        sys.stdout.write(r.read().decode())\n"
    "except Exception as e:\n"
    "    sys.stderr.write(str(e))\n"
    "    sys.exit(3)\n"
)


def glance_store_data_dirs(t: Transport, url: str) -> dict[str, str] | None:
    """``{store id: data_dir}`` from ``GET /v2/info/stores/detail`` as seen on the controller,
    or None when the API does not answer that (not running, needs a token, single-store)."""
    import json

    r = t.run(["python3", "-c", _FETCH, url], idempotent=True, timeout=30)
    if r.returncode != 0:
        return None
    try:
        stores = json.loads(r.stdout).get("stores", [])
    except (ValueError, AttributeError):
        return None
    out: dict[str, str] = {}
    for store in stores if isinstance(stores, list) else []:
        props = store.get("properties") or {}
        data_dir = props.get("data_dir") or props.get("datadir")
        if isinstance(store.get("id"), str) and isinstance(data_dir, str):
            out[store["id"]] = data_dir
    return out
