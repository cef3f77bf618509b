"""Install the providers into a filesystem-mirror plugin directory.

    python tools/install_plugin.py --from-release DIST [--plugin-dir DIR]
    python tools/install_plugin.py [--plugin-dir DIR] [--python PY] [--extra NAME=SCRIPT ...]

--from-release (what `make install` does) unpacks the packaged providers that `make release`
left in DIST, exactly as Terraform unpacks them, for registry.terraform.io and
registry.opentofu.org: a developer's lock file then holds the same h1: hash as a runner's that
installs from the network mirror or the registry.

Without it, each provider is a two-line shell script that execs this checkout's Python on
the provider's entry point: what the acceptance suite uses (it starts in the time of the
venv, with no build). Both land where `terraform init` finds them with no network:
DIR/HOST/ito/NAME/VERSION/OS_ARCH/terraform-provider-NAME_vVERSION
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import shutil
import stat
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def version() -> str:
    text = (ROOT / "provider/tfnimble/__init__.py").read_text()
    m = re.search(r'__version__ = "([^"]+)"', text)
    assert m
    return m.group(1)


def os_arch() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[machine]
    return f"{sys.platform.replace('linux', 'linux')}_{arch}"


def write_launcher(plugin_dir: Path, name: str, python: str, target: list[str], ver: str) -> Path:
    dest = plugin_dir / "registry.terraform.io" / "ito" / name / ver / os_arch()
    dest.mkdir(parents=True, exist_ok=True)
    exe = dest / f"terraform-provider-{name}_v{ver}"
    # -E -s: ignore PYTHON* variables and the user site, so the launcher is hermetic.
    body = "#!/bin/sh\nexec " + " ".join(shlex.quote(a) for a in [python, "-E", "-s", *target])
    exe.write_text(body + ' "$@"\n')
    exe.chmod(0o755)
    return exe


HOSTS = ("registry.terraform.io", "registry.opentofu.org")


def install_release(plugin_dir: Path, dist: Path, ver: str) -> list[Path]:
    """Unpack dist/terraform-provider-NAME_VER_OS_ARCH.zip for this platform into each host's
    tree, replacing whatever was there (an old launcher would change the directory's h1:)."""
    installed = []
    for name in ("nimble", "glance"):
        archive = dist / f"terraform-provider-{name}_{ver}_{os_arch()}.zip"
        if not archive.exists():
            raise SystemExit(f"{archive} is missing: run `make release` first")
        for host in HOSTS:
            dest = plugin_dir / host / "ito" / name / ver / os_arch()
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    path = Path(zf.extract(info, dest))
                    mode = stat.S_IMODE(info.external_attr >> 16)
                    if not info.is_dir() and mode:
                        path.chmod(mode)
            installed.append(dest / f"terraform-provider-{name}_v{ver}")
    return installed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--plugin-dir",
        default=os.path.expanduser("~/.terraform.d/plugins"),
        help="filesystem mirror root (default: ~/.terraform.d/plugins, Terraform's implied mirror)",
    )
    ap.add_argument("--python", default=str(ROOT / ".venv/bin/python"))
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=SCRIPT")
    ap.add_argument("--from-release", type=Path, metavar="DIST")
    args = ap.parse_args(argv)
    ver = version()
    plugin_dir = Path(args.plugin_dir)
    if args.from_release is not None:
        for exe in install_release(plugin_dir, args.from_release, ver):
            print(exe)
        return 0
    for name in ("nimble", "glance"):
        exe = write_launcher(plugin_dir, name, args.python, ["-m", f"tfnimble.{name}.main"], ver)
        print(exe)
    for extra in args.extra:
        name, script = extra.split("=", 1)
        print(write_launcher(plugin_dir, name, args.python, [script], ver))
    return 0


if __name__ == "__main__":
    sys.exit(main())
