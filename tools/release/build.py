"""`make release`: self-contained provider zips, SHA256SUMS (+ GPG signature), a network
mirror and a static provider registry, all under dist/.

    python tools/release/build.py [--dist DIR] [--gpg-key KEY] [--reuse-bundle]

The providers are frozen with PyInstaller in onedir mode (docs/benchmarks.md: start-up within
a few percent of the venv launcher; one-file bundles unpack to /tmp at every start, pex brings
no interpreter). One bundle, entry tools/release/entry.py, serves both providers by the name it
is started under; each zip holds a complete copy, its launcher renamed
terraform-provider-NAME_vVERSION. PyInstaller does not cross-build: run this once per platform
(each run adds its zips to dist/; the mirror and registry index every zip of this version
found there).

Signing: --gpg-key (or RELEASE_GPG_KEY) names a secret key in the caller's GnuPG home
(GNUPGHOME is honoured); without one the zips, sums and mirror are built and the registry
layout, which needs a signature, is left out with a message saying so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import layout

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = ("nimble", "glance")
BUNDLE = "terraform-provider"

# Modules the providers never import but PyInstaller's analysis reaches through optional
# imports (protobuf -> numpy, the setuptools runtime hook, pdb/pydoc/doctest). Collecting
# them cost 40 % of start-up (pyi_rth_setuptools imports setuptools at every start) and
# 46 MB: docs/benchmarks.md has the measurements.
EXCLUDES = (
    "numpy",
    "setuptools",
    "distutils",
    "pkg_resources",
    "unittest",
    "pydoc",
    "pdb",
    "doctest",
    "tkinter",
    "lib2to3",
    "tfnimble.sim",
)


def version() -> str:
    text = (ROOT / "provider/tfnimble/__init__.py").read_text()
    m = re.search(r'__version__ = "([^"]+)"', text)
    if not m:
        raise SystemExit("provider/tfnimble/__init__.py has no __version__")
    return m.group(1)


def host_platform() -> str:
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in arch:
        raise SystemExit(f"no release build for {sys.platform}/{machine} yet (linux only)")
    return f"linux_{arch[machine]}"


def say(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def build_bundle(work: Path) -> Path:
    """PyInstaller onedir of tools/release/entry.py; returns the bundle directory."""
    argv = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--onedir",
        "--noupx",
        # Modules as plain .pyc files under _internal/ instead of one zlib-compressed PYZ
        # archive read by PyInstaller's Python-level importer: start-up 1.03x the venv's
        # instead of 1.12-1.15x, for 9 MB more on disk (docs/benchmarks.md).
        "--debug",
        "noarchive",
        "--name",
        BUNDLE,
        "--distpath",
        str(work / "bundle"),
        "--workpath",
        str(work / "pyinstaller"),
        "--specpath",
        str(work),
        "--paths",
        str(ROOT / "provider"),
        "--log-level",
        "WARN",
    ]
    # The providers import their modules by name after the handshake (serve_lazily).
    for pkg in ("tfnimble.plugin", "tfnimble.nimble", "tfnimble.glance"):
        argv += ["--collect-submodules", pkg]
    for mod in EXCLUDES:
        argv += ["--exclude-module", mod]
    argv.append(str(ROOT / "tools/release/entry.py"))
    # PYI_LOG_LEVEL also quiets the lines PyInstaller logs before it parses --log-level
    subprocess.run(argv, check=True, cwd=ROOT, env={**os.environ, "PYI_LOG_LEVEL": "WARN"})
    return work / "bundle" / BUNDLE


class Signer:
    """Detached signatures with a key from the caller's GnuPG home."""

    def __init__(self, key: str) -> None:
        self.key = key
        out = subprocess.run(
            ["gpg", "--batch", "--with-colons", "--list-secret-keys", key],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        self.key_id = next(line.split(":")[4] for line in out.splitlines() if line[:3] == "sec")
        self.public_key = subprocess.run(
            ["gpg", "--batch", "--armor", "--export", self.key_id],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def sign(self, path: Path) -> Path:
        sig = path.with_name(path.name + ".sig")
        subprocess.run(
            [
                "gpg",
                "--batch",
                "--yes",
                "--local-user",
                self.key_id,
                "--detach-sign",
                "--output",
                str(sig),
                str(path),
            ],
            check=True,
            capture_output=True,
        )
        return sig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dist", type=Path, default=ROOT / "dist")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "release")
    ap.add_argument("--gpg-key", default=os.environ.get("RELEASE_GPG_KEY", ""))
    ap.add_argument(
        "--reuse-bundle",
        action="store_true",
        help="package the bundle of the previous run instead of freezing again",
    )
    args = ap.parse_args(argv)
    ver, plat, dist = version(), host_platform(), args.dist
    started = time.monotonic()
    bundle = args.work / "bundle" / BUNDLE
    if not (args.reuse_bundle and (bundle / BUNDLE).exists()):
        say(f"freezing the providers with PyInstaller ({plat})")
        bundle = build_bundle(args.work)
    frozen = time.monotonic()
    dist.mkdir(parents=True, exist_ok=True)
    for name in PROVIDERS:
        out = dist / layout.zip_name(name, ver, plat)
        layout.write_zip(bundle, layout.executable_name(name, ver), BUNDLE, out)
        say(f"{out.relative_to(dist.parent)} ({out.stat().st_size / 2**20:.1f} MiB)")
    # Every platform's zips of this version that are in dist/ (one run per platform).
    packages = [
        layout.Package(name, ver, m.group(1), path)
        for name in PROVIDERS
        for path in sorted(dist.glob(f"terraform-provider-{name}_{ver}_*.zip"))
        if (m := re.fullmatch(rf"terraform-provider-{name}_{re.escape(ver)}_(\w+)\.zip", path.name))
    ]
    sums: dict[str, Path] = {}
    for name in PROVIDERS:
        sums[name] = dist / layout.sums_name(name, ver)
        layout.write_sums([p for p in packages if p.name == name], sums[name])
    shutil.rmtree(dist / "mirror", ignore_errors=True)
    hashes = layout.write_mirror(
        dist / "mirror", packages, hostnames=(layout.HOSTNAME, "registry.opentofu.org")
    )
    say(f"network mirror: {dist / 'mirror'}")
    shutil.rmtree(dist / "registry", ignore_errors=True)
    signed = False
    if args.gpg_key:
        signer = Signer(args.gpg_key)
        sigs = {name: signer.sign(path) for name, path in sums.items()}
        layout.write_registry(
            dist / "registry", packages, sums, sigs, signer.key_id, signer.public_key
        )
        signed = True
        say(f"signed with {signer.key_id}; provider registry: {dist / 'registry'}")
    else:
        for path in sums.values():
            path.with_name(path.name + ".sig").unlink(missing_ok=True)
        say(
            "no signing key (RELEASE_GPG_KEY / --gpg-key): SHA256SUMS left unsigned and the "
            "registry layout, which needs a signature, not written"
        )
    manifest = {
        "version": ver,
        "signed": signed,
        "packages": [
            {
                "name": p.name,
                "platform": p.platform,
                "zip": p.filename,
                "h1": hashes[p.filename],
                "zh": layout.zh_of_zip(p.zip_path),
            }
            for p in packages
        ],
        "freeze_seconds": round(frozen - started, 1),
        "total_seconds": round(time.monotonic() - started, 1),
    }
    (dist / "release.json").write_text(json.dumps(manifest, indent=2) + "\n")
    say(f"release {ver} in {manifest['total_seconds']} s (freeze {manifest['freeze_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
