"""Running the data plane's command-line tools, and the one error the data plane raises."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")


class DataPlaneError(RuntimeError):
    """A data-plane operation failed; the message names the object and the tool's own text."""


def check_id(obj_id: str) -> str:
    if not isinstance(obj_id, str) or not _ID_RE.match(obj_id) or ".." in obj_id:
        raise DataPlaneError(f"invalid object id {obj_id!r}")
    return obj_id


def run(
    argv: list[str], timeout: float = 60.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DataPlaneError(f"{argv[0]} timed out after {timeout:.0f}s: {' '.join(argv)}") from exc
    except FileNotFoundError as exc:
        raise DataPlaneError(f"{argv[0]} is not installed") from exc
    if check and proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip()
        raise DataPlaneError(f"{' '.join(argv)} failed (rc {proc.returncode}): {msg}")
    return proc


def proc_start_time(pid: int) -> int | None:
    """When process ``pid`` started (field 22 of /proc/PID/stat, clock ticks after boot), or
    None when there is no such live process. A (pid, start time) pair names one process for
    good: a recycled pid comes with another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and ')': the fields after it follow the last ')'
    rest = stat.rsplit(")", 1)[-1].split()
    if len(rest) < 20 or rest[0] in ("Z", "X"):  # a zombie has exited already
        return None
    return int(rest[19])


def wait_gone(pid: int, start: int, timeout: float) -> bool:
    """Wait (bounded) until the process (pid, start) has exited; True if it has."""
    deadline = time.monotonic() + timeout
    while proc_start_time(pid) == start:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def write_record(path: Path, text: str) -> None:
    """Replace a small state file atomically: a kill -9 leaves the old record or the new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
