"""The boot image builder (tools/bootimage) piece by piece, fast: no qemu, no array.

The image itself boots in tests/acceptance/test_boot_instances.py; here its parts are checked
against their formats (cpio newc, MBR, PNG), the module closure against its rules, and the
built image's layout against what the guest's /init and the tests rely on.
"""

from __future__ import annotations

import gzip
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "bootimage"))

import bootimage  # noqa: E402
import bootvm  # noqa: E402


def parse_cpio(data: bytes) -> list[tuple[str, int, int, bytes]]:
    """(name, mode, mtime, data) of every entry, trailer included."""
    out = []
    pos = 0
    while True:
        assert data[pos : pos + 6] == b"070701", data[pos : pos + 6]
        fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = fields[11], fields[6]
        pos += 110
        name = data[pos : pos + namesize - 1].decode()
        pos += namesize
        pos += -pos % 4
        body = data[pos : pos + filesize]
        pos += filesize
        pos += -pos % 4
        out.append((name, fields[1], fields[5], body))
        if name == "TRAILER!!!":
            return out


def test_cpio_is_sorted_with_fixed_times_and_owners() -> None:
    entries = [("b", 0o100644, b"two"), ("a", 0o040755, b""), ("a/x", 0o100755, b"12345")]
    archive = bootimage.cpio_newc(entries, 1234)
    parsed = parse_cpio(archive)
    assert [p[0] for p in parsed] == ["a", "a/x", "b", "TRAILER!!!"]
    assert all(p[2] == 1234 for p in parsed[:-1])
    assert parsed[1][3] == b"12345" and parsed[1][1] == 0o100755
    assert len(archive) % 4 == 0
    assert bootimage.cpio_newc(list(reversed(entries)), 1234) == archive


def test_initramfs_is_reproducible_and_holds_init_busybox_and_modules() -> None:
    mods = {"virtio": b"\0depends=\0", "virtio_blk": b"\0depends=virtio\0"}
    one = bootimage.initramfs(b"BB", mods, ["virtio", "virtio_blk"], 99)
    assert one == bootimage.initramfs(b"BB", mods, ["virtio", "virtio_blk"], 99)
    files = {name: body for name, _, _, body in parse_cpio(gzip.decompress(one))}
    assert files["init"] == bootimage.INIT.read_bytes()
    assert files["bin/busybox"] == b"BB"
    assert files["modules/order"] == b"virtio\nvirtio_blk\n"
    assert files["modules/virtio_blk.ko"] == mods["virtio_blk"]


def test_module_closure_orders_dependencies_first_and_refuses_gaps_and_cycles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert bootimage.modinfo_depends(b"x\0license=GPL\0depends=t10-pi,virtio\0") == [
        "t10_pi",
        "virtio",
    ]
    assert bootimage.modinfo_depends(b"\0license=GPL\0") == []
    monkeypatch.setattr(bootimage, "MODULE_ROOTS", ("blk", "scsi"))
    deps = {"blk": ["ring", "core"], "ring": ["core"], "core": [], "scsi": ["core"]}
    assert bootimage.module_closure(deps) == ["core", "ring", "blk", "scsi"]
    with pytest.raises(bootimage.BuildError, match="no module ring"):
        bootimage.module_closure({"blk": ["ring"], "scsi": []})
    with pytest.raises(bootimage.BuildError, match="cycle: blk -> ring -> blk"):
        bootimage.module_closure({"blk": ["ring"], "ring": ["blk"], "scsi": []})


def test_mbr_has_the_two_partitions_the_guest_relies_on() -> None:
    if not bootimage.SYSLINUX_MBR.exists():
        from testbed import caps

        caps.missing(f"{bootimage.SYSLINUX_MBR} is missing (Debian syslinux-common)")
    sector = bootimage.mbr()
    assert sector[510:] == b"\x55\xaa"
    assert struct.unpack("<I", sector[440:444])[0] == bootimage.DISK_SIGNATURE
    parts = [struct.unpack("<B3sB3sII", sector[446 + 16 * i : 462 + 16 * i]) for i in range(4)]
    (a_flag, _, a_type, _, a_lba, a_n), (b_flag, _, b_type, _, b_lba, b_n) = parts[:2]
    assert (a_flag, a_type, a_lba * 512, a_n * 512) == (
        0x80,
        0x01,
        bootimage.BOOT_START,
        bootimage.BOOT_BYTES,
    )
    assert (b_flag, b_type, b_lba * 512) == (0, 0xDA, bootimage.MARKER_OFFSET)
    assert b_n * 512 >= bootimage.MARKER_BYTES_WRITTEN
    assert parts[2][4] == parts[3][4] == 0
    assert bootimage.MARKER_START + bootimage.MARKER_BYTES <= bootimage.DISK_BYTES


def test_marker_parsing() -> None:
    block = b"TFNIMBLE-MARKER instance=7 serial=inst-07\n".ljust(4096, b"\0")
    assert bootimage.parse_marker(block) == "TFNIMBLE-MARKER instance=7 serial=inst-07"
    assert bootimage.parse_marker(bytes(4096)) is None
    assert bootimage.parse_marker(b"garbage" + bytes(10)) is None


def test_ppm_screendump_becomes_a_valid_png() -> None:
    ppm = b"P6\n# qemu\n2 1\n255\n" + bytes([255, 0, 0, 0, 0, 255])
    png = bootvm.ppm_to_png(ppm)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks = {}
    pos = 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        pos += 12 + length
    assert struct.unpack(">II", chunks[b"IHDR"][:8]) == (2, 1)
    assert zlib.decompress(chunks[b"IDAT"]) == b"\0" + bytes([255, 0, 0, 0, 0, 255])
    with pytest.raises(ValueError, match="P6"):
        bootvm.ppm_to_png(b"P3\n1 1\n255\n0 0 0\n")


def test_qemu_command_line_names_the_initiator_and_the_serial(tmp_path: Path) -> None:
    disk = bootvm.Disk("127.0.0.1:3261", "iqn.2007-11.com.nimblestorage:t", 4, "iqn.x:vm-07")
    argv = bootvm.qemu_argv(7, disk, tmp_path / "c", "tcg")
    joined = " ".join(argv)
    assert "file.initiator-name=iqn.x:vm-07" in joined
    assert "file.portal=127.0.0.1:3261,file.target=iqn.2007-11.com.nimblestorage:t,file.lun=4" in (
        joined
    )
    assert "serial=inst-07" in joined and "-accel tcg" in joined and "-cpu host" not in joined
    assert "-qmp" not in argv
    shot = bootvm.qemu_argv(0, disk, tmp_path / "c", "kvm", tmp_path / "q")
    assert "-no-shutdown" in shot and "-cpu" in shot


def test_accel_override_and_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFNIMBLE_QEMU_ACCEL", "tcg")
    assert bootvm.accel() == ("tcg", "TFNIMBLE_QEMU_ACCEL")
    monkeypatch.delenv("TFNIMBLE_QEMU_ACCEL")
    how, why = bootvm.accel()
    assert how in ("kvm", "tcg") and why


def test_the_guide_shows_the_example_as_it_is() -> None:
    guide = (ROOT / "docs/guides/boot-20-instances.md").read_text()
    blocks = re.findall(r"```hcl\n(.*?)```", guide, re.S)
    example = ROOT / "examples/boot"
    assert blocks == [(example / f).read_text() for f in ("main.tf", "variables.tf", "outputs.tf")]


def test_built_image_layout(tmp_path: Path) -> None:
    """The cached (or freshly built) image: MBR, a FAT partition with SYSLINUX, the kernel and
    the initramfs, and an empty marker partition."""
    from testbed import caps

    caps.require_tools("mkfs.vfat", "mcopy", "mdir", "syslinux")
    try:
        image = bootimage.ensure()
    except bootimage.BuildError as exc:
        caps.missing(f"cannot build the boot image: {exc}")
        return
    data = image.path.read_bytes()
    assert len(data) == bootimage.DISK_BYTES == image.size <= 64 << 20
    assert data[:512] == bootimage.mbr()
    lo = bootimage.MARKER_OFFSET
    assert data[lo : lo + bootimage.MARKER_BYTES] == bytes(bootimage.MARKER_BYTES)
    listing = subprocess.run(
        ["mdir", "-a", "-b", "-i", f"{image.path}@@{bootimage.BOOT_START}", "::"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    names = sorted(Path(p).name.lower() for p in listing)
    assert names == ["initrd.gz", "ldlinux.c32", "ldlinux.sys", "syslinux.cfg", "vmlinuz"]
    subprocess.run(
        ["mcopy", "-i", f"{image.path}@@{bootimage.BOOT_START}", "::initrd.gz", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    files = {
        n: b for n, _, _, b in parse_cpio(gzip.decompress((tmp_path / "initrd.gz").read_bytes()))
    }
    order = files["modules/order"].decode().split()
    assert {"virtio_blk", "virtio_pci", "sd_mod"} <= set(order)
    assert all(f"modules/{m}.ko" in files for m in order)
    assert f"linux-image-{image.kernel}" in image.packages
