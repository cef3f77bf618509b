"""Unit tests of the release layout: hashes, zips, mirror and registry documents, the bundle's
entry point. No terraform, no build (the acceptance tests check the same against terraform)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "release"))
sys.path.insert(0, str(ROOT / "tools"))

import entry  # noqa: E402
import install_plugin  # noqa: E402
import layout  # noqa: E402


def fake_bundle(root: Path) -> Path:
    bundle = root / "bundle"
    (bundle / "_internal" / "pkg").mkdir(parents=True)
    (bundle / "terraform-provider").write_bytes(b"\x7fELF launcher")
    (bundle / "terraform-provider").chmod(0o755)
    (bundle / "_internal" / "libpython.so").write_bytes(b"lib")
    (bundle / "_internal" / "libpython.so").chmod(0o755)
    (bundle / "_internal" / "pkg" / "data.txt").write_text("data")
    return bundle


def test_hash1_is_go_dirhash() -> None:
    # dirhash.Hash1 by its definition: sha256 over "<hex>  <name>\n" lines sorted by name
    files = [("b/x", b"2"), ("a", b"1")]
    lines = "".join(f"{hashlib.sha256(c).hexdigest()}  {n}\n" for n, c in sorted(files)).encode()
    want = "h1:" + base64.b64encode(hashlib.sha256(lines).digest()).decode()
    assert layout.hash1(files) == want
    assert layout.hash1(reversed(files)) == want
    assert layout.hash1([("a", b"1"), ("b/x", b"3")]) != want
    with pytest.raises(ValueError):
        layout.hash1([("a\nb", b"")])


def test_zip_has_launcher_at_root_and_same_h1_unpacked(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path)
    out = tmp_path / "p.zip"
    exe = layout.executable_name("nimble", "1.2.3")
    layout.write_zip(bundle, exe, "terraform-provider", out)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
    assert names == sorted(names)
    assert exe in names and "terraform-provider" not in names
    assert modes[exe] == 0o755 and modes["_internal/pkg/data.txt"] == 0o644
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(unpacked)
    assert layout.h1_of_dir(unpacked) == layout.h1_of_zip(out)
    # the same bundle gives the same zip, byte for byte
    again = tmp_path / "again.zip"
    layout.write_zip(bundle, exe, "terraform-provider", again)
    assert layout.zh_of_zip(again) == layout.zh_of_zip(out)


def test_zip_without_launcher_is_refused(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path)
    with pytest.raises(FileNotFoundError, match="no launcher"):
        layout.write_zip(bundle, "terraform-provider-x_v1", "missing", tmp_path / "x.zip")


def packages(tmp_path: Path) -> list[layout.Package]:
    bundle = fake_bundle(tmp_path)
    out = []
    for name in ("nimble", "glance"):
        z = tmp_path / "dist" / layout.zip_name(name, "1.2.3", "linux_amd64")
        layout.write_zip(bundle, layout.executable_name(name, "1.2.3"), "terraform-provider", z)
        out.append(layout.Package(name, "1.2.3", "linux_amd64", z))
    return out


def test_network_mirror_documents(tmp_path: Path) -> None:
    pkgs = packages(tmp_path)
    hashes = layout.write_mirror(tmp_path / "mirror", pkgs)
    base = tmp_path / "mirror/registry.terraform.io/ito/nimble"
    assert json.loads((base / "index.json").read_text()) == {"versions": {"1.2.3": {}}}
    doc = json.loads((base / "1.2.3.json").read_text())
    archive = doc["archives"]["linux_amd64"]
    assert archive["hashes"] == [layout.h1_of_zip(pkgs[0].zip_path)]
    assert (base / archive["url"]).read_bytes() == pkgs[0].zip_path.read_bytes()
    assert hashes[pkgs[0].filename] == archive["hashes"][0]


def test_registry_documents_resolve_to_the_files(tmp_path: Path) -> None:
    pkgs = packages(tmp_path)
    root = tmp_path / "registry"
    sums, sigs = {}, {}
    for p in pkgs:
        sums[p.name] = tmp_path / "dist" / layout.sums_name(p.name, "1.2.3")
        layout.write_sums([p], sums[p.name])
        sigs[p.name] = sums[p.name].with_name(sums[p.name].name + ".sig")
        sigs[p.name].write_bytes(b"sig")
    layout.write_registry(root, pkgs, sums, sigs, "ABCDEF0123456789", "-----BEGIN PGP-----")
    assert json.loads((root / ".well-known/terraform.json").read_text()) == {
        "providers.v1": "/v1/providers/"
    }
    versions = json.loads((root / "v1/providers/ito/glance/versions").read_text())
    assert versions["versions"][0]["platforms"] == [{"os": "linux", "arch": "amd64"}]
    doc_path = root / "v1/providers/ito/glance/1.2.3/download/linux/amd64"
    doc = json.loads(doc_path.read_text())
    zip_file = Path(os.path.normpath(doc_path.parent / doc["download_url"]))
    assert zip_file.read_bytes() == pkgs[1].zip_path.read_bytes()
    sums_file = Path(os.path.normpath(doc_path.parent / doc["shasums_url"]))
    assert f"{doc['shasum']}  {pkgs[1].filename}\n" == sums_file.read_text()
    assert Path(os.path.normpath(doc_path.parent / doc["shasums_signature_url"])).exists()
    assert doc["signing_keys"]["gpg_public_keys"][0]["key_id"] == "ABCDEF0123456789"


def test_entry_dispatches_on_the_executable_name() -> None:
    assert entry.provider_name("/x/terraform-provider-nimble_v0.1.0") == "nimble"
    assert entry.provider_name("terraform-provider-glance") == "glance"
    assert entry.provider_name("/x/python3") == ""


def test_bundle_hands_children_the_original_library_path() -> None:
    env = {"LD_LIBRARY_PATH": "/b/_internal", "LD_LIBRARY_PATH_ORIG": "/opt/lib"}
    entry.restore_library_path(env)
    assert env == {"LD_LIBRARY_PATH": "/opt/lib"}
    env = {"LD_LIBRARY_PATH": "/b/_internal"}
    entry.restore_library_path(env)
    assert env == {}


def test_install_from_release_unpacks_with_the_same_h1(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path)
    ver, plat = install_plugin.version(), install_plugin.os_arch()
    dist = tmp_path / "dist"
    for name in ("nimble", "glance"):
        layout.write_zip(
            bundle,
            layout.executable_name(name, ver),
            "terraform-provider",
            dist / layout.zip_name(name, ver, plat),
        )
    plugins = tmp_path / "plugins"
    stale = plugins / "registry.terraform.io/ito/nimble" / ver / plat / "stale-launcher"
    stale.parent.mkdir(parents=True)
    stale.write_text("#!/bin/sh\n")
    installed = install_plugin.install_release(plugins, dist, ver)
    assert len(installed) == 4
    for exe in installed:
        assert os.access(exe, os.X_OK)
        name = exe.parent.parent.parent.name
        assert layout.h1_of_dir(exe.parent) == layout.h1_of_zip(
            dist / layout.zip_name(name, ver, plat)
        )
    assert not stale.exists()
    assert {p.parts[-6] for p in installed} == {"registry.terraform.io", "registry.opentofu.org"}
