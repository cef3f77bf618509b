"""The data plane's pool: volume and snapshot files on a reflink filesystem.

A snapshot or clone is a reflink copy (FICLONE), so it shares every extent with its source until
one of them is written. Where the state directory has no reflink filesystem, the pool is a sparse
XFS image loop-mounted at ``pool/`` (root only), or else plain files copied in full.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import struct
import threading
import time
from pathlib import Path

from .dptools import DataPlaneError, check_id, run, write_record

log = logging.getLogger("tfnimble.sim.dataplane")

GiB = 1 << 30
DEFAULT_POOL_SIZE = 20 * GiB

# ioctl numbers (linux/fs.h)
_FICLONE = 0x40049409
_FS_IOC_FIEMAP = 0xC020660B
_FIEMAP_FLAG_SYNC = 0x1
_FIEMAP_EXTENT_LAST = 0x1
_FIEMAP_EXTENT_SHARED = 0x2000
_FIEMAP_MAX_OFFSET = (1 << 64) - 1
_FIEMAP_HDR = struct.Struct("=QQIIII")  # fm_start fm_length fm_flags fm_mapped fm_count reserved
_FIEMAP_EXT = struct.Struct("=QQQQQIIII")  # logical physical length res64[2] flags res32[3]


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


def mount_source(mountpoint: Path) -> str | None:
    """What is mounted at ``mountpoint`` (the topmost mount), from /proc/self/mountinfo."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    source = None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) >= 5 and len(rest) >= 2 and _unescape(fields[4]) == str(mountpoint):
            source = _unescape(rest[1])
    return source


def _unescape(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def loop_backing_file(device: str) -> str | None:
    try:
        path = Path("/sys/block", os.path.basename(device), "loop", "backing_file")
        return path.read_text().strip()
    except OSError:
        return None


def loops_backed_by(image: Path) -> list[str]:
    """The loop devices attached to ``image`` (and to nothing else)."""
    try:
        names = sorted(os.listdir("/sys/block"))
    except OSError:
        return []
    return [
        f"/dev/{n}" for n in names if n.startswith("loop") and loop_backing_file(n) == str(image)
    ]


class ReflinkPool:
    """The pool half of :class:`~tfnimble.sim.dataplane.DataPlane` (a mixin sharing its state)."""

    state_dir: Path
    pool_dir: Path
    pool_image: Path
    pool_mode: str
    pool_size_bytes: int
    reflink: bool
    loop_mounted: bool
    _lock: threading.RLock

    def _mount_record(self) -> Path:
        return self.state_dir / "pool.mount"

    def _reclaim_pool(self) -> list[str]:
        """Unmount and detach the loop pool a dead owner of this state dir left behind.

        Only a mount of our own ``pool.img`` (its loop device's backing file) is touched. If
        it cannot be released, this raises rather than mount the image a second time (two
        XFS instances on one image would corrupt it)."""
        done: list[str] = []
        image = self.pool_image
        source = mount_source(self.pool_dir) if os.path.ismount(self.pool_dir) else None
        if source is not None and loop_backing_file(source) == str(image):
            proc = run(["umount", str(self.pool_dir)], timeout=60, check=False)
            if proc.returncode != 0:
                raise DataPlaneError(
                    f"the pool {self.pool_dir} left by a dead nimble-sim is still busy "
                    f"({proc.stderr.strip()}); stop what uses it (fuser -vm {self.pool_dir}) "
                    "and start again"
                )
            done.append(f"unmounted {self.pool_dir} ({source})")
        deadline = time.monotonic() + 30.0  # a loaded machine can take seconds to let go
        while loops := loops_backed_by(image):
            # umount detaches an autoclear loop device itself, a moment later
            if time.monotonic() > deadline:
                raise DataPlaneError(
                    f"{', '.join(loops)} still attached to {image}; detach with losetup -d "
                    "(mounting the image twice would corrupt it)"
                )
            for dev in loops:
                if run(["losetup", "-d", dev], timeout=30, check=False).returncode == 0:
                    done.append(f"detached {dev}")
            time.sleep(0.05)
        with contextlib.suppress(OSError):
            self._mount_record().unlink()
        return done

    def _setup_pool(self) -> None:
        is_root = os.geteuid() == 0
        if self.pool_mode != "dir" and os.path.ismount(self.pool_dir):
            # something other than our pool image is mounted there: use it, never unmount it
            self.loop_mounted = False
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
        run(["mkfs.xfs", "-q", "-f", "-m", "reflink=1", str(tmp)], timeout=120)
        os.replace(tmp, self.pool_image)

    def _mount_pool_image(self) -> None:
        self.pool_dir.mkdir(exist_ok=True)
        run(
            ["mount", "-t", "xfs", "-o", "loop,noatime", str(self.pool_image), str(self.pool_dir)],
            timeout=60,
        )
        self.loop_mounted = True
        source = mount_source(self.pool_dir) or "?"
        write_record(self._mount_record(), f"{source} {self.pool_dir}\n")
        self.reflink = probe_reflink(self.pool_dir)

    def _unmount_pool(self) -> None:
        if not self.loop_mounted:
            return
        if os.path.ismount(self.pool_dir):
            proc = run(["umount", str(self.pool_dir)], timeout=60, check=False)
            if proc.returncode != 0:
                # something still holds a file open: detach lazily so the loop device goes away
                # as soon as it is released, and say so
                run(["umount", "-l", str(self.pool_dir)], timeout=60, check=False)
                self.loop_mounted = False
                raise DataPlaneError(f"umount {self.pool_dir} failed: {proc.stderr.strip()}")
        self.loop_mounted = False
        with contextlib.suppress(OSError):
            self._mount_record().unlink()

    def pool_stats(self) -> dict[str, int]:
        """Capacity of the pool filesystem: total, free and used bytes (statvfs)."""
        st = os.statvfs(self.pool_dir)
        total = st.f_blocks * st.f_frsize
        free = st.f_bavail * st.f_frsize
        used = total - st.f_bfree * st.f_frsize
        return {"total_bytes": total, "free_bytes": free, "used_bytes": used}

    # ------------------------------------------------------------------ files
    def _vol_path(self, vol_id: str) -> Path:
        return self.pool_dir / "volumes" / check_id(vol_id)

    def _snap_path(self, snap_id: str) -> Path:
        return self.pool_dir / "snapshots" / check_id(snap_id)

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
            run(["cp", "--reflink=auto", "--sparse=always", str(src), str(target)], timeout=3600)
        if not in_place:
            os.replace(target, dst)

    def _existing(self, kind: str, obj_id: str) -> Path:
        """The file of volume or snapshot ``obj_id``; DataPlaneError if it does not exist."""
        path = self._vol_path(obj_id) if kind == "volume" else self._snap_path(obj_id)
        if not path.exists():
            raise DataPlaneError(f"no {kind} {obj_id} in the data plane")
        return path

    def _new(self, kind: str, obj_id: str) -> Path:
        """Where volume or snapshot ``obj_id`` goes; DataPlaneError if it exists already."""
        path = self._vol_path(obj_id) if kind == "volume" else self._snap_path(obj_id)
        if path.exists():
            raise DataPlaneError(f"{kind} {obj_id} already exists in the data plane")
        return path

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
