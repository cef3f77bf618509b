"""A real glance-api (glance 33 from PyPI under gunicorn) for the controller.

The venv is made once per machine with the system ``/usr/bin/python3 -m venv`` under
/var/cache/tfnb-testbed (readable by the ``glance`` user, unlike a Python under /root) from
requirements-glance.txt, and reused while that file is unchanged.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path

from . import caps

CACHE = Path("/var/cache/tfnb-testbed")
REQUIREMENTS = Path(__file__).resolve().parent / "requirements-glance.txt"


def glance_venv(timeout: float = 500) -> Path:
    """Path of a venv with glance + gunicorn, built if missing (skip/fail if it cannot be)."""
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    venv = CACHE / "glance-venv"
    marker = venv / ".complete"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "glance-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text().strip() == want:
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        try:
            subprocess.run(
                ["/usr/bin/python3", "-m", "venv", str(venv)],
                check=True,
                capture_output=True,
                timeout=120,
            )
            pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
            subprocess.run(
                [*pip, "-r", str(REQUIREMENTS)], check=True, capture_output=True, timeout=timeout
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            shutil.rmtree(venv, ignore_errors=True)
            caps.missing(f"cannot build the glance venv: {exc} {detail[-500:]!r}")
        marker.write_text(want + "\n")
        (venv).chmod(0o755)
        return venv


def gunicorn_command(venv: Path, bind: str) -> str:
    return (
        f"{venv}/bin/python -m gunicorn --workers 1 --timeout 120 --bind {bind} "
        "glance.wsgi.api:application"
    )


def prepare_controller(ctl, venv: Path) -> None:  # ctl: testbed.controller.Controller
    """Paste config + database schema for the real glance-api inside the controller."""
    ctl.run(["cp", f"{venv}/etc/glance/glance-api-paste.ini", "/etc/glance/"], check=True)
    ctl.run(
        ["mkdir", "-p", "/var/lib/glance/staging", "/var/lib/glance/tasks_work_dir"], check=True
    )
    ctl.run(["chown", "-R", f"{ctl.glance_user}:{ctl.glance_user}", "/var/lib/glance"], check=True)
    ctl.run(
        [
            "setpriv",
            f"--reuid={ctl.glance_user}",
            f"--regid={ctl.glance_user}",
            "--init-groups",
            "--",
            f"{venv}/bin/python",
            "-c",
            "import sys; sys.argv = ['glance-manage', 'db_sync']; "
            "from glance.cmd.manage import main; main()",
        ],
        check=True,
        timeout=120,
    )
