"""Running the data plane's command-line tools, and the one error the data plane raises."""

from __future__ import annotations

import re
import subprocess

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
