"""The controller test bed: sshd with host-key checking, the iscsiadm look-alike against a real
data plane (discovery, login -> block device -> ext4 -> bytes in the volume file), the systemctl
look-alike and the glance-api stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest

pytestmark = pytest.mark.dataplane

MiB = 1 << 20


def test_sshd_with_host_key_checking(controller, record_property) -> None:
    c = controller
    client = c.ssh_client()
    try:
        transport = client.get_transport()
        t0 = time.monotonic()
        for _ in range(3):
            _, out, _err = client.exec_command("id -u")
            assert out.read().decode().strip() == "0"
            assert out.channel.recv_exit_status() == 0
        # a figure, not a verdict: what must hold is that the commands share one connection
        record_property("ssh_3_commands_seconds", time.monotonic() - t0)
        assert client.get_transport() is transport and transport.is_active()
        _, out, _ = client.exec_command("cat /etc/iscsi/initiatorname.iscsi")
        assert f"InitiatorName={c.initiator_iqn}" in out.read().decode()
    finally:
        client.close()
    # the OpenSSH client with strict host-key checking works too
    r = subprocess.run([*c.ssh_argv(), "hostname"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == c.name
    # a wrong host key is refused
    import paramiko

    bad = c.workdir / "bad_known_hosts"
    key = paramiko.Ed25519Key.from_private_key_file(str(c.key_path))
    bad.write_text(f"{c.ip} ssh-ed25519 {key.get_base64()}\n")
    cl = paramiko.SSHClient()
    cl.load_host_keys(str(bad))
    cl.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.BadHostKeyException):
        cl.connect(
            c.ip,
            username="root",
            key_filename=str(c.key_path),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
    cl.close()


def test_host_is_untouched(controller) -> None:
    c = controller
    c.write_file("/etc/fstab", c.fstab_text() + "# written by a test\n")
    assert "# written by a test" in c.fstab_text()
    assert "# written by a test" in c.fstab_path_outside.read_text()
    if os.path.exists("/etc/fstab"):
        with open("/etc/fstab") as f:
            assert "# written by a test" not in f.read()
    c.run(["mkdir", "-p", "/dev/disk/by-path/testbed-probe"], check=True)
    assert not os.path.exists("/dev/disk/by-path/testbed-probe")
    assert c.run(["test", "-d", "/dev/disk/by-path/testbed-probe"]).returncode == 0


def test_iscsi_login_mkfs_mount_write_logout(controller_dataplane, record_property) -> None:
    c, dp = controller_dataplane
    iqn = "iqn.2007-11.com.nimblestorage:glance-store-v1a2b3c.00000001.deadbeef"
    portal = f"{c.array_ip}:{dp.portal_port}"
    dp.create_volume("glance", 256 * MiB)
    dp.export("glance", iqn, serial="1a2b3c")

    # no ACL yet: the array hides the target from this initiator
    r = c.iscsiadm("-m", "discovery", "-t", "sendtargets", "-p", portal)
    assert r.returncode == 21 and r.stderr == "iscsiadm: No portals found\n"

    dp.set_acl(iqn, [c.initiator_iqn])
    r = c.iscsiadm("-m", "discovery", "-t", "st", "-p", portal)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{portal},1 {iqn}\n"
    rec = c.read_file(f"/etc/iscsi/nodes/{iqn}/{c.array_ip},{dp.portal_port},1/default")
    assert rec.startswith("# BEGIN RECORD 2.1.8\n") and "node.startup = manual\n" in rec
    assert c.iscsiadm("-m", "node").stdout == f"{portal},1 {iqn}\n"

    r = c.iscsiadm("-m", "session")
    assert (r.returncode, r.stderr) == (21, "iscsiadm: No active sessions.\n")

    tag = f"[iface: default, target: {iqn}, portal: {c.array_ip},{dp.portal_port}]"
    t0 = time.monotonic()
    r = c.iscsiadm("-m", "node", "-T", iqn, "-p", portal, "--login")
    record_property("login_seconds", time.monotonic() - t0)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"Logging in to {tag}\nLogin to {tag} successful.\n"
    assert dp.connections(iqn) == 1
    assert dp.sessions(iqn)[0][0] == c.initiator_iqn

    r = c.iscsiadm("-m", "node", "-T", iqn, "-p", portal, "--login")
    assert r.returncode == 15
    assert r.stderr == (
        "iscsiadm: default: 1 session requested, but 1 already present.\n"
        "iscsiadm: Could not log into all portals\n"
    )
    r = c.iscsiadm("-m", "session")
    assert r.stdout == f"tcp: [1] {portal},1 {iqn} (non-flash)\n"
    p3 = c.iscsiadm("-m", "session", "-P", "3").stdout
    assert "\t\t\tAttached scsi disk loop" in p3

    link = f"/dev/disk/by-path/ip-{portal}-iscsi-{iqn}-lun-1"
    dev = c.run(["readlink", "-f", link], check=True).stdout.strip()
    assert dev.startswith("/dev/loop")
    assert c.run(["blockdev", "--getsize64", dev], check=True).stdout.strip() == str(256 * MiB)
    # a fresh LUN has no filesystem: blkid says so with rc 2
    assert c.run(["blkid", "-p", dev]).returncode == 2
    c.run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-L", "glance", dev], check=True, timeout=120)
    uuid = c.run(["blkid", "-o", "value", "-s", "UUID", dev], check=True).stdout.strip()
    assert len(uuid) == 36
    c.run(["mkdir", "-p", "/var/lib/glance/iscsi-images"], check=True)
    c.write_file(
        "/etc/fstab",
        c.fstab_text()
        + f"UUID={uuid} /var/lib/glance/iscsi-images ext4 _netdev,nofail,noatime 0 0\n",
    )
    c.run(["mount", "/var/lib/glance/iscsi-images"], check=True)
    findmnt = c.run(["findmnt", "-n", "-o", "UUID", "/var/lib/glance/iscsi-images"], check=True)
    assert findmnt.stdout.strip() == uuid

    payload = os.urandom(8 * MiB)
    t0 = time.monotonic()
    c.run(
        ["sh", "-c", "cat > /var/lib/glance/iscsi-images/image.raw && sync"],
        input=payload.hex(),
        check=True,
        timeout=120,
    )
    wt = time.monotonic() - t0
    record_property("write_16MiB_hex_seconds", wt)
    c.run(["umount", "/var/lib/glance/iscsi-images"], check=True)
    # the host never saw the mount
    assert not os.path.ismount("/var/lib/glance/iscsi-images")

    r = c.iscsiadm("-m", "node", "-T", iqn, "-p", portal, "--logout")
    assert r.returncode == 0, r.stderr
    stag = f"[sid: 1, target: {iqn}, portal: {c.array_ip},{dp.portal_port}]"
    assert r.stdout == f"Logging out of session {stag}\nLogout of {stag} successful.\n"
    assert c.run(["test", "-e", link]).returncode != 0
    r = c.iscsiadm("-m", "node", "-T", iqn, "-p", portal, "--logout")
    assert (r.returncode, r.stderr) == (21, "iscsiadm: No matching sessions found\n")
    for _ in range(100):
        if dp.connections(iqn) == 0:
            break
        time.sleep(0.05)
    assert dp.connections(iqn) == 0

    # the bytes landed in the array's volume file: its ext4 holds our file
    vol = str(dp.path_of("glance"))
    assert (
        subprocess.run(
            ["blkid", "-o", "value", "-s", "UUID", vol], capture_output=True, text=True
        ).stdout.strip()
        == uuid
    )
    dump = subprocess.run(
        ["debugfs", "-R", "cat /image.raw", vol], capture_output=True, timeout=60, check=True
    ).stdout
    assert dump == payload.hex().encode()

    # reboot persistence setting and record removal
    r = c.iscsiadm(
        "-m",
        "node",
        "-T",
        iqn,
        "-p",
        portal,
        "-o",
        "update",
        "-n",
        "node.startup",
        "-v",
        "automatic",
    )
    assert r.returncode == 0
    assert "node.startup = automatic" in c.iscsiadm("-m", "node", "-T", iqn, "-p", portal).stdout
    r = c.iscsiadm("-m", "node", "--loginall=automatic")
    assert r.returncode == 0 and "successful" in r.stdout
    assert c.iscsiadm("-m", "session").returncode == 0
    r = c.iscsiadm("-m", "node", "-T", iqn, "-p", portal, "-o", "delete")
    assert r.returncode == 0
    assert c.iscsiadm("-m", "session").returncode == 21
    r = c.iscsiadm("-m", "node")
    assert (r.returncode, r.stderr) == (21, "iscsiadm: No records found\n")


def test_login_refused_without_acl(controller_dataplane) -> None:
    c, dp = controller_dataplane
    iqn = "iqn.2007-11.com.nimblestorage:noacl"
    portal = f"{c.array_ip}:{dp.portal_port}"
    dp.create_volume("noacl", 16 * MiB)
    dp.export("noacl", iqn)
    dp.set_acl(iqn, [c.initiator_iqn])
    assert c.iscsiadm("-m", "discovery", "-t", "st", "-p", portal).returncode == 0
    dp.set_acl(iqn, ["iqn.1993-08.org.debian:01:someoneelse"])
    r = c.iscsiadm("-m", "node", "-T", iqn, "-p", portal, "-l")
    tag = f"[iface: default, target: {iqn}, portal: {c.array_ip},{dp.portal_port}]"
    assert r.returncode == 19
    assert r.stdout == f"Logging in to {tag}\n"
    assert r.stderr == (
        f"iscsiadm: Could not login to {tag}.\n"
        "iscsiadm: initiator reported error (19 - encountered non-retryable "
        "iSCSI login failure)\n"
        "iscsiadm: Could not log into all portals\n"
    )
    assert c.iscsiadm("-m", "session").returncode == 21
    # unreachable portal: rc 4 and the real failure lines
    r = c.iscsiadm("-m", "discovery", "-t", "st", "-p", f"{c.array_ip}:1")
    assert r.returncode == 4
    assert r.stderr.endswith(
        "iscsiadm: connection login retries (reopen_max) 5 exceeded\n"
        "iscsiadm: Could not perform SendTargets discovery: encountered "
        "connection failure\n"
    )


def test_group_target_login_attaches_a_disk_per_lun_named_by_lun_and_serial(
    controller_dataplane,
) -> None:
    """A group target with two volumes: login gives two disks, each with the by-path link of
    its LUN (as the target numbers it) and the by-id link udev makes from its serial; a LUN
    added later appears on rescan; each disk is its own volume."""
    from tfnimble.glance.controller.identity import BY_ID

    c, dp = controller_dataplane
    iqn = "iqn.2007-11.com.nimblestorage:grp-g0123456789abcdef"
    portal = f"{c.array_ip}:{dp.portal_port}"
    serials = {"va": "5f" * 16, "vb": "6e" * 16, "vc": "7d" * 16}
    for vol in serials:
        dp.create_volume(vol, 16 * MiB)
        with open(dp.path_of(vol), "r+b") as f:
            f.write(vol.encode() * 8)
    dp.export_volumes(iqn, {2: "va", 5: "vb"}, {v: serials[v] for v in ("va", "vb")})
    dp.set_acl(iqn, [c.initiator_iqn])
    assert c.iscsiadm("-m", "discovery", "-t", "st", "-p", portal).returncode == 0
    r = c.iscsiadm("-m", "node", "-T", iqn, "-p", portal, "--login")
    ls = c.run(["iscsi-ls", "-s", "-i", c.initiator_iqn, f"iscsi://{portal}"])
    assert r.returncode == 0, (
        c.run(["cat", "/run/iscsi-lookalike/last_login_error.log"]).stdout + ls.stdout + ls.stderr
    )

    def disk(lun: int, vol: str) -> str:
        link = f"/dev/disk/by-path/ip-{portal}-iscsi-{iqn}-lun-{lun}"
        dev = c.run(["readlink", "-e", link], check=True).stdout.strip()
        assert dev.startswith("/dev/loop"), link
        by_id = c.run(["readlink", "-e", f"{BY_ID}/scsi-2{serials[vol]}"], check=True)
        assert by_id.stdout.strip() == dev  # the volume's serial names this LUN's disk
        head = c.run(["head", "-c", "16", dev], check=True).stdout
        assert head == (vol * 8)[:16]  # and it is that volume's bytes
        return dev

    devs = {disk(2, "va"), disk(5, "vb")}
    assert len(devs) == 2
    p3 = c.iscsiadm("-m", "session", "-P", "3").stdout
    assert "Lun: 2\n" in p3 and "Lun: 5\n" in p3 and p3.count("Attached scsi disk loop") == 2
    # a LUN added to the target while logged in appears on rescan, named by its LUN and serial
    dp.export_volumes(iqn, {2: "va", 5: "vb", 7: "vc"}, serials)
    assert c.run(["test", "-e", f"{BY_ID}/scsi-2{serials['vc']}"]).returncode != 0
    r = c.iscsiadm("-m", "session", "-r", "1", "--rescan")
    assert r.returncode == 0, r.stderr
    assert disk(7, "vc") not in devs
    assert c.iscsiadm("-m", "node", "-T", iqn, "-p", portal, "--logout").returncode == 0
    assert c.run(["ls", BY_ID], check=True).stdout == ""
    assert c.run(["ls", "/dev/disk/by-path"], check=True).stdout == ""


def test_glance_service_lookalike(controller) -> None:
    c = controller
    sc = ["/usr/bin/systemctl"]
    assert c.run([*sc, "is-active", "glance-api"]).stdout == "inactive\n"
    assert c.run([*sc, "show", "-p", "User", "--value", "glance-api"]).stdout == "glance\n"
    assert "glance-api.service" in c.run([*sc, "list-unit-files", "glance*"]).stdout
    assert c.run([*sc, "cat", "glance-api"]).stdout.startswith(
        "# /etc/systemd/system/glance-api.service\n"
    )
    r = c.run([*sc, "restart", "glance-api"], timeout=60)
    assert r.returncode == 0, r.stderr
    assert c.run([*sc, "is-active", "glance-api"]).returncode == 0
    pid = c.run([*sc, "show", "-p", "MainPID", "--value", "glance-api"]).stdout.strip()
    assert c.run(["ps", "-o", "user=", "-p", pid]).stdout.strip() == "glance"
    # reachable from the test (the "operator") side
    base = f"http://{c.ip}:{c.glance_port}"
    with urllib.request.urlopen(f"{base}/healthcheck", timeout=5) as resp:
        assert resp.status == 200
    # legacy layout: no multi-store info
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(f"{base}/v2/info/stores/detail", timeout=5)
    assert ei.value.code == 404
    # upload an image: the bytes land in the datadir, owned by glance
    req = urllib.request.Request(
        f"{base}/v2/images",
        method="POST",
        data=json.dumps({"name": "cirros"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        img = json.loads(resp.read())
    data = os.urandom(MiB)
    req = urllib.request.Request(
        f"{base}/v2/images/{img['id']}/file",
        method="PUT",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 204
    path = f"/var/lib/glance/images/{img['id']}"
    assert c.run(["stat", "-c", "%U %s", path]).stdout.strip() == f"glance {MiB}"
    # switch to multi-store, restart: the new data_dir shows
    conf = c.read_file("/etc/glance/glance-api.conf")
    c.write_file(
        "/etc/glance/glance-api.conf",
        conf.replace("[DEFAULT]\n", "[DEFAULT]\nenabled_backends = fs:file\n").replace(
            "[glance_store]\n", "[glance_store]\ndefault_backend = fs\n"
        )
        + "\n[fs]\nfilesystem_store_datadir = /var/lib/glance/other/\n",
    )
    assert c.run([*sc, "restart", "glance-api"], timeout=60).returncode == 0
    with urllib.request.urlopen(f"{base}/v2/info/stores/detail", timeout=5) as resp:
        stores = json.loads(resp.read())["stores"]
    assert stores[0]["properties"]["data_dir"] == "/var/lib/glance/other/"
    assert (
        c.run(["su", "-s", "/bin/sh", "glance", "-c", "test -w /var/lib/glance/other"]).returncode
        == 0
    )
    assert c.run([*sc, "stop", "glance-api"]).returncode == 0
    assert c.run([*sc, "is-active", "glance-api"]).returncode == 3


@pytest.fixture
def host_loop_mount(tmp_path):
    """A loop-mounted ext4 image under /tmp on the host, made before the controller starts
    (what a simulator's pool on another xdist worker looks like)."""
    image, mnt = tmp_path / "other.img", tmp_path / "other"
    with open(image, "wb") as f:
        f.truncate(16 * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, timeout=60)
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True, timeout=60)
    try:
        yield image, mnt
    finally:
        if os.path.ismount(mnt):
            subprocess.run(["umount", str(mnt)], check=False, timeout=60)


def test_controller_does_not_pin_host_loop_mounts(host_loop_mount, controller) -> None:
    image, mnt = host_loop_mount
    r = controller.run(["findmnt", "-rn", "-o", "TARGET"], timeout=10)
    assert str(mnt) not in r.stdout.split()
    # so unmounting on the host really releases the loop device (autoclear), as a killed
    # simulator's restart needs while a controller runs on another worker
    subprocess.run(["umount", str(mnt)], check=True, timeout=60)
    attached = subprocess.run(
        ["losetup", "-j", str(image)], capture_output=True, text=True, timeout=30
    ).stdout
    for _ in range(100):
        if not attached.strip():
            break
        time.sleep(0.1)
        attached = subprocess.run(
            ["losetup", "-j", str(image)], capture_output=True, text=True, timeout=30
        ).stdout
    assert attached.strip() == "", attached
