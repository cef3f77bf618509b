"""End to end on the test bed: the real glance-api stores an uploaded image on an iSCSI volume
of the data plane (the proof that the Glance store moved)."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import pytest

pytestmark = [pytest.mark.dataplane, pytest.mark.slow]

MiB = 1 << 20


def test_real_glance_stores_image_on_iscsi_volume(controller_real_glance, dataplane) -> None:
    c, dp = controller_real_glance, dataplane
    dp.add_portal(f"{c.array_ip}:{dp.portal_port}")
    portal = f"{c.array_ip}:{dp.portal_port}"
    iqn = "iqn.2007-11.com.nimblestorage:glance-e2e"
    dp.create_volume("store", 128 * MiB)
    dp.export("store", iqn)
    dp.set_acl(iqn, [c.initiator_iqn])

    assert c.iscsiadm("-m", "discovery", "-t", "st", "-p", portal).returncode == 0
    assert c.iscsiadm("-m", "node", "-T", iqn, "-p", portal, "-l").returncode == 0
    dev = f"/dev/disk/by-path/ip-{portal}-iscsi-{iqn}-lun-1"
    c.run(["mkfs.ext4", "-q", "-b", "4096", dev], check=True, timeout=120)
    mnt = "/var/lib/glance/iscsi-images"
    c.run(["mkdir", "-p", mnt], check=True)
    c.run(["mount", dev, mnt], check=True)
    c.run(["chown", "glance:glance", mnt], check=True)
    c.run(["chmod", "0750", mnt], check=True)
    conf = c.read_file("/etc/glance/glance-api.conf")
    c.write_file(
        "/etc/glance/glance-api.conf",
        conf.replace(
            "filesystem_store_datadir = /var/lib/glance/images/",
            f"filesystem_store_datadir = {mnt}/",
        ),
    )

    r = c.run(["/usr/bin/systemctl", "restart", "glance-api"], timeout=90)
    assert r.returncode == 0, r.stderr + c.read_file("/var/log/glance-api.log")[-3000:]
    base = f"http://{c.ip}:{c.glance_port}"
    req = urllib.request.Request(
        f"{base}/v2/images",
        method="POST",
        data=json.dumps({"name": "e2e", "disk_format": "raw", "container_format": "bare"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        image = json.loads(resp.read())
    data = os.urandom(2 * MiB)
    req = urllib.request.Request(
        f"{base}/v2/images/{image['id']}/file",
        method="PUT",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 204
    with urllib.request.urlopen(f"{base}/v2/images/{image['id']}", timeout=30) as resp:
        assert json.loads(resp.read())["status"] == "active"

    assert c.run(["/usr/bin/systemctl", "stop", "glance-api"]).returncode == 0
    c.run(["umount", mnt], check=True)
    assert c.iscsiadm("-m", "node", "-T", iqn, "-p", portal, "-u").returncode == 0
    dump = subprocess.run(
        ["debugfs", "-R", f"cat /{image['id']}", str(dp.path_of("store"))],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    assert dump == data
