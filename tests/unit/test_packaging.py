"""Release hygiene: one version, and a wheel that ships the package and nothing else."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tfnimble

ROOT = Path(__file__).resolve().parents[2]


def test_version_is_defined_once() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", tfnimble.__version__)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert tfnimble.__version__ in (ROOT / "CHANGELOG.md").read_text()


@pytest.mark.slow
def test_wheel_contains_no_tests(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("tfnimble/plugin/") for n in names)
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n or "conftest" in n]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in ("terraform-provider-nimble", "terraform-provider-glance", "nimble-sim"):
        assert script in text
