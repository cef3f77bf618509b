"""A small, real, bootable OS image made from Debian packages: what the boot tests clone.

    python tools/bootimage/bootimage.py            # build (or reuse) it and print its path
    python tools/bootimage/bootimage.py --json     # ... and its layout, versions and sha256

The image is a raw 32 MiB disk (MBR):

    sector 0                syslinux's MBR boot code, partition 1 active
    partition 1  1..29 MiB  FAT12 "TFNIMBLE" (32 KiB clusters): ldlinux.sys/.c32 (SYSLINUX),
                            syslinux.cfg, vmlinuz (the Debian kernel), initrd.gz (busybox + /init)
    partition 2 30..31 MiB  type 0xda (non-FS data): the marker partition, zeros in the image

SeaBIOS runs the MBR, which chain-loads SYSLINUX, which boots the kernel with the
initramfs; `/init` (tools/bootimage/init) finds its boot disk by serial number (`inst-N`),
writes a 4 KiB marker (`TFNIMBLE-MARKER instance=N serial=inst-N`, NUL-padded) at the start of
partition 2 (byte MARKER_OFFSET of the disk), prints `tfnimble-boot instance=N marker=written`
on the serial console (ttyS0) and powers off.

Debian packages: the kernel (linux-image-cloud-amd64's current ABI package: the cloud flavour,
because its LZ4-compressed kernel unpacks in a fraction of the time of the generic kernel's
XZ under software emulation) and busybox-static are fetched with `apt-get download` and
unpacked here, never installed; SYSLINUX, mtools and
dosfstools are host tools (.ci/apt-packages.txt). Only the kernel modules a virtio-blk,
virtio-scsi or SCSI disk needs go into the initramfs (with their dependencies, from the
modules' own `depends=`).

Reproducible: every timestamp is SOURCE_DATE_EPOCH (default below), the cpio archive is
sorted with fixed owners, gzip carries no name or time, the FAT has a fixed volume ID and
`--invariant` metadata, and the MBR a fixed disk signature: the same inputs give the same
sha256. Cached: ~/.cache/tfnimble/bootimage/<key>/boot.raw ($XDG_CACHE_HOME honoured), the key
being a hash of this script, /init and every input package's name and version.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
INIT = HERE / "init"
MiB = 1 << 20
SECTOR = 512

DISK_BYTES = 32 * MiB
BOOT_START, BOOT_BYTES = 1 * MiB, 28 * MiB
MARKER_START, MARKER_BYTES = 30 * MiB, 1 * MiB
#: Byte offset of the marker on the disk: the first 4 KiB of partition 2.
MARKER_OFFSET = MARKER_START
MARKER_BYTES_WRITTEN = 4096
MARKER_PREFIX = b"TFNIMBLE-MARKER "
BOOT_LINE_PREFIX = "tfnimble-boot "

DEFAULT_EPOCH = 1764547200  # 2025-12-01T00:00:00Z
DISK_SIGNATURE = 0x7F6E0B01
FAT_VOLUME_ID = "7f6e0b02"
KERNEL_META = "linux-image-cloud-amd64"
BUSYBOX = "busybox-static"
HOST_TOOLS = ("syslinux", "syslinux-common", "mtools", "dosfstools")
MODULE_ROOTS = ("virtio_pci", "virtio_blk", "virtio_scsi", "sd_mod")
#: Where MODULE_ROOTS and their dependencies live in Debian's kernel (kept from the first pass).
MODULE_DIRS = ("drivers/virtio", "drivers/block", "drivers/scsi", "lib")
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")
KERNEL_ARGS = "console=tty0 console=ttyS0,115200 quiet loglevel=3 panic=1 rdinit=/init"


class BuildError(RuntimeError):
    """The image cannot be built here; the message says what is missing and what to do."""


@dataclass(frozen=True)
class BootImage:
    path: Path
    sha256: str
    size: int
    marker_offset: int
    kernel: str
    packages: dict[str, str]
    cached: bool


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tfnimble" / "bootimage"


def epoch() -> int:
    return int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_EPOCH))


def _run(argv: list[str], **kw: object) -> str:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=600, **kw)  # type: ignore[call-overload]
    except FileNotFoundError:
        raise BuildError(
            f"{argv[0]} is not installed; install the packages in .ci/apt-packages.txt "
            "(apt-get install syslinux syslinux-common mtools dosfstools)"
        ) from None
    if res.returncode != 0:
        raise BuildError(f"{' '.join(argv)} failed (exit {res.returncode}): {res.stderr.strip()}")
    return str(res.stdout)


def _stanzas(text: str) -> list[dict[str, str]]:
    """apt/dpkg control stanzas (blank-line separated) as dicts of their one-line fields."""
    out = []
    for block in text.strip().split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        out.append(fields)
    return out


def candidates() -> dict[str, str]:
    """The kernel ABI package behind KERNEL_META (e.g. linux-image-6.1.0-57-cloud-amd64) and
    busybox-static, at the versions apt would install now: one apt-cache call (needs
    `apt-get update` once)."""
    out = _run(["apt-cache", "show", "--no-all-versions", KERNEL_META, BUSYBOX])
    by_name = {st.get("Package", ""): st for st in _stanzas(out)}
    if KERNEL_META not in by_name or BUSYBOX not in by_name:
        raise BuildError(f"apt knows no {KERNEL_META} or {BUSYBOX}: run `apt-get update` first")
    for dep in by_name[KERNEL_META].get("Depends", "").split(","):
        m = re.fullmatch(r"\s*(linux-image-\S+-cloud-amd64) \(= (\S+)\)\s*", dep)
        if m:
            return {m.group(1): m.group(2), BUSYBOX: by_name[BUSYBOX]["Version"]}
    raise BuildError(f"cannot tell which kernel {KERNEL_META} depends on: {out[:300]}")


def installed_versions(packages: tuple[str, ...]) -> dict[str, str]:
    res = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package}|${Status}|${Version}\n", *packages],
        capture_output=True,
        text=True,
    )
    found = {}
    for line in res.stdout.splitlines():
        name, status, version = line.split("|", 2)
        if status.endswith(" installed"):
            found[name] = version
    missing = [p for p in packages if p not in found]
    if missing:
        raise BuildError(
            f"{', '.join(missing)} not installed: the image needs them to be built "
            f"(apt-get install {' '.join(HOST_TOOLS)}; see .ci/apt-packages.txt)"
        )
    return found


def inputs() -> dict[str, str]:
    """Every package that goes into the image, with its version."""
    return {**candidates(), **installed_versions(HOST_TOOLS)}


def cache_key(versions: dict[str, str]) -> str:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(INIT.read_bytes())
    h.update(str(epoch()).encode())
    for name, version in sorted(versions.items()):
        h.update(f"{name}={version}\n".encode())
    return h.hexdigest()[:20]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            h.update(chunk)
    return h.hexdigest()


# --- the pieces ------------------------------------------------------------------------------


def download(package: str, version: str, debs: Path) -> Path:
    """`apt-get download PACKAGE=VERSION` into `debs` (kept there: the kernel is 70 MB)."""
    debs.mkdir(parents=True, exist_ok=True)
    have = [p for p in debs.glob(f"{package}_*.deb") if _deb_version(p) == version]
    if have:
        return have[0]
    with tempfile.TemporaryDirectory(dir=debs) as tmp:
        os.chmod(tmp, 0o755)  # apt's _apt user writes here when it can
        _run(["apt-get", "download", "-q", f"{package}={version}"], cwd=tmp)
        (got,) = Path(tmp).glob("*.deb")
        dest = debs / got.name
        os.replace(got, dest)
    return dest


def _deb_version(deb: Path) -> str:
    return _run(["dpkg-deb", "-f", str(deb), "Version"]).strip()


def _stream(deb: Path, keep: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of the package's regular files for which `keep(path)` is true, read as a
    stream (the kernel package unpacks to 400 MB)."""
    with (
        subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as proc,
        tarfile.open(fileobj=proc.stdout, mode="r|") as tar,
    ):
        for member in tar:
            if member.isfile() and keep(member.name):
                f = tar.extractfile(member)
                assert f is not None
                yield member.name, f.read()
    if proc.returncode != 0:
        raise BuildError(f"dpkg-deb cannot unpack {deb} (exit {proc.returncode})")


def modinfo_depends(ko: bytes) -> list[str]:
    """A module's `depends=` (its .modinfo strings are NUL-separated key=value pairs)."""
    for field in ko.split(b"\0"):
        if field.startswith(b"depends="):
            names = field[len(b"depends=") :].decode().split(",")
            return [d.replace("-", "_") for d in names if d]
    return []


def module_name(path: str) -> str:
    return Path(path).name.removesuffix(".ko").replace("-", "_")


def module_closure(depends: dict[str, list[str]]) -> list[str]:
    """MODULE_ROOTS and everything they depend on, dependencies first."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise BuildError(f"module dependency cycle: {' -> '.join((*path, name))}")
        if name not in depends:
            raise BuildError(f"the kernel package has no module {name}")
        for dep in depends[name]:
            visit(dep, (*path, name))
        order.append(name)

    for root in MODULE_ROOTS:
        visit(root, ())
    return order


def kernel_files(deb: Path, release: str) -> tuple[bytes, dict[str, bytes], list[str]]:
    """The kernel image, the modules of MODULE_ROOTS' closure, and their load order."""
    vmlinuz_path = f"./boot/vmlinuz-{release}"
    moddir = f"./lib/modules/{release}/kernel/"
    vmlinuz = b""
    depends: dict[str, list[str]] = {}
    kept: dict[str, bytes] = {}
    for path, data in _stream(deb, lambda p: p == vmlinuz_path or p.startswith(moddir)):
        if path == vmlinuz_path:
            vmlinuz = data
            continue
        name = module_name(path)
        depends[name] = modinfo_depends(data)
        if path.startswith(tuple(f"{moddir}{d}/" for d in MODULE_DIRS)):
            kept[name] = data
    if not vmlinuz:
        raise BuildError(f"{deb.name} has no {vmlinuz_path}")
    order = module_closure(depends)
    missing = set(order) - set(kept)
    if missing:  # a dependency outside the usual directories: one more pass for it
        for path, data in _stream(deb, lambda p: module_name(p) in missing):
            kept[module_name(path)] = data
    return vmlinuz, {m: kept[m] for m in order}, order


def cpio_newc(entries: list[tuple[str, int, bytes]], mtime: int) -> bytes:
    """A newc cpio archive of (path, mode, data) in path order, owners root, fixed mtime."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*sorted(entries), ("TRAILER!!!", 0, b"")], 1):
        nlink = 2 if mode & 0o040000 else 1
        is_trailer = name == "TRAILER!!!"
        fields = (
            0 if is_trailer else ino,
            mode,
            0,
            0,
            0 if is_trailer else nlink,
            0 if is_trailer else mtime,
            len(data),
            0,
            0,
            0,
            0,
            len(name) + 1,
            0,
        )
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        out += header + name.encode() + b"\0"
        out += b"\0" * (-len(out) % 4)
        out += data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def initramfs(busybox: bytes, modules: dict[str, bytes], order: list[str], mtime: int) -> bytes:
    entries: list[tuple[str, int, bytes]] = [
        ("bin", 0o040755, b""),
        ("bin/busybox", 0o100755, busybox),
        ("init", 0o100755, INIT.read_bytes()),
        ("modules", 0o040755, b""),
        ("modules/order", 0o100644, "".join(f"{m}\n" for m in order).encode()),
    ]
    entries += [(f"modules/{m}.ko", 0o100644, modules[m]) for m in order]
    for d in ("dev", "proc", "sys", "tmp"):
        entries.append((d, 0o040755, b""))
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(cpio_newc(entries, mtime))
    return buf.getvalue()


def syslinux_cfg() -> bytes:
    return (
        "SERIAL 0 115200\nDEFAULT tfnimble\nPROMPT 0\nTIMEOUT 0\n"
        f"LABEL tfnimble\n  KERNEL vmlinuz\n  INITRD initrd.gz\n  APPEND {KERNEL_ARGS}\n"
    ).encode()


def fat_partition(dest: Path, files: dict[str, bytes], mtime: int) -> None:
    """A FAT12 partition image holding `files` in its root, with SYSLINUX installed."""
    with open(dest, "wb") as f:
        f.truncate(BOOT_BYTES)
    hidden = str(BOOT_START // SECTOR)
    _run(
        [
            "mkfs.vfat",
            "--invariant",
            "-F",
            "12",
            "-s",
            "64",
            "-i",
            FAT_VOLUME_ID,
            "-n",
            "TFNIMBLE",
            "-h",
            hidden,
            str(dest),
        ]
    )
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(mtime), "MTOOLS_SKIP_CHECK": "1", "TZ": "UTC"}
    _run(["syslinux", "--install", str(dest)], env=env)
    staging = dest.parent / "fat-files"
    staging.mkdir()
    for name, data in sorted(files.items()):
        p = staging / name
        p.write_bytes(data)
        os.utime(p, (mtime, mtime))
    _run(
        ["mcopy", "-m", "-i", str(dest), *(str(staging / n) for n in sorted(files)), "::"],
        env=env,
    )
    shutil.rmtree(staging)


def mbr() -> bytes:
    """SYSLINUX's MBR code, a fixed disk signature and the two partitions."""
    code = SYSLINUX_MBR.read_bytes()
    if len(code) != 440:
        raise BuildError(f"{SYSLINUX_MBR} is not a 440-byte MBR boot code")

    def entry(active: bool, ptype: int, start: int, size: int) -> bytes:
        chs = b"\xfe\xff\xff"  # beyond CHS: every BIOS here boots by LBA
        return struct.pack(
            "<B3sB3sII",
            0x80 if active else 0,
            chs,
            ptype,
            chs,
            start // SECTOR,
            size // SECTOR,
        )

    table = entry(True, 0x01, BOOT_START, BOOT_BYTES) + entry(
        False, 0xDA, MARKER_START, MARKER_BYTES
    )
    sector = code + struct.pack("<IH", DISK_SIGNATURE, 0) + table + b"\0" * 32 + b"\x55\xaa"
    assert len(sector) == SECTOR
    return sector


def build(dest: Path, versions: dict[str, str], debs: Path) -> str:
    """Build the image at `dest`; return the kernel release it boots."""
    mtime = epoch()
    kernel = next(p for p in versions if p.startswith("linux-image-"))
    release = kernel.removeprefix("linux-image-")
    kdeb = download(kernel, versions[kernel], debs)
    bdeb = download(BUSYBOX, versions[BUSYBOX], debs)
    vmlinuz, modules, order = kernel_files(kdeb, release)
    busybox = dict(_stream(bdeb, lambda p: p == "./bin/busybox")).get("./bin/busybox")
    if not busybox:
        raise BuildError(f"{bdeb.name} has no ./bin/busybox")
    initrd = initramfs(busybox, modules, order, mtime)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        part = Path(tmp) / "boot.fat"
        fat_partition(
            part,
            {"vmlinuz": vmlinuz, "initrd.gz": initrd, "syslinux.cfg": syslinux_cfg()},
            mtime,
        )
        out = Path(tmp) / "boot.raw"
        with open(out, "wb") as f:
            f.write(mbr())
            f.seek(BOOT_START)
            with open(part, "rb") as src:
                shutil.copyfileobj(src, f, MiB)
            f.truncate(DISK_BYTES)
        os.replace(out, dest)
    return release


def ensure(cache: Path | None = None) -> BootImage:
    """The boot image for the current package versions: from the cache, or built into it."""
    cache = cache or cache_root()
    versions = inputs()
    key = cache_key(versions)
    home = cache / key
    image, manifest = home / "boot.raw", home / "manifest.json"
    if image.exists() and manifest.exists():
        info = json.loads(manifest.read_text())
        if sha256_file(image) == info["sha256"]:
            return BootImage(**{**info, "path": image, "cached": True})
    home.mkdir(parents=True, exist_ok=True)
    release = build(image, versions, cache / "debs")
    info = {
        "sha256": sha256_file(image),
        "size": image.stat().st_size,
        "marker_offset": MARKER_OFFSET,
        "kernel": release,
        "packages": versions,
    }
    manifest.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    for old in cache.iterdir():  # one image (the current key) and its packages are kept
        if old.is_dir() and old.name not in (key, "debs"):
            shutil.rmtree(old, ignore_errors=True)
    for deb in (cache / "debs").glob("*.deb"):
        name = _run(["dpkg-deb", "-f", str(deb), "Package"]).strip()
        if versions.get(name) != _deb_version(deb):
            deb.unlink()
    return BootImage(path=image, cached=False, **info)  # type: ignore[arg-type]


def parse_marker(block: bytes) -> str | None:
    """The marker line at the start of a 4 KiB block, or None when the block holds none."""
    if not block.startswith(MARKER_PREFIX):
        return None
    return block.split(b"\n", 1)[0].decode(errors="replace")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print the image's manifest as JSON")
    ap.add_argument("--cache", type=Path, help="cache directory (default ~/.cache/tfnimble/...)")
    args = ap.parse_args(argv)
    try:
        img = ensure(args.cache)
    except BuildError as exc:
        print(f"bootimage: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**asdict(img), "path": str(img.path)}, sort_keys=True))
    else:
        print(img.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
