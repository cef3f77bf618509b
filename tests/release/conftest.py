"""Release tier: the packaged providers as a CI runner gets them (tools/release/).

Gated like the acceptance tests (TF_ACC=1, real terraform); under CI=true a missing tool is a
failure (testbed.caps.missing)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [
    str(HERE),
    str(ROOT / "tests"),
    str(ROOT / "tests/acceptance"),
    str(ROOT / "tools/release"),
]

import releasekit  # noqa: E402
from nimble_fixtures import sim  # noqa: E402, F401  (one nimble-sim per test module)
from testbed import caps  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if HERE in path.parents and path.name != "test_layout.py":
            item.add_marker(pytest.mark.acceptance)


def require_release_tools(*extra: str) -> None:
    if os.environ.get("TF_ACC") in (None, "", "0"):
        pytest.skip("release tests run with TF_ACC=1 (make testacc / make test)")
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        caps.missing("PyInstaller is not installed: pip install -e '.[release]' (make venv)")
    caps.require_tools("terraform", "gpg", "gpgconf", *extra)


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> releasekit.Release:
    """`make release`'s build, signed with a throwaway key, once per session: under
    pytest-xdist, one worker builds and the others reuse it (the workers' base temporary
    directories share a parent made for this session)."""
    require_release_tools()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return releasekit.shared_release(tmp_path_factory.getbasetemp().parent)
    return releasekit.build_release(tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="session")
def server(
    release: releasekit.Release, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[releasekit.Server]:
    ip = releasekit.loopback_ip()
    ca = releasekit.make_ca(tmp_path_factory.mktemp("ca"), ip, ("localhost",))
    srv = releasekit.serve_https(release.dist, ip, ca)
    try:
        yield srv
    finally:
        srv.stop()


def pg_tools() -> dict[str, str]:
    """initdb/pg_ctl/postgres from PATH or Debian's versioned directory."""
    found: dict[str, str] = {}
    dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for tool in ("initdb", "pg_ctl", "postgres", "psql"):
        path = shutil.which(tool) or next(
            (str(d / tool) for d in dirs if (d / tool).exists()), None
        )
        if path is None:
            caps.missing(f"PostgreSQL's {tool} is not installed (apt-get install postgresql)")
            raise AssertionError("unreachable")
        found[tool] = path
    return found
