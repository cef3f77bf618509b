"""fstab.py: pure text transforms, golden files in data/."""

from __future__ import annotations

from pathlib import Path

import pytest
from tfnimble.glance import fstab

DATA = Path(__file__).parent / "data"
UUID = "3f6b8e2c-1d4a-4c1e-9b7a-5e2f0c9d8a71"
MP = "/var/lib/glance/iscsi-images"
OPTS = "_netdev,nofail,noatime"


def golden(name: str) -> str:
    return (DATA / name).read_text()


def test_add_line_golden_debian() -> None:
    assert fstab.add_line(golden("fstab.debian"), UUID, MP, "ext4", OPTS) == golden(
        "fstab.debian.expected"
    )


def test_add_line_idempotent() -> None:
    once = fstab.add_line(golden("fstab.debian"), UUID, MP, "ext4", OPTS)
    assert fstab.add_line(once, UUID, MP, "ext4", OPTS) == once
    assert once.count(f"UUID={UUID}") == 1


def test_remove_line_restores_original_bytes() -> None:
    original = golden("fstab.debian")
    added = fstab.add_line(original, UUID, MP, "ext4", OPTS)
    assert fstab.remove_line(added, UUID) == original
    assert fstab.remove_line(original, UUID) == original


def test_add_line_updates_same_uuid_in_place() -> None:
    text = f"# keep\nUUID={UUID}\t/old\text4\tdefaults\t0\t0\n/dev/sr0 /media/cdrom0 udf user 0 0\n"
    out = fstab.add_line(text, UUID, MP, "ext4", OPTS)
    assert out == f"# keep\nUUID={UUID} {MP} ext4 {OPTS} 0 0\n/dev/sr0 /media/cdrom0 udf user 0 0\n"


def test_add_line_replaces_our_line_for_same_mount_point() -> None:
    text = f"UUID=aaaa-bbbb {MP} ext4 {OPTS} 0 0\n"
    assert fstab.add_line(text, UUID, MP, "ext4", OPTS) == f"UUID={UUID} {MP} ext4 {OPTS} 0 0\n"


def test_add_line_conflict_with_foreign_line_for_mount_point() -> None:
    text = f"/dev/sdb1 {MP}/ ext4 defaults 0 0\n"
    with pytest.raises(fstab.FstabConflict, match="line 1 already mounts"):
        fstab.add_line(text, UUID, MP, "ext4", OPTS)


def test_add_line_collapses_duplicate_uuid_lines() -> None:
    text = f"UUID={UUID} {MP} ext4 {OPTS} 0 0\n# c\nUUID={UUID.upper()} /x ext4 defaults 0 0\n"
    assert (
        fstab.add_line(text, UUID, MP, "ext4", OPTS) == f"UUID={UUID} {MP} ext4 {OPTS} 0 0\n# c\n"
    )


def test_add_line_without_trailing_newline_and_empty_text() -> None:
    assert fstab.add_line("/dev/sr0 /media x y 0 0", UUID, MP, "ext4", OPTS) == (
        f"/dev/sr0 /media x y 0 0\nUUID={UUID} {MP} ext4 {OPTS} 0 0\n"
    )
    assert fstab.add_line("", UUID, MP, "ext4", OPTS) == f"UUID={UUID} {MP} ext4 {OPTS} 0 0\n"


def test_replace_keeps_missing_trailing_newline() -> None:
    text = f"UUID={UUID} /old ext4 defaults 0 0"
    assert fstab.add_line(text, UUID, MP, "ext4", OPTS) == f"UUID={UUID} {MP} ext4 {OPTS} 0 0"


def test_crlf_line_endings_kept() -> None:
    text = "# a\r\n/dev/sr0 /m udf user 0 0\r\n"
    out = fstab.add_line(text, UUID, MP, "ext4", OPTS)
    assert out == text + f"UUID={UUID} {MP} ext4 {OPTS} 0 0\r\n"


def test_octal_escapes_in_mount_points() -> None:
    text = golden("fstab.debian")
    entry = fstab.find_line(text, mount_point="/srv/backup disk")
    assert entry is not None and entry.spec == "LABEL=backup disk" and entry.line_no == 16
    with pytest.raises(fstab.FstabConflict):
        fstab.add_line(text, UUID, "/srv/backup disk", "xfs", "defaults")
    out = fstab.add_line("", UUID, "/mnt/glance store", "ext4", OPTS)
    assert out == f"UUID={UUID} /mnt/glance\\040store ext4 {OPTS} 0 0\n"
    assert fstab.find_line(out, uuid=UUID, mount_point="/mnt/glance store") is not None


def test_find_line_by_uuid_mount_point_and_quotes() -> None:
    text = f'UUID="{UUID.upper()}" {MP} ext4 {OPTS} 0 0\n'
    entry = fstab.find_line(text, uuid=UUID)
    assert entry is not None and entry.uuid == UUID and entry.options == OPTS
    assert fstab.find_line(text, uuid=UUID, mount_point="/elsewhere") is None
    assert fstab.find_line(text, mount_point=MP + "/") == entry
    assert fstab.remove_line(text, UUID) == ""
    with pytest.raises(ValueError):
        fstab.find_line(text)


def test_comments_and_commented_uuid_lines_untouched() -> None:
    text = f"#UUID={UUID} {MP} ext4 {OPTS} 0 0\n   \n"
    assert fstab.remove_line(text, UUID) == text
    assert fstab.find_line(text, uuid=UUID) is None


def test_format_line_rejects_whitespace() -> None:
    with pytest.raises(ValueError):
        fstab.format_line(UUID, MP, "ext4", "a b")
    with pytest.raises(ValueError):
        fstab.format_line("x y", MP, "ext4", OPTS)
