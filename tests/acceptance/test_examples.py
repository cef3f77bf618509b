"""Every nimble example under examples/ is a real configuration: fmt-clean and applyable.

Each directory is applied against nimble-sim as it is (the provider block is empty; the
NIMBLE_* environment points at the simulator), planned again (must be empty), destroyed, and
the array must then hold exactly what it held before. Examples with an image master run
against the data-plane sim, with a real disk image placed where they expect it
(images/ubuntu-24.04.qcow2 in the working directory).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from harness import TERRAFORM, Case, Harness, Step
from nimble_fixtures import Sim

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def nimble_example_dirs() -> list[Path]:
    dirs = sorted({p.parent for p in EXAMPLES.rglob("*.tf")})
    out = []
    for d in dirs:
        text = "".join(p.read_text() for p in sorted(d.glob("*.tf")))
        # Examples that need the glance provider or a Glance image (an OpenStack controller)
        # are applied by the glance tests; examples/boot is applied, and booted, by
        # test_boot_instances.py.
        glance = re.search(r'"ito/glance"|^\s*glance_image_id\s*=', text, re.M)
        if 'source = "ito/nimble"' in text and not glance and d.name != "boot":
            out.append(d)
    return out


def test_examples_are_terraform_fmt_clean(tf_plugin_env: dict[str, str]) -> None:
    res = subprocess.run(
        [TERRAFORM, "fmt", "-check", "-recursive", "-diff", str(EXAMPLES)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **tf_plugin_env},
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_resource_and_data_source_has_an_example() -> None:
    from tfnimble.nimble.provider import NimbleProvider

    provider = NimbleProvider()
    for r in provider.resources():
        folder = EXAMPLES / "resources" / f"nimble_{r.TYPE_NAME}"
        assert (folder / "resource.tf").is_file(), folder
        assert f"nimble_{r.TYPE_NAME}." in (folder / "import.sh").read_text()
    for d in provider.data_sources():
        assert (EXAMPLES / "data-sources" / f"nimble_{d.TYPE_NAME}" / "data-source.tf").is_file()


#: Where the examples expect their image, relative to the directory terraform runs in.
EXAMPLE_IMAGE = Path("images/ubuntu-24.04.qcow2")


@pytest.mark.parametrize(
    "example", nimble_example_dirs(), ids=lambda d: str(d.relative_to(EXAMPLES))
)
def test_acc_example_applies(tf: Harness, request: pytest.FixtureRequest, example: Path) -> None:
    config = "\n".join(p.read_text() for p in sorted(example.glob("*.tf")))
    preconfig = None
    if "nimble_image_master" in config:
        sim: Sim = request.getfixturevalue("sim_dp")
        image = request.getfixturevalue("disk_image")
        env = {**sim.env(), "TF_VAR_clone_count": "3", "TF_VAR_name_prefix": sim.unique("ex")}

        def preconfig() -> None:
            assert tf.workdir is not None
            (tf.workdir / EXAMPLE_IMAGE).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(image.qcow2, tf.workdir / EXAMPLE_IMAGE)

    else:
        sim = request.getfixturevalue("sim")
        env = {**sim.env(), "TF_VAR_chap_secret": "Example-chap-1"}  # nimble_chap_user's
    before = sim.inventory()
    tf.run(
        Case(
            env=env,
            steps=[Step(config=config, preconfig=preconfig)],
            check_destroy=sim.back_to(before),
        )
    )
