"""Real data plane for nimble-sim: volume files with zero-copy clones, exported over iSCSI by tgtd.

Only the standard library and subprocess are used, so the simulator stays light.

Layout (under ``state_dir``)::

    pool/                   the pool directory (a reflink filesystem, loop-mounted XFS if needed)
      volumes/<vol_id>      one sparse file per volume
      snapshots/<snap_id>   one reflink copy per snapshot
    pool.img                the sparse XFS image backing ``pool/`` (only when a loop pool is used)
    pool.mount              "LOOP_DEVICE MOUNTPOINT" while the loop pool is mounted
    tgtd.log / tgtd.pid     the tgtd child ("PID CONTROL_PORT START_TIME") and its output
    owner.pid               "PID START_TIME" of the owning process, which holds a flock on it

Ownership and kill -9: a started DataPlane holds an exclusive ``flock`` on ``owner.pid``; the
kernel drops it when the process dies, however it dies. ``start()`` takes it (a live owner makes
it fail) and then reclaims what a dead owner left: its tgtd (by ``tgtd.pid``, checked to be that
very process), its pool mount and loop device (checked to be backed by this ``pool.img``). The
files in the pool survive; nothing of another state dir is touched.

Space: ``unique_bytes`` counts the bytes of extents not shared with another file (FIEMAP flag
``FIEMAP_EXTENT_SHARED``); ``allocated_bytes`` is what the file occupies. Without reflink the
copies are full copies and both numbers say so (``reflink`` is then False).

iSCSI: one private tgtd per DataPlane; see ``tgt.py``. The pool and its files are in
``reflink.py``; this module ties the two together (a volume's file behind a target).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import threading
from pathlib import Path

from .dptools import DataPlaneError, proc_start_time
from .reflink import DEFAULT_POOL_SIZE, ReflinkPool
from .tgt import TargetInfo, Tgtd, parse_tgtadm_targets, split_portal

__all__ = ["DataPlane", "DataPlaneError", "TargetInfo", "parse_tgtadm_targets"]

log = logging.getLogger(__name__)


class DataPlane(ReflinkPool, Tgtd):
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
        self.portal_ip, self.portal_port = split_portal(portal)
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
        self._serials: dict[str, str] = {}
        self._accounts: dict[str, str] = {}
        self._started = False
        self._owner_fd: int | None = None

    # ------------------------------------------------------------------ ownership
    def _claim(self) -> None:
        """Become the owner of ``state_dir`` (DataPlaneError while a live process is)."""
        if self._owner_fd is not None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / "owner.pid", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = (os.read(fd, 64).decode(errors="replace").split() or ["another process"])[0]
            os.close(fd)
            raise DataPlaneError(
                f"the data plane in {self.state_dir} is in use by process {holder}; "
                "stop it, or give this one its own state dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {proc_start_time(os.getpid()) or 0}\n".encode(), 0)
        self._owner_fd = fd

    def _release(self) -> None:
        # the file stays (unlinking a locked file lets two processes lock two inodes)
        if self._owner_fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._owner_fd, 0)
            os.close(self._owner_fd)
            self._owner_fd = None

    def _reclaim_stale(self) -> list[str]:
        done: list[str] = []
        pid = self._reclaim_tgtd()
        if pid is not None:
            done.append(f"stopped tgtd pid {pid}")
        if self.pool_mode != "dir":
            done += self._reclaim_pool()
        for what in done:
            log.warning("data plane %s, left by a dead owner: %s", self.state_dir, what)
        return done

    def reclaim(self) -> list[str]:
        """Release what a dead owner of ``state_dir`` left behind (its tgtd, pool mount and loop
        device) without starting; say what was done. DataPlaneError while a live process owns
        the state dir. ``start()`` does this itself."""
        with self._lock:
            if self._started:
                return []
            self._claim()
            try:
                return self._reclaim_stale()
            finally:
                self._release()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> DataPlane:
        with self._lock:
            if self._started:
                return self
            self._claim()
            try:
                self._reclaim_stale()
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
            self._release()
            if errors:
                raise DataPlaneError("; ".join(errors))

    def __enter__(self) -> DataPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ files
    def create_volume(self, vol_id: str, size_bytes: int) -> Path:
        with self._lock:
            path = self._new("volume", vol_id)
            tmp = path.with_name(f".{path.name}.tmp")
            with open(tmp, "wb") as f:
                f.truncate(int(size_bytes))
            os.replace(tmp, path)
            return path

    def resize_volume(self, vol_id: str, size_bytes: int) -> None:
        """Grow (or shrink) the volume file. An exported LUN without sessions is re-created so
        initiators see the new size; with sessions, the new size shows after the next export."""
        with self._lock:
            path = self._existing("volume", vol_id)
            os.truncate(path, int(size_bytes))
            if self._tgtd is None:
                return
            for t in self.targets().values():
                for lun in [n for n, p in t.luns.items() if p == str(path)]:
                    if not t.nexus:
                        self._delete_lun(t.tid, lun)
                        self._add_lun(t.tid, path, lun=lun)

    def snapshot(self, vol_id: str, snap_id: str) -> Path:
        with self._lock:
            src = self._existing("volume", vol_id)
            dst = self._new("snapshot", snap_id)
            self._copy(src, dst)
            return dst

    def clone(self, snap_id: str, vol_id: str, size_bytes: int | None = None) -> Path:
        with self._lock:
            src = self._snap_path(snap_id)
            if not src.exists():
                # cloning straight from a volume is allowed too (the array clones snapshots only,
                # but the sim may use this for its own bookkeeping)
                src = self.path_of(snap_id)
            dst = self._new("volume", vol_id)
            self._copy(src, dst)
            if size_bytes is not None and int(size_bytes) > dst.stat().st_size:
                os.truncate(dst, int(size_bytes))
            return dst

    def restore(self, vol_id: str, snap_id: str) -> None:
        """Make the volume's content (and size) the snapshot's; same inode, so an export follows."""
        with self._lock:
            dst = self._existing("volume", vol_id)
            src = self._existing("snapshot", snap_id)
            self._copy(src, dst, in_place=True)

    def export(
        self, vol_id: str, target_name: str, tid: int | None = None, serial: str | None = None
    ) -> int:
        """Create target ``target_name`` with LUN 1 = the volume file. Nobody may log in until
        ``set_acl``. Returns the tid. Idempotent for the same volume."""
        with self._lock:
            return self.export_file(self._existing("volume", vol_id), target_name, tid, serial)

    def export_volumes(
        self, target_name: str, luns: dict[int, str], serials: dict[str, str] | None = None
    ) -> int:
        """Make ``target_name`` export exactly these volumes (tgtd LUN number -> volume id);
        ``serials`` (volume id -> serial) are what their LUNs report."""
        with self._lock:
            files = {lun: self._existing("volume", vol_id) for lun, vol_id in luns.items()}
            by_lun = {lun: (serials or {}).get(vol_id, "") for lun, vol_id in luns.items()}
            return self.export_luns(target_name, files, {k: v for k, v in by_lun.items() if v})

    def delete_volume(self, vol_id: str) -> None:
        """Delete the file; a target exporting only it goes, a shared one loses its LUN."""
        with self._lock:
            path = self._vol_path(vol_id)
            self._serials.pop(str(path), None)
            if self._tgtd is not None:
                for t in self.targets().values():
                    mine = [n for n, p in t.luns.items() if p == str(path)]
                    if mine and len(mine) == len(t.luns):  # luns lists disks, not LUN 0
                        self.unexport(t.name)
                    for lun in mine if len(mine) < len(t.luns) else []:
                        self._delete_lun(t.tid, lun)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def delete_snapshot(self, snap_id: str) -> None:
        with self._lock, contextlib.suppress(FileNotFoundError):
            self._snap_path(snap_id).unlink()


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
