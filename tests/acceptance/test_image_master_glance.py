"""nimble_image_master from the real glance-api of the test bed, whose store is a volume on the
array (examples/resources/glance_iscsi_store applied as written): an image uploaded into Glance
lands on the array; examples/image-master-from-glance writes the master from Glance, verified
against Glance's checksums, and clones it; the clone holds exactly the uploaded bytes.

The faults are refused with a diagnostic on the attribute they concern before anything is
created: a missing image, an image still being uploaded, an unreachable endpoint and a URL
that is not glance-api's at plan,
an image whose stored data no longer matches Glance's checksum at apply (its file is damaged
on the store, which glance-api serves without checking).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from harness import Case, Harness, State, Step
from test_ito_e2e import read_every_clone

# The controller-and-array fixture and the store's own helpers, shared with the store's tests.
from test_resource_iscsi_store import EXAMPLE as STORE_EXAMPLE
from test_resource_iscsi_store import controller_and_array, upload_image  # noqa: F401

pytestmark = [pytest.mark.dataplane, pytest.mark.slow]

#: Applied beside the store example, whose terraform block declares the nimble provider too
#: (so the example's versions.tf is left out).
EXAMPLE = Path(__file__).resolve().parents[2] / "examples/image-master-from-glance"
MASTER = "nimble_image_master.image"
DATADIR = "/var/lib/glance/images"  # where the store example mounts the array's volume
TOKEN = "gAAAAAB-acc-" + "glance-t0ken"
MISSING = "00000000-0000-4000-8000-000000000000"
MiB = 1 << 20


def hcl(*dirs: Path, skip: str = "") -> str:
    return "\n".join(p.read_text() for d in dirs for p in sorted(d.glob("*.tf")) if p.name != skip)


def master(label: str, image_id: str, endpoint: str = "var.glance_endpoint") -> str:
    return f"""
resource "nimble_image_master" "{label}" {{
  name            = "${{var.name_prefix}}-{label}"
  glance_image_id = "{image_id}"
  glance_endpoint = {endpoint}
}}
"""


def refused(summary: str, label: str, attribute: str) -> str:
    """A diagnostic as terraform prints it (flattened): on the resource and its attribute."""
    return (
        rf"{summary} with nimble_image_master\.{label}, on \S+ line \d+, in resource "
        rf'"nimble_image_master" "{label}": \d+: {attribute} ='
    )


def queue_image(base: str) -> str:
    """An image record whose data was never uploaded: Glance says `queued`."""
    body = json.dumps({"name": "q", "disk_format": "raw", "container_format": "bare"})
    req = urllib.request.Request(
        f"{base}/v2/images", body.encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:  # a POST: it has a body
        return str(json.load(resp)["id"])


def test_acc_image_master_from_real_glance(tf: Harness, controller_and_array, tmp_path) -> None:  # noqa: F811
    c, s = controller_and_array
    base = f"http://{c.ip}:{c.glance_port}"
    data = os.urandom(4 * MiB)  # a raw disk image
    bad_data = os.urandom(2 * MiB)
    images: dict[str, str] = {}
    before = s.inventory()
    prefix = s.unique("gl")
    env = {
        **s.env(),
        **c.provider_env(),
        "TF_VAR_glance_endpoint": base,
        "TF_VAR_name_prefix": prefix,
        "TF_VAR_clone_count": "1",
        "TF_VAR_glance_token": TOKEN,  # through the write-only glance_token_wo
        "TF_LOG_PROVIDER": "DEBUG",
    }
    c.run(["/usr/bin/systemctl", "start", "glance-api"], timeout=90)
    store = hcl(STORE_EXAMPLE)
    after_store: dict[str, dict[str, set[str]]] = {}

    def images_land_on_the_array(state: State) -> None:
        device = state.attrs("glance_iscsi_store.store")["device"]
        mounted = c.run(["findmnt", "-n", "-o", "SOURCE", DATADIR]).stdout.strip()
        assert mounted == c.run(["readlink", "-e", device]).stdout.strip() != ""
        images["good"] = upload_image(c, data)
        images["bad"] = upload_image(c, bad_data)
        images["queued"] = queue_image(base)
        for key in ("good", "bad"):
            assert c.run(["test", "-f", f"{DATADIR}/{images[key]}"]).returncode == 0
        # Damage the stored copy of "bad" behind Glance's back: same size, other bytes.
        c.run(
            ["dd", f"of={DATADIR}/{images['bad']}", "bs=4096", "count=1", "conv=notrunc"],
            input="x" * 4096,
            check=True,
        )
        after_store["inventory"] = s.inventory()

    def master_and_clone_hold_the_image(state: State) -> None:
        from tfnimble.nimble.client import snapshots

        # The damaged image created nothing; the good one a master, its snapshot, a clone.
        volumes = s.inventory()["volumes"] - after_store["inventory"]["volumes"]
        assert volumes == {f"{prefix}-master", f"{prefix}-vm-0-boot"}, volumes
        attrs = state.attrs(MASTER)
        # The token came in through glance_token_wo: write-only, it is in no file Terraform
        # keeps (state, its backup), only in the variable's environment.
        assert attrs["glance_token_wo"] is None
        assert tf.workdir is not None
        for kept in tf.workdir.rglob("*"):
            if kept.is_file() and ".terraform" not in kept.parts:
                assert TOKEN.encode() not in kept.read_bytes(), kept
        digest = hashlib.sha256(data).hexdigest()
        assert attrs["glance_image_id"] == images["good"] and attrs["source"] is None
        assert attrs["image_sha256"] == digest == state.outputs["image_sha256"]
        assert (attrs["image_format"], attrs["image_virtual_size"]) == ("raw", len(data))
        snap = snapshots.get_snapshot(s.client, attrs["snapshot_id"])
        assert f"source=glance:{images['good']}@{base}" in snap.description
        clone = state.attrs("nimble_clone_volume.boot[0]")
        assert clone["snapshot_id"] == attrs["snapshot_id"]
        read_every_clone(s, [clone["id"]], SimpleNamespace(raw_sha256=digest), tmp_path, {})

    def everything_back() -> None:
        s.back_to(before)()
        assert c.run(["find", DATADIR, "-type", "f"]).stdout == ""

    def drop_images(state: State) -> None:
        # The store refuses to be destroyed while Glance holds images: delete them in Glance.
        for image_id in images.values():
            req = urllib.request.Request(f"{base}/v2/images/{image_id}", method="DELETE")
            with urllib.request.urlopen(req, timeout=30) as resp:
                assert resp.status == 204

    faults_at_plan = Step(
        expect_error=(
            rf"(?=.*{refused('Glance Image Not Found', 'missing', 'glance_image_id')})"
            rf"(?=.*{refused('Glance Image Not Active', 'queued', 'glance_image_id')}"
            r".*upload has not finished)"
            rf"(?=.*{refused('Glance Unreachable', 'unreachable', 'glance_endpoint')})"
            rf"(?=.*{refused('Not A Glance Endpoint', 'wrong', 'glance_endpoint')})"
        ),
    )
    damaged_at_apply = Step(
        expect_error=(
            refused("Glance Image Checksum Mismatch", "damaged", "glance_image_id")
            + r".*Nothing was written to the array"
        ),
    )
    good = Step(checks=[master_and_clone_hold_the_image, drop_images])

    def with_image_ids() -> None:
        env["TF_VAR_image_id"] = images["good"]  # the case's env: destroy needs it too
        faults_at_plan.config = store + "\n".join(
            [
                'variable "glance_endpoint" {}\nvariable "name_prefix" {}\n',
                master("missing", MISSING),
                master("queued", images["queued"]),
                master("unreachable", images["good"], '"http://127.0.0.1:9"'),
                master("wrong", images["good"], f'"{base}/image"'),  # not glance-api's root
            ]
        )
        damaged_at_apply.config = (
            store + hcl(EXAMPLE, skip="versions.tf") + master("damaged", images["bad"])
        )
        good.config = store + hcl(EXAMPLE, skip="versions.tf")

    def nothing_created() -> None:
        assert s.inventory() == after_store["inventory"]

    faults_at_plan.preconfig = with_image_ids
    damaged_at_apply.preconfig = nothing_created
    tf.run(
        Case(
            env=env,
            steps=[
                Step(config=store, checks=[images_land_on_the_array]),
                faults_at_plan,
                damaged_at_apply,
                good,
                Step(
                    import_state=True,
                    resource_name=MASTER,
                    import_state_verify=True,
                    import_state_verify_ignore=["timeouts", "initiator_name", "portal"],
                ),
            ],
            check_destroy=everything_back,
        )
    )
    # The token reached no output and no provider log line.
    for result in tf.log:
        assert TOKEN not in result.output, result.argv
