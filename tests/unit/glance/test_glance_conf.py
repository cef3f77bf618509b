"""glance_conf.py: layout detection and in-place datadir edits, golden files in data/."""

from __future__ import annotations

from pathlib import Path

import pytest
from tfnimble.glance import glance_conf
from tfnimble.glance.glance_conf import LEGACY, MULTI_STORE, GlanceConfError

DATA = Path(__file__).parent / "data"
NEW = "/var/lib/glance/iscsi-images"

GOLDEN = [
    # name, layout, section, previous value
    ("ubuntu-legacy", LEGACY, "glance_store", None),
    ("install-guide-legacy", LEGACY, "glance_store", "/var/lib/glance/images/"),
    ("devstack-multistore", MULTI_STORE, "fast", "/opt/stack/data/glance/images/"),
    ("install-guide-multistore-nokey", MULTI_STORE, "fs", None),
]


def read(name: str) -> str:
    return (DATA / name).read_text()


@pytest.mark.parametrize(("name", "layout", "section", "previous"), GOLDEN)
def test_set_datadir_golden(name: str, layout: str, section: str, previous: str | None) -> None:
    text = read(f"{name}.conf")
    assert glance_conf.get_datadir(text) == (layout, section, previous)
    new, prev, got_layout, got_section = glance_conf.set_datadir(text, NEW)
    assert (prev, got_layout, got_section) == (previous, layout, section)
    assert new == read(f"{name}.expected.conf")
    assert glance_conf.get_datadir(new).value == NEW


@pytest.mark.parametrize(("name", "layout", "section", "previous"), GOLDEN)
def test_set_datadir_idempotent_and_restore_round_trip(
    name: str, layout: str, section: str, previous: str | None
) -> None:
    text = read(f"{name}.conf")
    new, prev, *_ = glance_conf.set_datadir(text, NEW)
    again, prev2, *_ = glance_conf.set_datadir(new, NEW + "/")
    assert again is new and prev2 == NEW
    assert glance_conf.restore_datadir(new, prev) == text
    assert glance_conf.restore_datadir(text, prev) == text


def test_multistore_other_backend_and_reserved() -> None:
    text = read("devstack-multistore.conf")
    new, prev, layout, section = glance_conf.set_datadir(text, NEW, backend="cheap")
    assert (prev, layout, section) == ("/opt/stack/data/glance/cheap_images/", MULTI_STORE, "cheap")
    assert glance_conf.get_datadir(new, "fast").value == "/opt/stack/data/glance/images/"
    with pytest.raises(GlanceConfError, match="reserved"):
        glance_conf.set_datadir(text, NEW, backend="os_glance_staging_store")
    with pytest.raises(GlanceConfError, match="not in \\[DEFAULT\\] enabled_backends"):
        glance_conf.set_datadir(text, NEW, backend="nope")


def test_multistore_non_file_backend_rejected() -> None:
    text = (
        "[DEFAULT]\nenabled_backends = fs:file, web:http\n[glance_store]\ndefault_backend = web\n"
    )
    with pytest.raises(GlanceConfError, match="not a 'file' store"):
        glance_conf.get_datadir(text)


def test_multistore_without_default_uses_only_file_backend() -> None:
    text = "[DEFAULT]\nenabled_backends = web:http,fs:file\n"
    new, prev, layout, section = glance_conf.set_datadir(text, NEW)
    assert (prev, layout, section) == (None, MULTI_STORE, "fs")
    assert new == text + f"\n[fs]\nfilesystem_store_datadir = {NEW}\n"
    assert glance_conf.restore_datadir(new, None) == text + "\n[fs]\n"
    two = "[DEFAULT]\nenabled_backends = a:file,b:file\n"
    with pytest.raises(GlanceConfError, match="default_backend"):
        glance_conf.get_datadir(two)


def test_backend_given_for_legacy_layout_is_an_error() -> None:
    with pytest.raises(GlanceConfError, match="single-store"):
        glance_conf.get_datadir(read("ubuntu-legacy.conf"), backend="fs")


def test_legacy_missing_section_is_appended() -> None:
    text = "[DEFAULT]\ndebug = true"
    new, prev, layout, section = glance_conf.set_datadir(text, NEW)
    assert new == f"[DEFAULT]\ndebug = true\n\n[glance_store]\nfilesystem_store_datadir = {NEW}\n"
    assert (prev, layout, section) == (None, LEGACY, "glance_store")


def test_commented_enabled_backends_is_legacy() -> None:
    # ubuntu-legacy carries "#enabled_backends = <None>": a comment, so still legacy.
    assert glance_conf.get_datadir(read("ubuntu-legacy.conf")).layout == LEGACY


def test_last_occurrence_wins_and_is_the_one_edited() -> None:
    text = (
        "[glance_store]\nfilesystem_store_datadir = /a\n[other]\nx = 1\n"
        "[GLANCE_STORE]\nfilesystem-store-datadir: /b   \n"
    )
    assert glance_conf.get_datadir(text).value == "/b"
    new, prev, *_ = glance_conf.set_datadir(text, NEW)
    assert prev == "/b"
    assert new == text.replace(
        "filesystem-store-datadir: /b   \n", f"filesystem-store-datadir: {NEW}\n"
    )


def test_continuation_lines_and_quotes() -> None:
    text = '[glance_store]\nfilesystem_store_datadir = "/q"\nstores = file,\n  http\n'
    assert glance_conf.get_datadir(text).value == "/q"
    new, *_ = glance_conf.set_datadir(text, NEW)
    assert new == f"[glance_store]\nfilesystem_store_datadir = {NEW}\nstores = file,\n  http\n"


def test_crlf_preserved() -> None:
    text = "[DEFAULT]\r\n[glance_store]\r\nstores = file\r\n"
    new, *_ = glance_conf.set_datadir(text, NEW)
    assert (
        new
        == f"[DEFAULT]\r\n[glance_store]\r\nstores = file\r\nfilesystem_store_datadir = {NEW}\r\n"
    )


def test_invalid_value_rejected() -> None:
    with pytest.raises(GlanceConfError):
        glance_conf.set_datadir("", "/a\nb")
