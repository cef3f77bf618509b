"""Instances of the boot image (bootimage.py) under qemu, each booting from its own disk.

A disk is an iSCSI LUN read and written by qemu's userspace iSCSI driver (libiscsi; Debian
qemu-block-extra) logging in as the instance's own initiator name, or a local file. The
instance's number reaches the guest as its boot disk's serial (`inst-07`); its serial console
goes to a file. An instance powers itself off when done, so qemu exits: `wait` only waits.

Acceleration: KVM when /dev/kvm opens and a hardware backend (kvm_intel or kvm_amd) serves it,
otherwise TCG (software emulation), and `accel()` says why. /dev/kvm alone is not enough: a
machine that is itself a guest may serve /dev/kvm with a paravirtual backend such as kvm_pvm,
which runs only guests built for it; an unmodified BIOS guest dies there with "KVM internal
error ... emulation failure". TFNIMBLE_QEMU_ACCEL=kvm|tcg overrides the choice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

QEMU = "qemu-system-x86_64"
KVM_GET_API_VERSION = 0xAE00
KVM_HARDWARE_BACKENDS = ("kvm_intel", "kvm_amd")
MEMORY_MIB = 128
BOOT_LINE = re.compile(r"tfnimble-boot instance=(\d+) marker=written\b")
ERROR_LINE = re.compile(r"tfnimble-boot instance=(\S+) error=(\S+)")


def accel() -> tuple[str, str]:
    """("kvm" or "tcg", why)."""
    forced = os.environ.get("TFNIMBLE_QEMU_ACCEL", "")
    if forced in ("kvm", "tcg"):
        return forced, "TFNIMBLE_QEMU_ACCEL"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return "tcg", f"/dev/kvm: {exc.strerror}"
    try:
        api = fcntl.ioctl(fd, KVM_GET_API_VERSION)
    except OSError as exc:
        return "tcg", f"/dev/kvm does not answer KVM_GET_API_VERSION: {exc.strerror}"
    finally:
        os.close(fd)
    if api != 12:
        return "tcg", f"/dev/kvm speaks KVM API {api}, not 12"
    backends = [m for m in KVM_HARDWARE_BACKENDS if Path("/sys/module", m).exists()]
    if not backends:
        others = sorted(p.name for p in Path("/sys/module").glob("kvm_*"))
        served = ", ".join(others) if others else "no hardware backend"
        return "tcg", f"/dev/kvm is served by {served}, which cannot run an unmodified BIOS guest"
    return "kvm", f"/dev/kvm with {backends[0]}"


def serial_for(number: int) -> str:
    return f"inst-{number:02d}"


@dataclass(frozen=True)
class Disk:
    """Where an instance's boot disk is: an iSCSI LUN, or a file when `file` is set."""

    portal: str = ""
    target: str = ""
    lun: int = 0
    initiator: str = ""
    file: Path | None = None

    def blockdev_opts(self) -> str:
        """The disk as qemu `-drive`/`--image-opts` options (raw format)."""
        if self.file is not None:
            return f"driver=raw,file.driver=file,file.filename={self.file}"
        return (
            f"driver=raw,file.driver=iscsi,file.transport=tcp,file.portal={self.portal},"
            f"file.target={self.target},file.lun={self.lun},"
            f"file.initiator-name={self.initiator}"
        )


@dataclass
class Instance:
    number: int
    disk: Disk
    console: Path
    proc: subprocess.Popen[bytes]
    started: float
    stderr: Path
    qmp: Path | None = None
    finished: float | None = None
    timed_out: bool = False
    events: list[str] = field(default_factory=list)

    @property
    def console_text(self) -> str:
        try:
            return self.console.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def error_text(self) -> str:
        try:
            return self.stderr.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def booted_as(self) -> int | None:
        """The instance number the guest printed on its console, if it printed its line."""
        m = BOOT_LINE.search(self.console_text)
        return int(m.group(1)) if m else None

    def boot_line(self) -> str:
        for line in self.console_text.splitlines():
            if line.startswith("tfnimble-boot "):
                return line.strip()
        return ""

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started


def qemu_argv(
    number: int, disk: Disk, console: Path, how: str, qmp: Path | None = None
) -> list[str]:
    argv = [
        QEMU,
        "-name",
        f"tfnimble-{serial_for(number)}",
        "-accel",
        how,
        "-m",
        str(MEMORY_MIB),
        "-smp",
        "1",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        f"file:{console}",
        "-drive",
        f"if=none,id=boot,cache=writeback,{disk.blockdev_opts()}",
        "-device",
        f"virtio-blk-pci,drive=boot,serial={serial_for(number)},bootindex=1",
    ]
    if how == "kvm":
        argv += ["-cpu", "host"]
    if qmp is not None:  # keep the last screen after power-off, for a screendump
        argv += ["-vga", "std", "-no-shutdown", "-qmp", f"unix:{qmp},server=on,wait=off"]
    return argv


def start(number: int, disk: Disk, workdir: Path, how: str, *, screen: bool = False) -> Instance:
    """Start instance `number` booting from `disk`; its console goes to workdir/inst-NN.console."""
    if shutil.which(QEMU) is None:
        raise FileNotFoundError(f"{QEMU} is not installed (Debian: qemu-system-x86)")
    workdir.mkdir(parents=True, exist_ok=True)
    name = serial_for(number)
    console = workdir / f"{name}.console"
    stderr = workdir / f"{name}.stderr"
    qmp = workdir / f"{name}.qmp" if screen else None
    console.unlink(missing_ok=True)
    if qmp is not None:
        qmp.unlink(missing_ok=True)
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(
            qemu_argv(number, disk, console, how, qmp),
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
            start_new_session=True,
        )
    return Instance(number, disk, console, proc, time.monotonic(), stderr, qmp)


class Qmp:
    """A QMP connection: commands answered in order, events recorded."""

    def __init__(self, path: Path, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.settimeout(timeout)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rw")
        self.events: list[str] = []
        self._read()  # greeting
        self.command("qmp_capabilities")

    def _read(self) -> dict[str, object]:
        line = self.file.readline()
        if not line:
            raise ConnectionError("qemu closed its QMP socket")
        msg: dict[str, object] = json.loads(line)
        return msg

    def command(self, name: str, **arguments: object) -> object:
        msg: dict[str, object] = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.file.write(json.dumps(msg) + "\n")
        self.file.flush()
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(str(reply["event"]))
                continue
            if "error" in reply:
                raise RuntimeError(f"QMP {name}: {reply['error']}")
            return reply.get("return")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
            self.sock.close()


def wait(instances: Iterable[Instance], timeout: float) -> None:
    """Wait until every instance has powered off (qemu exits; an instance with a screen stops
    and is screen-dumped, then quit), or until `timeout`: stragglers are killed and marked."""
    pending = list(instances)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for inst in list(pending):
            if inst.proc.poll() is not None or (inst.qmp is not None and _powered_off(inst)):
                inst.finished = time.monotonic()
                pending.remove(inst)
        time.sleep(0.05)
    for inst in pending:
        inst.timed_out = True
    stop(pending)


def _powered_off(inst: Instance) -> bool:
    """An instance kept by -no-shutdown: has its guest powered off (or printed its last line)?"""
    text = inst.console_text
    return "reboot: Power down" in text or bool(ERROR_LINE.search(text))


def screendump(inst: Instance, png: Path) -> None:
    """The instance's screen (VGA) as a PNG, then quit it. Only for instances started with
    screen=True, after `wait`."""
    assert inst.qmp is not None
    ppm = png.with_suffix(".ppm")
    qmp = Qmp(inst.qmp)
    try:
        qmp.command("screendump", filename=str(ppm))
        with contextlib.suppress(ConnectionError, OSError):
            qmp.command("quit")
    finally:
        qmp.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        inst.proc.wait(timeout=30)
    png.write_bytes(ppm_to_png(ppm.read_bytes()))
    ppm.unlink()


def stop(instances: Iterable[Instance]) -> None:
    """Kill what still runs (by each instance's own process group) and reap it."""
    for inst in instances:
        if inst.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(inst.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            inst.proc.wait(timeout=30)


def ppm_to_png(ppm: bytes) -> bytes:
    """A binary PPM (P6, 8 bits, what qemu's screendump writes) as a PNG."""
    tokens: list[bytes] = []
    pos = 0
    while len(tokens) < 4:
        while ppm[pos : pos + 1].isspace():
            pos += 1
        if ppm[pos : pos + 1] == b"#":
            pos = ppm.index(b"\n", pos) + 1
            continue
        end = pos
        while not ppm[end : end + 1].isspace():
            end += 1
        tokens.append(ppm[pos:end])
        pos = end
    magic, width, height, maxval = tokens[0], int(tokens[1]), int(tokens[2]), int(tokens[3])
    if magic != b"P6" or maxval != 255:
        raise ValueError(f"not an 8-bit P6 PPM: {magic!r} maxval {maxval}")
    pixels = ppm[pos + 1 : pos + 1 + width * height * 3]
    stride = width * 3
    raw = b"".join(b"\0" + pixels[y * stride : (y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def read_block(disk: Disk, offset: int, length: int) -> bytes:
    """`length` bytes at `offset` of the disk, read over iSCSI as the disk's initiator."""
    res = subprocess.run(
        [
            "qemu-io",
            "-r",
            "--image-opts",
            disk.blockdev_opts(),
            "-c",
            f"read -v {offset} {length}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if res.returncode != 0 or "read " not in res.stdout:
        raise OSError(f"qemu-io cannot read {disk.target} LUN {disk.lun}: {res.stderr.strip()}")
    data = bytearray()
    for line in res.stdout.splitlines():
        m = re.match(r"^([0-9a-f]{8}):((?:\s+[0-9a-f]{2}){1,16})", line)
        if m:
            data += bytes(int(h, 16) for h in m.group(2).split())
    if len(data) != length:
        raise OSError(f"qemu-io returned {len(data)} bytes, not {length}")
    return bytes(data)
