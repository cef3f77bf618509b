"""Acceptance fixtures: a private plugin mirror, a CLI config per session, and `tf`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Harness  # noqa: E402
from nimble_fixtures import *  # noqa: E402, F403


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.acceptance)


def _require_acc() -> None:
    if os.environ.get("TF_ACC") in (None, "", "0"):
        pytest.skip("acceptance tests run with TF_ACC=1 (make testacc / make test)")
    if shutil.which("terraform") is None:
        from testbed import caps

        caps.missing("terraform is not on PATH; install Terraform 1.11 (README: prerequisites)")


@pytest.fixture(scope="session")
def tf_plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A filesystem mirror with our providers (+ the test 'example' provider) and a CLI config."""
    _require_acc()
    base = tmp_path_factory.mktemp("tfplugins")
    mirror = base / "plugins"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools/install_plugin.py"),
            "--plugin-dir",
            str(mirror),
            "--python",
            sys.executable,
            "--extra",
            f"example={ROOT / 'tests/testprovider/main.py'}",
        ],
        check=True,
        capture_output=True,
    )
    rc = base / "terraformrc"
    rc.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/ito/*"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/ito/*"]\n  }\n}\n'
    )
    return {
        "TF_CLI_CONFIG_FILE": str(rc),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }


@pytest.fixture
def tf(tf_plugin_env: dict[str, str], tmp_path: Path) -> Iterator[Harness]:
    yield Harness(tf_plugin_env, tmp_path)


# The controller test bed (network namespace + sshd + iscsiadm look-alike) and the
# array data plane (reflink pool + tgtd), shared with tests/dataplane.
sys.path.insert(0, str(ROOT / "tests"))
from testbed.fixtures import *  # noqa: E402, F403
