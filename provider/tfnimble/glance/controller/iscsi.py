"""iSCSI through ``iscsiadm`` (open-iscsi 2.1.x as Debian 12 ships it): discovery, login, node
records, sessions, the LUNs of a session and the initiator name, each parser beside its command.

Exit statuses handled: 0 ok; 4 portal unreachable; 8 login timeout; 12 iSCSI driver not
loaded; 15 session exists (login: already logged in); 19 target not found or initiator not
allowed; 20 iscsid unreachable; 21 no records / no portals / no sessions / nothing to log out;
24 authentication or authorization failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..transport.base import CommandResult, Transport
from .base import ControllerError, listing, output_tail, run_checked, run_or_absent

__all__ = [
    "AUTOMATIC",
    "INITIATOR_NAME_FILE",
    "ISCSIADM",
    "MANUAL",
    "DiscoveryError",
    "LoginError",
    "LoginRefused",
    "Portal",
    "Session",
    "SessionDetail",
    "Target",
    "detect_lun",
    "iscsi_delete_node",
    "iscsi_discover",
    "iscsi_login",
    "iscsi_logout",
    "iscsi_rescan",
    "iscsi_session_details",
    "iscsi_sessions",
    "iscsi_set_chap",
    "iscsi_set_startup",
    "parse_discovery",
    "parse_initiator_name",
    "parse_portal",
    "parse_session_details",
    "parse_sessions",
    "read_initiator_name",
    "with_chap",
]

ISCSIADM = "iscsiadm"
INITIATOR_NAME_FILE = "/etc/iscsi/initiatorname.iscsi"
AUTOMATIC = "automatic"
MANUAL = "manual"


class DiscoveryError(ControllerError, summary="iSCSI Discovery Failed"):
    """SendTargets discovery failed or did not offer the target."""


class LoginError(ControllerError, summary="iSCSI Login Failed"):
    """Logging in to the target failed, or its node record is missing."""


class LoginRefused(LoginError, summary="iSCSI Login Refused"):
    """The target refused the login's credentials (status 24); ``attribute`` is the setting
    to correct."""

    def __init__(
        self, message: str, *, attribute: str, result: CommandResult | None = None
    ) -> None:
        super().__init__(message, result=result)
        self.attribute = attribute


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
        f"iSCSI discovery at {p} failed with status {r.returncode}: {output_tail(r)}",
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
        f"iSCSI login to {iqn} at {p}{who} failed with status {r.returncode}: {output_tail(r)}",
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
    if r.returncode == 21 and mode != MANUAL:
        raise LoginError(
            f"no iSCSI node record for {iqn} at {p} to mark node.startup = {mode}", result=r
        )
    return run_or_absent(r, f"setting node.startup = {mode} for {iqn} at {p}")


# -- CHAP --------------------------------------------------------------------------------
#
# iscsiadm takes a node setting only on its command line (``-o update -n KEY -v VALUE``),
# where any local user can read it; so the CHAP secret is written into the node record
# file itself, through the transport's write_file (content on stdin, mode 0600).

NODE_DIRS = ("/etc/iscsi/nodes", "/var/lib/iscsi/nodes")  # Debian/Ubuntu, RHEL/Fedora
_AUTH = "node.session.auth."
_CHAP_VALUE = re.compile(r"^[!-~]{1,256}$")  # printable ASCII, no space: one token


def with_chap(record: str, username: str, secret: str) -> str:
    """The node record (``key = value`` lines) logging in with CHAP as ``username``."""
    for what, value in (("user name", username), ("secret", secret)):
        if not _CHAP_VALUE.match(value):
            raise ValueError(f"the CHAP {what} must be 1-256 printable ASCII characters, no space")
    values = {
        _AUTH + "authmethod": "CHAP",
        _AUTH + "username": username,
        _AUTH + "password": secret,
    }
    out: list[str] = []
    for line in record.splitlines():
        key = line.partition("=")[0].strip()
        if key in values and not line.lstrip().startswith("#"):
            out.append(f"{key} = {values.pop(key)}")
        elif line.strip() == "# END RECORD" and values:
            out.extend(f"{k} = {v}" for k, v in values.items())
            values.clear()
            out.append(line)
        else:
            out.append(line)
    out.extend(f"{k} = {v}" for k, v in values.items())
    return "\n".join(out) + "\n"


def node_record_files(t: Transport, iqn: str, portal: Portal) -> list[str]:
    """The node record files of the target at that portal (any TPGT, any iface)."""
    r = t.run(["find", *(f"{d}/{iqn}" for d in NODE_DIRS), "-type", "f"], idempotent=True)
    prefix = f"{portal.host},{portal.port}"
    found = []
    for path in r.stdout.splitlines():
        for d in NODE_DIRS:
            rest = path.removeprefix(f"{d}/{iqn}/")
            if rest != path and (rest == prefix or rest.startswith(prefix + ",")):
                found.append(path)
    return sorted(found)


def iscsi_set_chap(t: Transport, iqn: str, portal: Portal, username: str, secret: str) -> int:
    """Make the target's node records at ``portal`` log in with CHAP (the next login, and at
    boot); how many records. The secret goes through stdin only, never an argument."""
    files = node_record_files(t, iqn, portal)
    if not files:
        raise LoginError(f"no iSCSI node record for {iqn} at {portal} to set CHAP on")
    for path in files:
        record = (t.read_file(path) or b"").decode("utf-8", "replace")
        t.write_file(path, with_chap(record, username, secret).encode(), mode=0o600)
    return len(files)


def iscsi_logout(t: Transport, iqn: str, portal: str | Portal) -> bool:
    """Log out of the target. False if there was no session to log out of."""
    p = portal if isinstance(portal, Portal) else parse_portal(portal)
    r = t.run([ISCSIADM, "-m", "node", "-T", iqn, "-p", str(p), "--logout"], idempotent=True)
    return run_or_absent(r, f"logging out of {iqn} at {p}")


def iscsi_delete_node(t: Transport, iqn: str, portal: str | Portal | None) -> bool:
    """Delete the node record (every portal's with ``portal=None``). False if there was none."""
    argv, p = _node_argv(iqn, portal)
    r = t.run([*argv, "-o", "delete"], idempotent=True)
    return run_or_absent(r, f"deleting the iSCSI node record of {iqn} at {p}")


def iscsi_rescan(t: Transport, sid: int) -> None:
    """Rescan a session for new LUNs."""
    run_checked(
        t,
        [ISCSIADM, "-m", "session", "-r", str(sid), "--rescan"],
        f"rescanning iSCSI session {sid}",
    )


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
    return listing(t, [ISCSIADM, "-m", "session"], "listing iSCSI sessions", parse_sessions)


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
    argv = [ISCSIADM, "-m", "session", "-P", "3"]
    return listing(t, argv, "listing iSCSI session details", parse_session_details)


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
