"""Write Terraform provider launchers into a filesystem-mirror plugin directory.

    python tools/install_plugin.py [--plugin-dir DIR] [--python PY] [--extra NAME=SCRIPT ...]

Each launcher is a two-line shell script that execs this checkout's Python on the
provider's entry point, placed where `terraform init` finds it with no network:
DIR/registry.terraform.io/ito/NAME/VERSION/OS_ARCH/terraform-provider-NAME_vVERSION
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sys
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--plugin-dir",
        default=os.path.expanduser("~/.terraform.d/plugins"),
        help="filesystem mirror root (default: ~/.terraform.d/plugins, Terraform's implied mirror)",
    )
    ap.add_argument("--python", default=str(ROOT / ".venv/bin/python"))
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=SCRIPT")
    args = ap.parse_args(argv)
    ver = version()
    plugin_dir = Path(args.plugin_dir)
    for name in ("nimble", "glance"):
        exe = write_launcher(plugin_dir, name, args.python, ["-m", f"tfnimble.{name}.main"], ver)
        print(exe)
    for extra in args.extra:
        name, script = extra.split("=", 1)
        print(write_launcher(plugin_dir, name, args.python, [script], ver))
    return 0


if __name__ == "__main__":
    sys.exit(main())
