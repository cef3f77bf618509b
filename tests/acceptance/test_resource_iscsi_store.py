"""glance_iscsi_store with real terraform, over SSH, against a controller host with a real
glance-api, on an iSCSI volume served by the data plane (tgtd, reflink pool)."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
from harness import Case, Harness, State, Step

pytestmark = [pytest.mark.dataplane, pytest.mark.slow]

MiB = 1 << 20
IQN = "iqn.2007-11.com.nimblestorage:glance-store-acc"
MNT = "/var/lib/glance/iscsi-images"
ORIGINAL_DATADIR = "/var/lib/glance/images/"


def store_config(c, portal: str, extra: str = "") -> str:
    return f"""
terraform {{
  required_providers {{
    glance = {{ source = "ito/glance" }}
  }}
}}

provider "glance" {{
  host             = "{c.ip}"
  user             = "root"
  private_key_file = "{c.key_path}"
  known_hosts_file = "{c.known_hosts_path}"
}}

resource "glance_iscsi_store" "store" {{
  portal      = "{portal}"
  target_iqn  = "{IQN}"
  mount_point = "{MNT}"
  {extra}
}}
"""


def upload_image(c, data: bytes) -> str:
    base = f"http://{c.ip}:{c.glance_port}"
    req = urllib.request.Request(
        f"{base}/v2/images",
        method="POST",
        data=json.dumps({"name": "acc", "disk_format": "raw", "container_format": "bare"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        image = json.loads(resp.read())
    req = urllib.request.Request(
        f"{base}/v2/images/{image['id']}/file",
        method="PUT",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 204
    return str(image["id"])


def datadir(c) -> str:
    conf = c.read_file("/etc/glance/glance-api.conf")
    return re.findall(r"^filesystem_store_datadir\s*=\s*(\S+)", conf, re.M)[0]


def test_acc_iscsi_store_lifecycle(
    tf: Harness, dataplane, controller_real_glance, tmp_path: Path
) -> None:
    # dataplane first: fixtures tear down in reverse, and the controller must unmount and
    # log out while the target still answers.
    c, dp = controller_real_glance, dataplane
    portal = f"{c.array_ip}:{dp.portal_port}"
    dp.add_portal(portal)
    dp.create_volume("glance-store", 256 * MiB)
    dp.export("glance-store", IQN)
    dp.set_acl(IQN, [c.initiator_iqn])
    c.run(["/usr/bin/systemctl", "start", "glance-api"], timeout=90)
    fstab_before = c.fstab_text()
    image = {"data": b"", "id": ""}

    def in_place(state: State) -> None:
        attrs = state.attrs("glance_iscsi_store.store")
        assert attrs["drift"] == []
        assert attrs["config_layout"] == "legacy"
        assert attrs["previous_datadir"].rstrip("/") == ORIGINAL_DATADIR.rstrip("/")
        uuid = attrs["fs_uuid"]
        assert uuid and c.fstab_text().count(f"UUID={uuid}") == 1
        assert f"UUID={uuid}" in c.fstab_text() and "_netdev" in c.fstab_text()
        assert datadir(c).rstrip("/") == MNT
        mounts = c.run(["findmnt", "-n", "-o", "SOURCE,TARGET", MNT]).stdout
        assert MNT in mounts, mounts
        assert c.run(["/usr/bin/systemctl", "is-active", "glance-api"]).stdout.strip() == "active"

    def glance_writes_to_the_volume(state: State) -> None:
        image["data"] = bytes(range(256)) * 4096  # 1 MiB
        image["id"] = upload_image(c, image["data"])
        assert c.run(["test", "-f", f"{MNT}/{image['id']}"]).returncode == 0

    def unmount_behind_terraforms_back() -> None:
        c.run(["/usr/bin/systemctl", "stop", "glance-api"], timeout=60)
        c.run(["umount", MNT], check=True)
        c.run(["/usr/bin/systemctl", "start", "glance-api"], timeout=90)

    def destroy_refused_while_images_exist(state: State) -> None:
        res = tf.terraform("destroy", "-auto-approve", "-no-color", check=False)
        assert res.returncode != 0
        flat = " ".join(res.output.replace("│", " ").split())
        assert "still holds 1 image file(s)" in flat, flat[-2000:]
        assert MNT in c.run(["findmnt", "-n", "-o", "TARGET", MNT]).stdout

    def controller_restored_and_data_kept() -> None:
        assert c.fstab_text() == fstab_before
        assert datadir(c) == ORIGINAL_DATADIR
        assert c.run(["findmnt", "-n", MNT]).returncode != 0
        assert c.iscsiadm("-m", "session").returncode == 21
        dump = subprocess.run(
            ["debugfs", "-R", f"cat /{image['id']}", str(dp.path_of("glance-store"))],
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout
        assert dump == image["data"], "the image must stay on the volume after destroy"

    tf.run(
        Case(
            steps=[
                Step(
                    config=store_config(c, portal),
                    checks=[in_place, glance_writes_to_the_volume],
                ),
                Step(
                    config=store_config(c, portal),
                    preconfig=unmount_behind_terraforms_back,
                    plan_only=True,
                    expect_non_empty_plan=True,
                ),
                Step(config=store_config(c, portal), checks=[in_place]),
                Step(
                    import_state=True,
                    resource_name="glance_iscsi_store.store",
                    import_state_id=f"{portal},{IQN},{MNT}",
                    import_state_verify=True,
                    import_state_verify_ignore=["timeouts"],
                ),
                Step(config=store_config(c, portal), checks=[destroy_refused_while_images_exist]),
                Step(config=store_config(c, portal, extra="force_destroy = true")),
            ],
            check_destroy=controller_restored_and_data_kept,
        )
    )


EXAMPLE = Path(__file__).resolve().parents[2] / "examples/resources/glance_iscsi_store"


@pytest.fixture
def controller_and_array(controller_real_glance, tmp_path_factory):
    """A controller host and a data-plane nimble-sim whose iSCSI portal the controller reaches
    (the host side of its veth). The controller is detached before the array stops."""
    from nimble_fixtures import array_for_controller

    with array_for_controller(controller_real_glance, tmp_path_factory) as s:
        yield controller_real_glance, s


def test_acc_example_glance_store_on_the_array(tf: Harness, controller_and_array) -> None:
    """examples/provider/glance and examples/resources/glance_iscsi_store as written: a
    nimble volume, an initiator group and access record for the controller, discovery, and
    the store on top of them."""
    c, s = controller_and_array
    before = s.inventory()
    # the example mounts the store at the datadir itself: it must start empty
    assert c.run(["find", "/var/lib/glance/images", "-type", "f"]).stdout == ""
    env = {
        **s.env(),
        **c.provider_env(),
    }
    conf_before = c.read_file("/etc/glance/glance-api.conf")
    c.run(["/usr/bin/systemctl", "start", "glance-api"], timeout=90)

    def store_is_on_the_array(state: State) -> None:
        attrs = state.attrs("glance_iscsi_store.store")
        assert attrs["drift"] == [] and attrs["portal"] == s.portal
        vol = state.attrs("nimble_volume.glance")
        assert attrs["target_iqn"] == vol["target_name"]
        # the disk of the access record's LUN, confirmed to be this volume by its serial
        assert attrs["lun"] == state.attrs("nimble_access_control_record.glance")["lun"]
        assert attrs["volume_serial"] == vol["serial_number"]
        by_id = c.run(["readlink", "-e", f"/dev/disk/by-id/scsi-2{vol['serial_number']}"])
        assert by_id.stdout.strip() == attrs["device"]
        image_id = upload_image(c, b"x" * MiB)
        assert c.run(["test", "-f", f"/var/lib/glance/images/{image_id}"]).returncode == 0
        c.run(["rm", "-f", f"/var/lib/glance/images/{image_id}"], check=True)

    def everything_back() -> None:
        s.back_to(before)()
        assert c.read_file("/etc/glance/glance-api.conf") == conf_before
        assert c.iscsiadm("-m", "session").returncode == 21

    config = "\n".join(p.read_text() for p in sorted(EXAMPLE.glob("*.tf")))
    provider_only = (EXAMPLE.parents[1] / "provider/glance/provider.tf").read_text()
    tf.run(
        Case(
            env=env,
            steps=[
                Step(config=provider_only),  # examples/provider/glance applies as written
                Step(config=config, checks=[store_is_on_the_array]),
            ],
            check_destroy=everything_back,
        )
    )
