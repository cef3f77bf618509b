"""What a provider release is made of, as files: the zip, its `h1:` and `zh:` hashes,
SHA256SUMS, a network mirror (Terraform's provider_installation network_mirror protocol) and a
static provider registry (the provider registry protocol). Standard library only, so the
tests can recompute every hash independently of the build."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import shutil
import stat
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

NAMESPACE = "ito"
HOSTNAME = "registry.terraform.io"
PROTOCOLS = ["6.0"]
# Every entry gets the same timestamp, so the same bundle always gives the same zip (and zh:).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Package:
    """One provider zip for one platform."""

    name: str  # nimble | glance
    version: str
    platform: str  # linux_amd64
    zip_path: Path

    @property
    def os(self) -> str:
        return self.platform.split("_", 1)[0]

    @property
    def arch(self) -> str:
        return self.platform.split("_", 1)[1]

    @property
    def filename(self) -> str:
        return self.zip_path.name


def executable_name(name: str, version: str) -> str:
    return f"terraform-provider-{name}_v{version}"


def zip_name(name: str, version: str, platform: str) -> str:
    return f"terraform-provider-{name}_{version}_{platform}.zip"


def sums_name(name: str, version: str) -> str:
    return f"terraform-provider-{name}_{version}_SHA256SUMS"


def write_zip(bundle: Path, executable: str, entry: str, out: Path) -> None:
    """Zip the onedir `bundle` with its launcher `entry` renamed to `executable` at the root.
    Regular files only (symlinks are stored as the files they point to), sorted, fixed
    timestamps; modes kept (the launcher and shared objects stay executable)."""
    files: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(bundle, followlinks=False):
        dirnames.sort()
        for fn in filenames:
            path = Path(dirpath, fn)
            rel = path.relative_to(bundle).as_posix()
            files.append((executable if rel == entry else rel, path))
    if not any(rel == executable for rel, _ in files):
        raise FileNotFoundError(f"{bundle}/{entry}: the bundle has no launcher")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for rel, path in sorted(files):
            mode = stat.S_IMODE(path.stat().st_mode)
            mode = 0o755 if rel == executable or mode & 0o111 else 0o644
            info = zipfile.ZipInfo(rel, ZIP_EPOCH)
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    tmp.replace(out)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def hash1(files: Iterable[tuple[str, bytes]]) -> str:
    """Go's golang.org/x/mod/sumdb/dirhash Hash1 over (slash path, content) pairs: the SHA-256
    of the lines "<hex sha256 of the file>  <path>\\n", sorted by path, as "h1:<base64>"."""
    summary = hashlib.sha256()
    for name, digest in sorted((n, hashlib.sha256(b).hexdigest()) for n, b in files):
        if "\n" in name:
            raise ValueError(f"dirhash: file name with a newline: {name!r}")
        summary.update(f"{digest}  {name}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode()


def h1_of_zip(zip_path: Path) -> str:
    """`h1:` of a provider zip: what Terraform computes over the unpacked package."""
    with zipfile.ZipFile(zip_path) as zf:
        return hash1((i.filename, zf.read(i)) for i in zf.infolist() if not i.is_dir())


def h1_of_dir(root: Path) -> str:
    """`h1:` of an unpacked provider directory (Terraform's provider cache entry)."""
    return hash1(
        (p.relative_to(root).as_posix(), p.read_bytes()) for p in root.rglob("*") if p.is_file()
    )


def zh_of_zip(zip_path: Path) -> str:
    return "zh:" + sha256_file(zip_path)


def write_sums(packages: Sequence[Package], out: Path) -> None:
    """SHA256SUMS in the format the registry protocol expects (sha256sum's)."""
    lines = [f"{sha256_file(p.zip_path)}  {p.filename}\n" for p in packages]
    out.write_text("".join(sorted(lines, key=lambda s: s.split("  ", 1)[1])))


def _json(path: Path, doc: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _place(src: Path, dest: Path) -> None:
    """A copy of `src` at `dest` (a hard link where the file system allows)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def write_mirror(
    root: Path, packages: Sequence[Package], hostnames: Sequence[str] = (HOSTNAME,)
) -> dict[str, str]:
    """A provider network mirror under `root`: HOST/ito/NAME/index.json, VERSION.json (each
    archive with its h1: hash) and the zips beside them. Returns {filename: h1}."""
    hashes: dict[str, str] = {}
    for host in hostnames:
        by_name: dict[str, list[Package]] = {}
        for p in packages:
            by_name.setdefault(p.name, []).append(p)
        for name, pkgs in by_name.items():
            base = root / host / NAMESPACE / name
            versions = sorted({p.version for p in pkgs})
            _json(base / "index.json", {"versions": {v: {} for v in versions}})
            for v in versions:
                archives = {}
                for p in (p for p in pkgs if p.version == v):
                    h1 = hashes.setdefault(p.filename, h1_of_zip(p.zip_path))
                    _place(p.zip_path, base / p.filename)
                    archives[p.platform] = {"url": p.filename, "hashes": [h1]}
                _json(base / f"{v}.json", {"archives": archives})
    return hashes


def write_registry(
    root: Path,
    packages: Sequence[Package],
    sums: Mapping[str, Path],
    signatures: Mapping[str, Path],
    key_id: str,
    public_key: str,
) -> None:
    """A provider registry as static files under `root` (the host's document root):
    .well-known/terraform.json, v1/providers/ito/NAME/versions and one download document per
    version and platform. URLs inside are relative, so the tree can be served from any host.
    `sums` and `signatures` map a provider name to its SHA256SUMS and SHA256SUMS.sig."""
    _json(root / ".well-known" / "terraform.json", {"providers.v1": "/v1/providers/"})
    by_name: dict[str, list[Package]] = {}
    for p in packages:
        by_name.setdefault(p.name, []).append(p)
    for name, pkgs in by_name.items():
        api = root / "v1" / "providers" / NAMESPACE / name
        versions: dict[str, list[Package]] = {}
        for p in pkgs:
            versions.setdefault(p.version, []).append(p)
        _json(
            api / "versions",
            {
                "versions": [
                    {
                        "version": v,
                        "protocols": PROTOCOLS,
                        "platforms": [{"os": p.os, "arch": p.arch} for p in ps],
                    }
                    for v, ps in sorted(versions.items())
                ]
            },
        )
        for v, ps in versions.items():
            files = root / "download" / NAMESPACE / name / v
            _place(sums[name], files / sums[name].name)
            _place(signatures[name], files / signatures[name].name)
            for p in ps:
                _place(p.zip_path, files / p.filename)
                doc_path = api / v / "download" / p.os / p.arch
                rel = posixpath.relpath(files.as_posix(), doc_path.parent.as_posix())
                _json(
                    doc_path,
                    {
                        "protocols": PROTOCOLS,
                        "os": p.os,
                        "arch": p.arch,
                        "filename": p.filename,
                        "download_url": f"{rel}/{p.filename}",
                        "shasums_url": f"{rel}/{sums[name].name}",
                        "shasums_signature_url": f"{rel}/{signatures[name].name}",
                        "shasum": sha256_file(p.zip_path),
                        "signing_keys": {
                            "gpg_public_keys": [{"key_id": key_id, "ascii_armor": public_key}]
                        },
                    },
                )
