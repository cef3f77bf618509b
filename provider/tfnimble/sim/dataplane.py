"""Real data plane for nimble-sim: volume files with zero-copy clones, exported over iSCSI by tgtd.

Only the standard library and subprocess are used, so the simulator stays light.

Layout (under ``state_dir``)::

    pool/                   the pool directory (a reflink filesystem, loop-mounted XFS if needed)
      volumes/<vol_id>      one sparse file per volume
      snapshots/<snap_id>   one reflink copy per snapshot
    pool.img                the sparse XFS image backing ``pool/`` (only when a loop pool is used)
    tgtd.log / tgtd.pid     the tgtd child and its output

Space: ``unique_bytes`` counts the bytes of extents not shared with another file (FIEMAP flag
``FIEMAP_EXTENT_SHARED``); ``allocated_bytes`` is what the file occupies. Without reflink the
copies are full copies and both numbers say so (``reflink`` is then False).

iSCSI: one ``tgtd -f --iscsi portal=IP:PORT -C N`` per DataPlane, on its own control port N, so it
never touches another tgtd. A target has LUN 1 backed by the volume file. ACL: ``set_acl`` binds
exactly the given initiator names; an empty list means nobody may log in; ``["*"]`` means everyone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DataPlane", "DataPlaneError", "TargetInfo", "parse_tgtadm_targets"]

log = logging.getLogger(__name__)

GiB = 1 << 30
DEFAULT_POOL_SIZE = 20 * GiB

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")

# ioctl numbers (linux/fs.h)
_FICLONE = 0x40049409
_FS_IOC_FIEMAP = 0xC020660B
_FIEMAP_FLAG_SYNC = 0x1
_FIEMAP_EXTENT_LAST = 0x1
_FIEMAP_EXTENT_SHARED = 0x2000
_FIEMAP_MAX_OFFSET = (1 << 64) - 1
_FIEMAP_HDR = struct.Struct("=QQIIII")  # fm_start fm_length fm_flags fm_mapped fm_count reserved
_FIEMAP_EXT = struct.Struct("=QQQQQIIII")  # logical physical length res64[2] flags res32[3]

_TGTADM_TIMEOUT = 20.0


class DataPlaneError(RuntimeError):
    """A data-plane operation failed; the message names the object and the tool's own text."""


@dataclass
class TargetInfo:
    """One target as ``tgtadm --op show --mode target`` reports it."""

    tid: int
    name: str
    luns: dict[int, str] = field(default_factory=dict)  # lun -> backing store path
    acl: list[str] = field(default_factory=list)
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
    return targets


def _check_id(obj_id: str) -> str:
    if not isinstance(obj_id, str) or not _ID_RE.match(obj_id) or ".." in obj_id:
        raise DataPlaneError(f"invalid object id {obj_id!r}")
    return obj_id


def _split_portal(portal: str, default_port: int = 3260) -> tuple[str, int]:
    host, sep, port = portal.rpartition(":")
    if not sep or "]" in port:
        host, port = portal, str(default_port)
    host = host.strip("[]")
    return host, int(port)


def _run(
    argv: list[str], timeout: float = 60.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DataPlaneError(f"{argv[0]} timed out after {timeout:.0f}s: {' '.join(argv)}") from exc
    except FileNotFoundError as exc:
        raise DataPlaneError(f"{argv[0]} is not installed") from exc
    if check and proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip()
        raise DataPlaneError(f"{' '.join(argv)} failed (rc {proc.returncode}): {msg}")
    return proc


def _ficlone(src: Path, dst_fd: int) -> None:
    with open(src, "rb") as s:
        fcntl.ioctl(dst_fd, _FICLONE, s.fileno())


def probe_reflink(directory: Path) -> bool:
    """True when files in ``directory`` can be cloned with FICLONE (XFS reflink, btrfs...)."""
    directory.mkdir(parents=True, exist_ok=True)
    a = directory / f".reflink-probe-{os.getpid()}-a"
    b = directory / f".reflink-probe-{os.getpid()}-b"
    try:
        a.write_bytes(b"x" * 4096)
        fd = os.open(b, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _ficlone(a, fd)
        finally:
            os.close(fd)
        return True
    except OSError:
        return False
    finally:
        for p in (a, b):
            with contextlib.suppress(OSError):
                p.unlink()


def file_extents(path: Path) -> list[tuple[int, int, int]]:
    """FIEMAP of ``path``: [(logical offset, length, flags)], synced first.

    Raises OSError where the filesystem has no FIEMAP."""
    out: list[tuple[int, int, int]] = []
    count = 512
    start = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        for _ in range(1_000_000):
            buf = bytearray(_FIEMAP_HDR.size + count * _FIEMAP_EXT.size)
            _FIEMAP_HDR.pack_into(
                buf, 0, start, _FIEMAP_MAX_OFFSET - start, _FIEMAP_FLAG_SYNC, 0, count, 0
            )
            fcntl.ioctl(fd, _FS_IOC_FIEMAP, buf, True)
            mapped = _FIEMAP_HDR.unpack_from(buf, 0)[3]
            if mapped == 0:
                break
            last = False
            for i in range(mapped):
                logical, _phys, length, _r1, _r2, flags, *_ = _FIEMAP_EXT.unpack_from(
                    buf, _FIEMAP_HDR.size + i * _FIEMAP_EXT.size
                )
                out.append((logical, length, flags))
                start = logical + length
                last = bool(flags & _FIEMAP_EXTENT_LAST)
            if last or mapped < count:
                break
    finally:
        os.close(fd)
    return out


class DataPlane:
    """Volume files in a reflink pool, exported by a private tgtd.

    Thread-safe: every public method holds one lock. ``start()`` is idempotent and reuses an
    existing pool image (crash-safe restart); ``stop()`` is idempotent and always tries every
    teardown step.
    """

    def __init__(
        self,
        state_dir: Path | str,
        portal: str = "127.0.0.1:3260",
        tgt_control_port: int | None = None,
        *,
        pool_size_bytes: int = DEFAULT_POOL_SIZE,
        pool_mode: str = "auto",
        iscsi: bool = True,
    ) -> None:
        if pool_mode not in ("auto", "dir", "loop"):
            raise ValueError("pool_mode must be auto, dir or loop")
        self.state_dir = Path(state_dir).resolve()
        self.portal = portal
        self.portal_ip, self.portal_port = _split_portal(portal)
        self.pool_size_bytes = int(pool_size_bytes)
        self.pool_mode = pool_mode
        self.iscsi = iscsi
        self._requested_control_port = tgt_control_port
        self.tgt_control_port: int | None = None
        self.pool_dir = self.state_dir / "pool"
        self.pool_image = self.state_dir / "pool.img"
        self.reflink = False
        self.loop_mounted = False
        self._tgtd: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()
        self._started = False
        self._extra_portals: list[str] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> DataPlane:
        with self._lock:
            if self._started:
                return self
            self.state_dir.mkdir(parents=True, exist_ok=True)
            try:
                self._setup_pool()
                (self.pool_dir / "volumes").mkdir(exist_ok=True)
                (self.pool_dir / "snapshots").mkdir(exist_ok=True)
                if self.iscsi:
                    self._start_tgtd()
            except BaseException:
                self.stop()
                raise
            self._started = True
            log.info(
                "data plane started: pool=%s reflink=%s loop=%s tgtd control port=%s",
                self.pool_dir,
                self.reflink,
                self.loop_mounted,
                self.tgt_control_port,
            )
            return self

    def stop(self) -> None:
        with self._lock:
            errors: list[str] = []
            try:
                self._stop_tgtd()
            except Exception as exc:  # keep tearing down
                errors.append(str(exc))
            try:
                self._unmount_pool()
            except Exception as exc:
                errors.append(str(exc))
            self._started = False
            if errors:
                raise DataPlaneError("; ".join(errors))

    def __enter__(self) -> DataPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def tgtd_pid(self) -> int | None:
        return self._tgtd.pid if self._tgtd and self._tgtd.poll() is None else None

    # ------------------------------------------------------------------ pool
    def _setup_pool(self) -> None:
        is_root = os.geteuid() == 0
        if self.pool_mode != "dir" and os.path.ismount(self.pool_dir):
            # left mounted by a crashed run of this very state dir: reuse it
            self.loop_mounted = self.pool_image.exists()
            self.reflink = probe_reflink(self.pool_dir)
            return
        if self.pool_mode != "dir" and self.pool_image.exists():
            if not is_root:
                raise DataPlaneError(f"{self.pool_image} exists but mounting it needs root")
            self._mount_pool_image()
            return
        if self.pool_mode in ("auto", "dir") and probe_reflink(self.state_dir):
            self.pool_dir.mkdir(exist_ok=True)
            self.reflink = True
            return
        if self.pool_mode in ("auto", "loop") and is_root:
            self._make_pool_image()
            self._mount_pool_image()
            return
        if self.pool_mode == "loop":
            raise DataPlaneError("a loop-mounted pool needs root")
        log.warning(
            "no reflink filesystem at %s and not root: clones are full copies", self.state_dir
        )
        self.pool_dir.mkdir(exist_ok=True)
        self.reflink = False

    def _make_pool_image(self) -> None:
        tmp = self.pool_image.with_suffix(".img.tmp")
        with open(tmp, "wb") as f:
            f.truncate(self.pool_size_bytes)
        _run(["mkfs.xfs", "-q", "-f", "-m", "reflink=1", str(tmp)], timeout=120)
        os.replace(tmp, self.pool_image)

    def _mount_pool_image(self) -> None:
        self.pool_dir.mkdir(exist_ok=True)
        _run(
            ["mount", "-t", "xfs", "-o", "loop,noatime", str(self.pool_image), str(self.pool_dir)],
            timeout=60,
        )
        self.loop_mounted = True
        self.reflink = probe_reflink(self.pool_dir)

    def _unmount_pool(self) -> None:
        if not self.loop_mounted:
            return
        if os.path.ismount(self.pool_dir):
            proc = _run(["umount", str(self.pool_dir)], timeout=60, check=False)
            if proc.returncode != 0:
                # something still holds a file open: detach lazily so the loop device goes away
                # as soon as it is released, and say so
                _run(["umount", "-l", str(self.pool_dir)], timeout=60, check=False)
                self.loop_mounted = False
                raise DataPlaneError(f"umount {self.pool_dir} failed: {proc.stderr.strip()}")
        self.loop_mounted = False

    def pool_stats(self) -> dict[str, int]:
        """Capacity of the pool filesystem: total, free and used bytes (statvfs)."""
        st = os.statvfs(self.pool_dir)
        total = st.f_blocks * st.f_frsize
        free = st.f_bavail * st.f_frsize
        used = total - st.f_bfree * st.f_frsize
        return {"total_bytes": total, "free_bytes": free, "used_bytes": used}

    # ------------------------------------------------------------------ files
    def _vol_path(self, vol_id: str) -> Path:
        return self.pool_dir / "volumes" / _check_id(vol_id)

    def _snap_path(self, snap_id: str) -> Path:
        return self.pool_dir / "snapshots" / _check_id(snap_id)

    def path_of(self, obj_id: str) -> Path:
        """Path of a volume or snapshot file (volumes first). DataPlaneError if neither exists."""
        for p in (self._vol_path(obj_id), self._snap_path(obj_id)):
            if p.exists():
                return p
        raise DataPlaneError(f"no volume or snapshot {obj_id!r} in the data plane")

    def exists(self, obj_id: str) -> bool:
        return self._vol_path(obj_id).exists() or self._snap_path(obj_id).exists()

    def _copy(self, src: Path, dst: Path, in_place: bool = False) -> None:
        """Reflink (or, without reflink, sparse full) copy of src to dst; atomic unless in_place."""
        target = dst if in_place else dst.with_name(f".{dst.name}.tmp")
        if self.reflink:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
            fd = os.open(target, flags, 0o600)
            try:
                _ficlone(src, fd)
            except OSError as exc:
                msg = f"reflink copy {src.name} -> {dst.name} failed: {exc}"
                raise DataPlaneError(msg) from exc
            finally:
                os.close(fd)
        else:
            _run(["cp", "--reflink=auto", "--sparse=always", str(src), str(target)], timeout=3600)
        if not in_place:
            os.replace(target, dst)

    def create_volume(self, vol_id: str, size_bytes: int) -> Path:
        with self._lock:
            path = self._vol_path(vol_id)
            if path.exists():
                raise DataPlaneError(f"volume {vol_id} already exists in the data plane")
            tmp = path.with_name(f".{path.name}.tmp")
            with open(tmp, "wb") as f:
                f.truncate(int(size_bytes))
            os.replace(tmp, path)
            return path

    def resize_volume(self, vol_id: str, size_bytes: int) -> None:
        """Grow (or shrink) the volume file. An exported LUN without sessions is re-created so
        initiators see the new size; with sessions, the new size shows after the next export."""
        with self._lock:
            path = self._vol_path(vol_id)
            if not path.exists():
                raise DataPlaneError(f"no volume {vol_id} in the data plane")
            os.truncate(path, int(size_bytes))
            if self._tgtd is None:
                return
            for t in self.targets().values():
                if t.luns.get(1) == str(path) and not t.nexus:
                    self._tgtadm(
                        "--op", "delete", "--mode", "logicalunit", "--tid", str(t.tid), "--lun", "1"
                    )
                    self._add_lun(t.tid, path)

    def snapshot(self, vol_id: str, snap_id: str) -> Path:
        with self._lock:
            src = self._vol_path(vol_id)
            dst = self._snap_path(snap_id)
            if not src.exists():
                raise DataPlaneError(f"no volume {vol_id} in the data plane")
            if dst.exists():
                raise DataPlaneError(f"snapshot {snap_id} already exists in the data plane")
            self._copy(src, dst)
            return dst

    def clone(self, snap_id: str, vol_id: str, size_bytes: int | None = None) -> Path:
        with self._lock:
            src = self._snap_path(snap_id)
            if not src.exists():
                # cloning straight from a volume is allowed too (the array clones snapshots only,
                # but the sim may use this for its own bookkeeping)
                src = self.path_of(snap_id)
            dst = self._vol_path(vol_id)
            if dst.exists():
                raise DataPlaneError(f"volume {vol_id} already exists in the data plane")
            self._copy(src, dst)
            if size_bytes is not None and int(size_bytes) > dst.stat().st_size:
                os.truncate(dst, int(size_bytes))
            return dst

    def restore(self, vol_id: str, snap_id: str) -> None:
        """Make the volume's content (and size) the snapshot's; same inode, so an export follows."""
        with self._lock:
            dst = self._vol_path(vol_id)
            src = self._snap_path(snap_id)
            if not dst.exists():
                raise DataPlaneError(f"no volume {vol_id} in the data plane")
            if not src.exists():
                raise DataPlaneError(f"no snapshot {snap_id} in the data plane")
            self._copy(src, dst, in_place=True)

    def delete_volume(self, vol_id: str) -> None:
        with self._lock:
            path = self._vol_path(vol_id)
            if self._tgtd is not None:
                for t in self.targets().values():
                    if t.luns.get(1) == str(path):
                        self.unexport(t.name)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def delete_snapshot(self, snap_id: str) -> None:
        with self._lock, contextlib.suppress(FileNotFoundError):
            self._snap_path(snap_id).unlink()

    def allocated_bytes(self, obj_id: str) -> int:
        return self.path_of(obj_id).stat().st_blocks * 512

    def unique_bytes(self, obj_id: str) -> int:
        """Bytes in extents no other file shares (= what deleting this object would free)."""
        path = self.path_of(obj_id)
        if not self.reflink:
            return path.stat().st_blocks * 512
        try:
            extents = file_extents(path)
        except OSError:
            return path.stat().st_blocks * 512
        return sum(length for _, length, flags in extents if not flags & _FIEMAP_EXTENT_SHARED)

    def shared_bytes(self, obj_id: str) -> int:
        path = self.path_of(obj_id)
        if not self.reflink:
            return 0
        return sum(
            length for _, length, flags in file_extents(path) if flags & _FIEMAP_EXTENT_SHARED
        )

    # ------------------------------------------------------------------ tgtd
    def _pidfile(self) -> Path:
        return self.state_dir / "tgtd.pid"

    def _kill_leftover_tgtd(self) -> None:
        """A tgtd recorded in our own pid file by a crashed run of this state dir is ours."""
        pidfile = self._pidfile()
        try:
            pid_s, port_s = pidfile.read_text().split()
            pid, port = int(pid_s), int(port_s)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                pidfile.unlink()
            return
        if cmdline and cmdline[0].endswith(b"tgtd") and str(port).encode() in cmdline:
            log.warning("killing leftover tgtd pid %d (control port %d)", pid, port)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            for _ in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.05)
        with contextlib.suppress(OSError):
            pidfile.unlink()

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
        path = f"/var/run/tgtd/socket.{n}"
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
        self._kill_leftover_tgtd()
        os.makedirs("/var/run/tgtd", exist_ok=True)
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
                self._pidfile().write_text(f"{proc.pid} {n}\n")
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
            r = _run(argv, timeout=5, check=False)
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
                _run(
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
                        os.unlink(f"/var/run/tgtd/socket.{n}{suffix}")

    def _tgtadm(self, *args: str, check: bool = True, lld: bool = True) -> str:
        if self._tgtd is None or self.tgt_control_port is None:
            raise DataPlaneError("the iSCSI target daemon is not running")
        argv = ["tgtadm", "-C", str(self.tgt_control_port)]
        if lld:
            argv += ["--lld", "iscsi"]
        return _run(argv + list(args), timeout=_TGTADM_TIMEOUT, check=check).stdout

    def portals(self) -> list[str]:
        out = self._tgtadm("--op", "show", "--mode", "portal")
        return [m.group(1) for m in re.finditer(r"^Portal: (\S+),\d+$", out, re.M)]

    def add_portal(self, portal: str) -> None:
        """Listen on another IP:PORT as well (e.g. the host side of a test network namespace)."""
        ip, port = _split_portal(portal)
        with self._lock:
            if f"{ip}:{port}" in self.portals():
                return
            self._tgtadm("--op", "new", "--mode", "portal", "--param", f"portal={ip}:{port}")

    def remove_portal(self, portal: str) -> None:
        ip, port = _split_portal(portal)
        with self._lock:
            self._tgtadm(
                "--op", "delete", "--mode", "portal", "--param", f"portal={ip}:{port}", check=False
            )

    def targets(self) -> dict[str, TargetInfo]:
        return parse_tgtadm_targets(self._tgtadm("--op", "show", "--mode", "target"))

    def _add_lun(self, tid: int, path: Path, serial: str | None = None) -> None:
        self._tgtadm(
            "--op", "new", "--mode", "logicalunit", "--tid", str(tid), "--lun", "1", "-b", str(path)
        )
        params = "vendor_id=Nimble,product_id=Server,product_rev=1.0"
        if serial:
            s = re.sub(r"[^A-Za-z0-9]", "", serial)[:32]
            if s:
                params += f",scsi_sn={s}"
        self._tgtadm(
            "--op",
            "update",
            "--mode",
            "logicalunit",
            "--tid",
            str(tid),
            "--lun",
            "1",
            "--params",
            params,
            check=False,
        )

    def export(
        self, vol_id: str, target_name: str, tid: int | None = None, serial: str | None = None
    ) -> int:
        """Create target ``target_name`` with LUN 1 = the volume file. Nobody may log in until
        ``set_acl``. Returns the tid. Idempotent for the same volume."""
        with self._lock:
            path = self._vol_path(vol_id)
            if not path.exists():
                raise DataPlaneError(f"no volume {vol_id} in the data plane")
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

    def _tid(self, target_name: str) -> int:
        t = self.targets().get(target_name)
        if t is None:
            raise DataPlaneError(f"target {target_name} is not exported")
        return t.tid

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
            t = self.targets().get(target_name)
            if t is None:
                raise DataPlaneError(f"target {target_name} is not exported")
            want = {"ALL" if i == "*" else i for i in initiator_iqns}
            have = set(t.acl)
            for op, entries in (("unbind", have - want), ("bind", want - have)):
                for entry in sorted(entries):
                    opt = (
                        "--initiator-name"
                        if self._is_initiator_name(entry)
                        else ("--initiator-address")
                    )
                    self._tgtadm("--op", op, "--mode", "target", "--tid", str(t.tid), opt, entry)

    def acl(self, target_name: str) -> list[str]:
        t = self.targets().get(target_name)
        if t is None:
            raise DataPlaneError(f"target {target_name} is not exported")
        return ["*" if a == "ALL" else a for a in t.acl]

    def connections(self, target_name: str) -> int:
        """Number of iSCSI connections (I_T nexus connections) to the target; 0 if not exported."""
        t = self.targets().get(target_name)
        return t.connections if t else 0

    def sessions(self, target_name: str) -> list[tuple[str, list[str]]]:
        """[(initiator name, [IP addresses])] for each I_T nexus of the target."""
        t = self.targets().get(target_name)
        return list(t.nexus) if t else []


def _main(argv: list[str] | None = None) -> int:
    """Manual check: ``python -m tfnimble.sim.dataplane STATE_DIR [PORTAL]`` starts a data plane,
    exports a 64 MiB volume to everyone and waits for Ctrl-C."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(_main.__doc__)
        return 2
    logging.basicConfig(level=logging.INFO)
    dp = DataPlane(Path(args[0]), args[1] if len(args) > 1 else "127.0.0.1:3260")
    with dp:
        if not dp.exists("demo"):
            dp.create_volume("demo", 64 << 20)
        iqn = "iqn.2007-11.com.nimblestorage:demo"
        dp.export("demo", iqn)
        dp.set_acl(iqn, ["*"])
        print(f"reflink={dp.reflink} loop={dp.loop_mounted} portal={dp.portal} target={iqn}")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
