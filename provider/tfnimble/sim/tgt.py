"""The data plane's iSCSI side: a private tgtd and the targets it exports.

One ``tgtd -f --iscsi portal=IP:PORT -C N`` per data plane, on its own control port N, so it
never touches another tgtd. A volume's own target has LUN 1 backed by the volume file; a shared
target (the array's group target) has one LUN per volume (``export_luns``), numbered as the
caller says. tgtd keeps LUN 0 of every target for its controller and refuses to replace it, so
a shared target never exports LUN 0. A LUN given a serial reports it as its unit serial number
(VPD page 0x80, ``scsi_sn``) and its ``scsi_id`` (page 0x83); the serial of a file is
remembered, so a LUN re-made for a resize keeps it. ACL: ``set_acl`` binds exactly the given
initiator names; an empty list means nobody may log in; ``["*"]`` means everyone. tgtd has no
per-initiator LUN masking: every initiator a target lets in sees all of its LUNs. CHAP:
``set_chap`` binds exactly the given accounts to a target as incoming users; tgtd then asks every
initiator logging in to that target for one of them (accounts are tgtd-wide, the binding is per
target: it cannot ask one initiator for CHAP and let another in without). An account is made
through tgtd's management socket (tgtctl), not tgtadm, which would take the password as an
argument.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import tgtctl
from .dptools import DataPlaneError, proc_start_time, run, wait_gone, write_record

log = logging.getLogger("tfnimble.sim.dataplane")

_TGTADM_TIMEOUT = 20.0
_SOCKET_DIR = tgtctl.SOCKET_DIR
SERIAL_MAX = 32  # a Nimble serial is 32 hex digits; tgtd keeps up to 36 characters
_TERM_GRACE = 1.0  # tgtd 1.0.85 ignores SIGTERM once its owner is gone: SIGKILL after this


def _socket_inode(path: str) -> int | None:
    """Inode of the unix socket bound to ``path`` (``/proc/net/unix``), None if none is."""
    try:
        lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        f = line.split()
        if len(f) >= 8 and f[7] == path:
            return int(f[6])
    return None


def _holds(pid: int, inode: int) -> bool:
    want = f"socket:[{inode}]"
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == want:
                return True
    return False


def is_tgtd_of(pid: int, port: int, start: int = 0) -> bool:
    """True only for a live ``tgtd ... -C port`` holding control socket ``port`` (and, when
    ``start`` is given, started at that time: a recycled pid is some other process)."""
    began = proc_start_time(pid)
    if began is None or (start and began != start):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if os.path.basename(argv[0]) != b"tgtd":
        return False
    if not any(a == b"-C" and b == str(port).encode() for a, b in itertools.pairwise(argv)):
        return False
    inode = _socket_inode(f"{_SOCKET_DIR}/socket.{port}")
    return inode is not None and _holds(pid, inode)


def _terminate(pid: int, port: int) -> None:
    """SIGTERM, then SIGKILL, the tgtd ``pid`` (checked by the caller). Signals go through a
    pidfd opened before the last check, so they reach that process or none."""
    start = proc_start_time(pid)
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if start is None or not is_tgtd_of(pid, port, start):
            return
        for sig, grace in ((signal.SIGTERM, _TERM_GRACE), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, sig)
            if wait_gone(pid, start, grace):
                return
        raise DataPlaneError(f"leftover tgtd pid {pid} survived SIGKILL")
    finally:
        os.close(pidfd)


@dataclass
class TargetInfo:
    """One target as ``tgtadm --op show --mode target`` reports it."""

    tid: int
    name: str
    luns: dict[int, str] = field(default_factory=dict)  # lun -> backing store path
    acl: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)  # incoming CHAP users bound
    # one entry per I_T nexus (session): (initiator name, [connection IP addresses])
    nexus: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def connections(self) -> int:
        return sum(max(1, len(ips)) for _, ips in self.nexus)


def parse_tgtadm_targets(text: str) -> dict[str, TargetInfo]:
    """Parse ``tgtadm --lld iscsi --op show --mode target`` into {target name: TargetInfo}."""
    targets: dict[str, TargetInfo] = {}
    cur: TargetInfo | None = None
    section = ""
    lun: int | None = None
    for raw in text.splitlines():
        line = raw.strip()
        m = re.match(r"^Target (\d+): (\S+)$", raw)
        if m:
            cur = TargetInfo(tid=int(m.group(1)), name=m.group(2))
            targets[cur.name] = cur
            section, lun = "", None
            continue
        if cur is None or not line:
            continue
        if line.endswith("information:"):
            section = line
            continue
        if section.startswith("I_T nexus"):
            if line.startswith("I_T nexus:"):
                cur.nexus.append(("", []))
            elif line.startswith("Initiator:") and cur.nexus:
                name = line.split(":", 1)[1].strip().split(" alias:")[0].strip()
                cur.nexus[-1] = (name, cur.nexus[-1][1])
            elif line.startswith("IP Address:") and cur.nexus:
                cur.nexus[-1][1].append(line.split(":", 1)[1].strip())
        elif section.startswith("LUN"):
            m = re.match(r"^LUN: (\d+)$", line)
            if m:
                lun = int(m.group(1))
            elif line.startswith("Backing store path:") and lun is not None:
                path = line.split(":", 1)[1].strip()
                if path and path != "None":
                    cur.luns[lun] = path
        elif section.startswith("ACL"):
            cur.acl.append(line)
        elif section.startswith("Account") and not line.endswith("(outgoing)"):
            cur.accounts.append(line)
    return targets


def split_portal(portal: str, default_port: int = 3260) -> tuple[str, int]:
    host, sep, port = portal.rpartition(":")
    if not sep or "]" in port:
        host, port = portal, str(default_port)
    host = host.strip("[]")
    return host, int(port)


class Tgtd:
    """The iSCSI half of :class:`~tfnimble.sim.dataplane.DataPlane` (a mixin sharing its state)."""

    state_dir: Path
    portal: str
    portal_ip: str
    portal_port: int
    tgt_control_port: int | None
    _requested_control_port: int | None
    _tgtd: subprocess.Popen[bytes] | None
    _lock: threading.RLock
    _serials: dict[str, str]  # backing file -> the serial its LUNs report
    _accounts: dict[str, str]  # CHAP user -> password, as this tgtd has them

    @property
    def tgtd_pid(self) -> int | None:
        return self._tgtd.pid if self._tgtd and self._tgtd.poll() is None else None

    def _pidfile(self) -> Path:
        return self.state_dir / "tgtd.pid"

    def _reclaim_tgtd(self) -> int | None:
        """Stop the tgtd a dead owner of this state dir left running; return its pid.

        Only the tgtd our own pid file names is touched, and only after checking it really is
        that tgtd (same start time, ``tgtd ... -C PORT`` on its command line, holding that
        control socket), so a recycled pid or another state dir's tgtd is never signalled."""
        pidfile = self._pidfile()
        try:
            fields = [int(x) for x in pidfile.read_text().split()]
            pid, port = fields[0], fields[1]
        except (OSError, ValueError, IndexError):
            with contextlib.suppress(OSError):
                pidfile.unlink()
            return None
        start = fields[2] if len(fields) > 2 else 0
        # pid 0: the owner died between choosing the control port and starting tgtd
        candidates = [pid] if pid else [int(d) for d in os.listdir("/proc") if d.isdigit()]
        stopped = None
        for cand in candidates:
            if is_tgtd_of(cand, port, start if pid else 0):
                log.warning("stopping leftover tgtd pid %d (control port %d)", cand, port)
                _terminate(cand, port)
                stopped = cand
        if not self._control_socket_in_use(port):
            for suffix in ("", ".lock"):
                with contextlib.suppress(OSError):
                    os.unlink(f"{_SOCKET_DIR}/socket.{port}{suffix}")
        with contextlib.suppress(OSError):
            pidfile.unlink()
        return stopped

    def _port_free(self, ip: str, port: int) -> bool:
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((ip, port))
            except OSError:
                return False
        return True

    @staticmethod
    def _control_socket_in_use(n: int) -> bool:
        path = f"{_SOCKET_DIR}/socket.{n}"
        if not os.path.exists(path):
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            try:
                s.connect(path)
            except OSError:
                return False
        return True

    def _start_tgtd(self) -> None:
        os.makedirs(_SOCKET_DIR, exist_ok=True)
        if not self._port_free(self.portal_ip, self.portal_port):
            raise DataPlaneError(f"iSCSI portal {self.portal} is already in use")
        logf = open(self.state_dir / "tgtd.log", "ab")  # noqa: SIM115 - closed below
        try:
            last_err = ""
            for attempt in range(20):
                if self._requested_control_port is not None:
                    if attempt:
                        break
                    n = self._requested_control_port
                else:
                    n = 20000 + (os.getpid() * 131 + id(self) // 16 + attempt * 7919) % 40000
                    if self._control_socket_in_use(n):
                        continue
                argv = [
                    "tgtd",
                    "-f",
                    "--iscsi",
                    f"portal={self.portal_ip}:{self.portal_port}",
                    "-C",
                    str(n),
                ]
                # recorded before tgtd exists, so a kill -9 right after Popen leaves a trace
                write_record(self._pidfile(), f"0 {n} 0\n")
                try:
                    proc = subprocess.Popen(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=logf,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                except FileNotFoundError as exc:
                    raise DataPlaneError("tgtd is not installed (Debian package tgt)") from exc
                self._tgtd, self.tgt_control_port = proc, n
                started = proc_start_time(proc.pid) or 0
                write_record(self._pidfile(), f"{proc.pid} {n} {started}\n")
                if self._wait_tgtd_ready(proc, timeout=10.0):
                    portals = self.portals()
                    want = f"{self.portal_ip}:{self.portal_port}"
                    if portals != [want]:
                        # tgtd falls back to 0.0.0.0:3260 when it cannot bind: never keep that
                        self._stop_tgtd()
                        raise DataPlaneError(f"tgtd could not bind portal {want} (has {portals})")
                    return
                last_err = (self.state_dir / "tgtd.log").read_text(errors="replace")[-500:]
                self._stop_tgtd()
            raise DataPlaneError(f"tgtd did not start: {last_err.strip()}")
        finally:
            logf.close()

    def _wait_tgtd_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            argv = ["tgtadm", "-C", str(self.tgt_control_port), "--op", "show", "--mode", "system"]
            r = run(argv, timeout=5, check=False)
            if r.returncode == 0 and "State: ready" in r.stdout:
                return True
            time.sleep(0.05)
        return False

    def _stop_tgtd(self) -> None:
        proc = self._tgtd
        if proc is None:
            return
        try:
            if proc.poll() is None:
                with contextlib.suppress(DataPlaneError):
                    for t in self.targets().values():
                        self._tgtadm(
                            "--op",
                            "delete",
                            "--mode",
                            "target",
                            "--tid",
                            str(t.tid),
                            "--force",
                            check=False,
                        )
                run(
                    [
                        "tgtadm",
                        "-C",
                        str(self.tgt_control_port),
                        "--op",
                        "delete",
                        "--mode",
                        "system",
                    ],
                    timeout=10,
                    check=False,
                )
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    log.warning("tgtd pid %d did not exit; killing it", proc.pid)
                    proc.kill()
                    proc.wait(timeout=10)
        finally:
            self._tgtd = None
            with contextlib.suppress(OSError):
                self._pidfile().unlink()
            n = self.tgt_control_port
            if n is not None:
                for suffix in ("", ".lock"):
                    with contextlib.suppress(OSError):
                        os.unlink(f"{_SOCKET_DIR}/socket.{n}{suffix}")

    def _control_port(self) -> int:
        if self._tgtd is None or self.tgt_control_port is None:
            raise DataPlaneError("the iSCSI target daemon is not running")
        return self.tgt_control_port

    def _tgtadm(self, *args: str, check: bool = True, lld: bool = True) -> str:
        argv = ["tgtadm", "-C", str(self._control_port())]
        if lld:
            argv += ["--lld", "iscsi"]
        return run(argv + list(args), timeout=_TGTADM_TIMEOUT, check=check).stdout

    def portals(self) -> list[str]:
        out = self._tgtadm("--op", "show", "--mode", "portal")
        return [m.group(1) for m in re.finditer(r"^Portal: (\S+),\d+$", out, re.M)]

    def add_portal(self, portal: str) -> None:
        """Listen on another IP:PORT as well (e.g. the host side of a test network namespace)."""
        ip, port = split_portal(portal)
        with self._lock:
            if f"{ip}:{port}" in self.portals():
                return
            self._tgtadm("--op", "new", "--mode", "portal", "--param", f"portal={ip}:{port}")

    def remove_portal(self, portal: str) -> None:
        ip, port = split_portal(portal)
        with self._lock:
            self._tgtadm(
                "--op", "delete", "--mode", "portal", "--param", f"portal={ip}:{port}", check=False
            )

    def targets(self) -> dict[str, TargetInfo]:
        return parse_tgtadm_targets(self._tgtadm("--op", "show", "--mode", "target"))

    def _lu(self, op: str, tid: int, lun: int, *args: str, check: bool = True) -> None:
        """``tgtadm --op OP --mode logicalunit`` on LUN ``lun`` of target ``tid``."""
        argv = ("--op", op, "--mode", "logicalunit", "--tid", str(tid), "--lun", str(lun))
        self._tgtadm(*argv, *args, check=check)

    def _add_lun(self, tid: int, path: Path, serial: str | None = None, lun: int = 1) -> None:
        if serial:
            self._serials[str(path)] = serial
        serial = self._serials.get(str(path))
        self._lu("new", tid, lun, "-b", str(path))
        params = "vendor_id=Nimble,product_id=Server,product_rev=1.0"
        s = re.sub(r"[^A-Za-z0-9]", "", serial or "")[:SERIAL_MAX]
        if s:
            params += f",scsi_sn={s},scsi_id={s}"
        # without its serial a LUN could be taken for another volume: a failure here is one
        self._lu("update", tid, lun, "--params", params, check=bool(s))

    def _delete_lun(self, tid: int, lun: int) -> None:
        self._lu("delete", tid, lun)

    def export_luns(
        self, target_name: str, luns: dict[int, Path], serials: dict[int, str] | None = None
    ) -> int:
        """Make target ``target_name`` export exactly ``luns`` (tgtd LUN number -> file; never
        0), creating it if needed (nobody may log in to a new target until ``set_acl``); LUNs it
        has that are not wanted, or back another file, are removed. ``serials`` (LUN number ->
        serial) are what the LUNs report. Returns the tid."""
        serials = serials or {}
        if 0 in luns:
            raise DataPlaneError("LUN 0 of a tgtd target is its controller")
        with self._lock:
            existing = self.targets()
            t = existing.get(target_name)
            if t is None:
                tid = max((x.tid for x in existing.values()), default=0) + 1
                self._tgtadm(
                    "--op", "new", "--mode", "target", "--tid", str(tid), "-T", target_name
                )
                have: dict[int, str] = {}
            else:
                tid, have = t.tid, t.luns
            for lun, path in sorted(have.items()):
                if lun != 0 and str(luns.get(lun)) != path:
                    self._delete_lun(tid, lun)
            for lun, file in sorted(luns.items()):
                if have.get(lun) != str(file):
                    self._add_lun(tid, file, serials.get(lun), lun=lun)
            return tid

    def export_file(
        self, path: Path, target_name: str, tid: int | None = None, serial: str | None = None
    ) -> int:
        """Create target ``target_name`` with LUN 1 = ``path``. Nobody may log in until
        ``set_acl``. Returns the tid. Idempotent for the same file."""
        with self._lock:
            existing = self.targets()
            if target_name in existing:
                t = existing[target_name]
                if t.luns.get(1) == str(path):
                    return t.tid
                raise DataPlaneError(f"target {target_name} already exports another file")
            if tid is None:
                tid = max((t.tid for t in existing.values()), default=0) + 1
            self._tgtadm("--op", "new", "--mode", "target", "--tid", str(tid), "-T", target_name)
            try:
                self._add_lun(tid, path, serial)
            except BaseException:
                self._tgtadm(
                    "--op", "delete", "--mode", "target", "--tid", str(tid), "--force", check=False
                )
                raise
            return tid

    def unexport(self, target_name: str, force: bool = True) -> None:
        with self._lock:
            t = self.targets().get(target_name)
            if t is None:
                return
            args = ["--op", "delete", "--mode", "target", "--tid", str(t.tid)]
            self._tgtadm(*args, *(["--force"] if force else []))

    @staticmethod
    def _is_initiator_name(entry: str) -> bool:
        return entry.split(".", 1)[0].lower() in ("iqn", "eui", "naa")

    def set_acl(self, target_name: str, initiator_iqns: Iterable[str]) -> None:
        """Bind exactly these initiators (names; ``*`` = everyone); unbind all others."""
        with self._lock:
            t = self._exported(target_name)
            want = {"ALL" if i == "*" else i for i in initiator_iqns}
            have = set(t.acl)
            for op, entries in (("unbind", have - want), ("bind", want - have)):
                for entry in sorted(entries):
                    named = self._is_initiator_name(entry)
                    opt = "--initiator-name" if named else "--initiator-address"
                    self._tgtadm("--op", op, "--mode", "target", "--tid", str(t.tid), opt, entry)

    def set_chap(self, target_name: str, accounts: dict[str, str]) -> None:
        """Bind exactly these CHAP accounts (user -> password) to the target as incoming users;
        none: no CHAP. An account whose password changed is re-made (tgtd has no update) and
        bound again wherever it was."""
        with self._lock:
            for user, password in sorted(accounts.items()):
                self._account(user, password)
            t = self._exported(target_name)
            have, want = set(t.accounts), set(accounts)
            for op, users in (("unbind", have - want), ("bind", want - have)):
                for user in sorted(users):
                    self._tgtadm(
                        "--op", op, "--mode", "account", "--tid", str(t.tid), "--user", user
                    )

    def _account(self, user: str, password: str) -> None:
        if self._accounts.get(user) == password:
            return
        bound = [t.tid for t in self.targets().values() if user in t.accounts]
        # deleting an account unbinds it from every target
        self._tgtadm("--op", "delete", "--mode", "account", "--user", user, check=False)
        self._accounts.pop(user, None)
        # not tgtadm: it would put the password in its argv, readable by every local user
        tgtctl.new_account(self._control_port(), user, password)
        self._accounts[user] = password
        for tid in bound:
            self._tgtadm("--op", "bind", "--mode", "account", "--tid", str(tid), "--user", user)

    def _exported(self, target_name: str) -> TargetInfo:
        t = self.targets().get(target_name)
        if t is None:
            raise DataPlaneError(f"target {target_name} is not exported")
        return t

    def acl(self, target_name: str) -> list[str]:
        t = self._exported(target_name)
        return ["*" if a == "ALL" else a for a in t.acl]

    def connections(self, target_name: str) -> int:
        """Number of iSCSI connections (I_T nexus connections) to the target; 0 if not exported."""
        t = self.targets().get(target_name)
        return t.connections if t else 0

    def sessions(self, target_name: str) -> list[tuple[str, list[str]]]:
        """[(initiator name, [IP addresses])] for each I_T nexus of the target."""
        t = self.targets().get(target_name)
        return list(t.nexus) if t else []
