"""The controller package: real output formats and every exit status (texts as open-iscsi
2.1.x, util-linux and systemd print them)."""

from __future__ import annotations

import pytest
from tfnimble.glance import controller as ctl
from tfnimble.glance.controller import Portal
from tfnimble.glance.transport import CommandError, FakeTransport
from tfnimble.glance.transport.fake import UnexpectedCommand

IQN = "iqn.2024-01.com.example.array:glance-store-01"
P = Portal("10.200.2.2", 3260)

LOGIN_TAG = f"[iface: default, target: {IQN}, portal: 10.200.2.2,3260]"
SESSION_P3 = f"""iSCSI Transport Class version 2.0-870
version 2.1.8
Target: {IQN} (non-flash)
\tCurrent Portal: 10.200.2.2:3260,1
\tPersistent Portal: 10.200.2.2:3260,1
\t\t**********
\t\tInterface:
\t\t**********
\t\tIface Name: default
\t\tIface Transport: tcp
\t\tSID: 1
\t\tiSCSI Connection State: LOGGED IN
\t\tiSCSI Session State: LOGGED_IN
\t\tInternal iscsid Session State: NO CHANGE
\t\t************************
\t\tAttached SCSI devices:
\t\t************************
\t\tHost Number: 2\tState: running
\t\tscsi2 Channel 00 Id 0 Lun: 0
\t\tscsi2 Channel 00 Id 0 Lun: 1
\t\t\tAttached scsi disk sdc\t\tState: running
Target: iqn.2010-10.org.openstack:volume-2 (non-flash)
\tCurrent Portal: [fd00::2]:3260,1
\tPersistent Portal: [fd00::2]:3260,1
\t\tSID: 4
\t\tiSCSI Session State: LOGGED_IN
\t\tscsi5 Channel 00 Id 0 Lun: 0
\t\t\tAttached scsi disk sdf\t\tState: running
"""


# -- portals and discovery -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port", "shown"),
    [
        ("10.200.2.2", "10.200.2.2", 3260, "10.200.2.2:3260"),
        ("10.200.2.2:3261", "10.200.2.2", 3261, "10.200.2.2:3261"),
        ("[fd00::2]:3260", "fd00::2", 3260, "[fd00::2]:3260"),
        ("fd00::2", "fd00::2", 3260, "[fd00::2]:3260"),
        ("array.example", "array.example", 3260, "array.example:3260"),
    ],
)
def test_parse_portal(text: str, host: str, port: int, shown: str) -> None:
    p = ctl.parse_portal(text)
    assert (p.host, p.port, str(p)) == (host, port, shown)


def test_parse_discovery_real_lines() -> None:
    out = (
        f"10.200.2.2:3260,1 {IQN}\n"
        "[fd00::2]:3260,1 iqn.2010-10.org.openstack:volume-2\n"
        "iscsiadm: some warning\n"
        "garbage line with three fields\n"
    )
    assert ctl.parse_discovery(out) == [
        ctl.Target(P, 1, IQN),
        ctl.Target(Portal("fd00::2", 3260), 1, "iqn.2010-10.org.openstack:volume-2"),
    ]


def test_iscsi_discover_ok_and_argv() -> None:
    t = FakeTransport().on(r"iscsiadm -m discovery .*", f"10.200.2.2:3260,1 {IQN}\n")
    assert ctl.iscsi_discover(t, "10.200.2.2") == [ctl.Target(P, 1, IQN)]
    assert t.calls[0].argv == (
        "iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", "10.200.2.2:3260"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("rc", "stderr", "message"),
    [
        (21, "iscsiadm: No portals found\n", "found no targets"),
        (
            4,
            "iscsiadm: cannot make connection to 10.200.2.2: Connection refused\n"
            "iscsiadm: connection login retries (reopen_max) 5 exceeded\n"
            "iscsiadm: Could not perform SendTargets discovery: encountered connection failure\n",
            "cannot connect to the iSCSI portal 10.200.2.2:3260",
        ),
        (
            12,
            "iscsiadm: iSCSI driver tcp is not loaded. Load the module then retry the command.\n"
            "iscsiadm: Could not perform SendTargets discovery: iSCSI driver not found\n",
            "modprobe iscsi_tcp",
        ),
        (127, "sh: 1: iscsiadm: not found\n", "install open-iscsi"),
        (6, "iscsiadm: something else\n", "status 6: iscsiadm: something else"),
    ],
)
def test_iscsi_discover_errors(rc: int, stderr: str, message: str) -> None:
    t = FakeTransport().on(r"iscsiadm .*", (rc, "", stderr))
    with pytest.raises(ctl.DiscoveryError, match=message) as exc:
        ctl.iscsi_discover(t, "10.200.2.2")
    assert exc.value.returncode == rc and exc.value.summary == "iSCSI Discovery Failed"


# -- login and node records ----------------------------------------------------------------


def test_login_success_and_already_logged_in() -> None:
    t = FakeTransport().on(
        r"iscsiadm -m node .* --login",
        (0, f"Logging in to {LOGIN_TAG}\nLogin to {LOGIN_TAG} successful.\n", ""),
        times=1,
    )
    assert ctl.iscsi_login(t, IQN, P) is True
    assert t.calls[0].argv == ("iscsiadm", "-m", "node", "-T", IQN, "-p", str(P), "--login")
    t.on(
        r"iscsiadm -m node .* --login",
        (
            15,
            "",
            "iscsiadm: default: 1 session requested, but 1 already present.\n"
            "iscsiadm: Could not log into all portals\n",
        ),
    )
    assert ctl.iscsi_login(t, IQN, "10.200.2.2") is False


@pytest.mark.parametrize(
    ("rc", "message"),
    [
        (19, "target not found, or this initiator is not allowed by the array's access control"),
        (24, "authentication or authorization failure"),
        (8, "connection timed out"),
        (20, "could not connect to iscsid.*systemctl start iscsid"),
        (21, "no iSCSI node record .* run discovery"),
        (99, "failed with status 99"),
    ],
)
def test_login_errors(rc: int, message: str) -> None:
    stderr = (
        f"iscsiadm: Could not login to {LOGIN_TAG}.\n"
        f"iscsiadm: initiator reported error ({rc} - x)\n"
        "iscsiadm: Could not log into all portals\n"
    )
    t = FakeTransport().on(r"iscsiadm .*", (rc, "", stderr))
    with pytest.raises(ctl.LoginError, match=message) as exc:
        ctl.iscsi_login(t, IQN, P, initiator="iqn.1993-08.org.debian:01:abc")
    assert IQN in str(exc.value)
    if rc in (19, 24, 8, 20):
        assert "iqn.1993-08.org.debian:01:abc" in str(exc.value)


def test_set_startup() -> None:
    t = FakeTransport().on(r"iscsiadm .* -o update .*", 0, times=1)
    assert ctl.iscsi_set_startup(t, IQN, P, ctl.AUTOMATIC) is True
    assert t.calls[0].argv[-6:] == ("-o", "update", "-n", "node.startup", "-v", "automatic")
    t.on(r"iscsiadm .*", (21, "", "iscsiadm: No records found\n"))
    assert ctl.iscsi_set_startup(t, IQN, None, ctl.MANUAL) is False
    assert "-p" not in t.calls[-1].argv
    with pytest.raises(ctl.LoginError, match="no iSCSI node record"):
        ctl.iscsi_set_startup(t, IQN, P, ctl.AUTOMATIC)
    with pytest.raises(ValueError):
        ctl.iscsi_set_startup(t, IQN, P, "onboot")


def test_logout_and_delete_node() -> None:
    tag = f"[sid: 1, target: {IQN}, portal: 10.200.2.2,3260]"
    t = FakeTransport()
    t.on(r".* --logout", (0, f"Logging out of session {tag}\nLogout of {tag} successful.\n"))
    t.on(r".* -o delete", 0)
    assert ctl.iscsi_logout(t, IQN, P) and ctl.iscsi_delete_node(t, IQN, P)
    t.on(r".* --logout", (21, "", "iscsiadm: No matching sessions found\n"))
    t.on(r".* -o delete", (21, "", "iscsiadm: No records found\n"))
    assert not ctl.iscsi_logout(t, IQN, P) and not ctl.iscsi_delete_node(t, IQN, None)
    t.on(r".* --logout", (9, "", "iscsiadm: Could not logout of all requested sessions\n"))
    with pytest.raises(ctl.CommandFailed, match=r"logging out of .* status 9"):
        ctl.iscsi_logout(t, IQN, P)


# -- sessions ------------------------------------------------------------------------------


def test_sessions_parse_and_none() -> None:
    out = f"tcp: [1] 10.200.2.2:3260,1 {IQN} (non-flash)\ntcp: [12] [fd00::2]:3260,4 iqn.x:y\n"
    t = FakeTransport().on(("iscsiadm", "-m", "session"), out, times=1)
    assert ctl.iscsi_sessions(t) == [
        ctl.Session("tcp", 1, P, 1, IQN, False),
        ctl.Session("tcp", 12, Portal("fd00::2"), 4, "iqn.x:y", False),
    ]
    t.on(("iscsiadm", "-m", "session"), (21, "", "iscsiadm: No active sessions.\n"))
    assert ctl.iscsi_sessions(t) == []


def test_session_details_p3() -> None:
    details = ctl.parse_session_details(SESSION_P3)
    assert details[0] == ctl.SessionDetail(IQN, P, 1, "LOGGED_IN", {0: None, 1: "sdc"})
    assert details[1].portal == Portal("fd00::2") and details[1].luns == {0: "sdf"}
    t = FakeTransport().on(r"iscsiadm -m session -P 3", SESSION_P3)
    assert ctl.detect_lun(t, IQN) == 1
    assert ctl.detect_lun(t, "iqn.2010-10.org.openstack:volume-2") == 0
    assert ctl.detect_lun(t, "iqn.none:x") == 0


def test_by_path_link() -> None:
    assert ctl.by_path_link(P, IQN, 0) == f"/dev/disk/by-path/ip-10.200.2.2:3260-iscsi-{IQN}-lun-0"
    assert ctl.by_path_link(Portal("fd00::2"), "iqn.x:y", 1) == (
        "/dev/disk/by-path/ip-fd00::2:3260-iscsi-iqn.x:y-lun-1"
    )
    assert ctl.format_lun(255) == "255"
    assert ctl.format_lun(256) == "0x0100000000000000"


def test_find_by_path_device_polls_then_gives_up() -> None:
    link = ctl.by_path_link(P, IQN, 0)
    t = FakeTransport()
    t.on(r"find /dev/disk/by-path .*", 0)
    t.on(("readlink", "-e", "-n", "--", link), 1, times=2)
    t.on(("readlink", "-e", "-n", "--", link), "/dev/sdc")
    t.rules.reverse()  # the limited rule first
    slept: list[float] = []
    assert ctl.find_by_path_device(t, P, IQN, 0, sleep=slept.append) == (link, "/dev/sdc")
    assert slept == [0.5, 0.5]
    t = FakeTransport().on(r"readlink .*", 1).on(r"find .*", 0)
    assert ctl.find_by_path_device(t, P, IQN, 0, attempts=3, sleep=slept.append) is None


def test_find_by_path_device_offload_prefix() -> None:
    other = f"/dev/disk/by-path/pci-0000:00:05.0-ip-10.200.2.2:3260-iscsi-{IQN}-lun-0"
    t = FakeTransport().on(r"readlink .*", 1).on(r"find .*", other + "\n")
    t.on(("readlink", "-e", "-n", "--", other), "/dev/sdd")
    assert ctl.find_by_path_device(t, P, IQN, 0, attempts=1) == (other, "/dev/sdd")


# -- initiator, blkid, mkfs, findmnt -------------------------------------------------------


def test_initiator_name() -> None:
    text = "## DO NOT EDIT OR REMOVE THIS FILE!\n#InitiatorName=iqn.old\nInitiatorName=iqn.new:1\n"
    assert ctl.parse_initiator_name(text) == "iqn.new:1"
    t = FakeTransport(files={"/etc/iscsi/initiatorname.iscsi": text.encode()})
    assert ctl.read_initiator_name(t) == "iqn.new:1"
    assert ctl.read_initiator_name(FakeTransport()) is None


def test_blkid() -> None:
    out = (
        "DEVNAME=/dev/sdc\nUUID=d1318c8b-18b8-46bd-a51c-83f488371c6b\nVERSION=1.0\n"
        "BLOCK_SIZE=4096\nTYPE=ext4\nUSAGE=filesystem\n"
    )
    t = FakeTransport().on(r"blkid -p -o export -- /dev/sdc", out)
    info = ctl.blkid_probe(t, "/dev/sdc")
    assert info is not None and info.type == "ext4"
    assert info.uuid == "d1318c8b-18b8-46bd-a51c-83f488371c6b"
    t = FakeTransport().on(r"blkid .*", 2)
    assert ctl.blkid_probe(t, "/dev/sdc") is None
    t = FakeTransport().on(r"blkid .*", "DEVNAME=/dev/sdc\nPTUUID=abc\nPTTYPE=gpt\n")
    info = ctl.blkid_probe(t, "/dev/sdc")
    assert info is not None and info.type is None and info.pttype == "gpt"
    assert ctl.parse_blkid_export("LABEL=my\\ disk\n") == {"LABEL": "my disk"}
    t = FakeTransport().on(r"blkid .*", (4, "", "blkid: bad usage\n"))
    with pytest.raises(ctl.CommandFailed, match="probing /dev/sdc"):
        ctl.blkid_probe(t, "/dev/sdc")


def test_mkfs_argv() -> None:
    t = FakeTransport().on(r"mkfs\..*", 0)
    ctl.mkfs(t, "/dev/sdc", "ext4", ("-b", "4096"))
    ctl.mkfs(t, "/dev/sdc", "ext4", ("-b", "4096"), force=True)
    ctl.mkfs(t, "/dev/sdc", "xfs", (), force=True)
    assert t.commands() == [
        ("mkfs.ext4", "-q", "-b", "4096", "/dev/sdc"),
        ("mkfs.ext4", "-q", "-F", "-b", "4096", "/dev/sdc"),
        ("mkfs.xfs", "-q", "-f", "/dev/sdc"),
    ]
    with pytest.raises(ValueError):
        ctl.mkfs(t, "/dev/sdc", "ext4 -F")


def test_findmnt_raw_parse_and_absent() -> None:
    out = "/dev/sdc /var/lib/glance/iscsi\\x20images ext4 rw,noatime\n"
    t = FakeTransport().on(r"findmnt .*", out)
    assert ctl.mounted_at(t, "/var/lib/glance/iscsi images") == ctl.MountInfo(
        "/dev/sdc", "/var/lib/glance/iscsi images", "ext4", "rw,noatime"
    )
    assert t.calls[0].argv[-2:] == ("--mountpoint", "/var/lib/glance/iscsi images")
    t = FakeTransport().on(r"findmnt .*", 1)
    assert ctl.mounted_at(t, "/x") is None


def test_umount_busy_and_not_mounted() -> None:
    t = FakeTransport().on(r"findmnt .*", 1)
    assert ctl.umount(t, "/x") is False
    t = FakeTransport().on(r"findmnt .*", "/dev/sdc /x ext4 rw\n")
    t.on(r"umount .*", (32, "", "umount: /x: target is busy.\n"))
    with pytest.raises(ctl.MountError, match="fuser -vm /x"):
        ctl.umount(t, "/x")


def test_mount_failure_message() -> None:
    t = FakeTransport().on(r"mount .*", (32, "", "mount: /x: can't find UUID=abc.\n"))
    with pytest.raises(ctl.MountError, match="can't find UUID=abc"):
        ctl.mount(t, "/x")


# -- files, users, services ----------------------------------------------------------------


def test_stat_count_and_ownership_commands() -> None:
    t = FakeTransport()
    t.on(r"stat .*", "glance glance 750\n")
    t.on(r"find /srv/store .*", "/srv/store/a\0/srv/store/b with\nnewline\0")
    t.on(r"chown .*", 0).on(r"chmod .*", 0)
    assert ctl.stat_path(t, "/srv/store") == ("glance", "glance", 0o750)
    assert ctl.count_files(t, "/srv/store") == 2
    ctl.chown(t, "/srv/store", "glance", "glance")
    ctl.chmod(t, "/srv/store", 0o750)
    assert t.commands("chown") == [("chown", "--", "glance:glance", "/srv/store")]
    assert t.commands("chmod") == [("chmod", "--", "0750", "/srv/store")]
    t.on(r"stat .*", (1, "", "stat: cannot statx '/nope': No such file or directory\n"))
    assert ctl.stat_path(t, "/nope") is None


def test_is_writable_by_falls_back_to_su_with_quoting() -> None:
    t = FakeTransport().on(r"runuser .*", (127, "", "runuser: not found"))
    t.on(r"su .*", 0)
    assert ctl.is_writable_by(t, "glance", "/srv/it's here") is True
    assert t.calls[-1].argv == (
        "su",
        "-s",
        "/bin/sh",
        "-c",
        "test -w '/srv/it'\"'\"'s here'",
        "glance",
    )
    t = FakeTransport().on(r"runuser .*", 1)
    assert ctl.is_writable_by(t, "glance", "/srv") is False


def test_detect_service_prefers_active_loaded_unit() -> None:
    t = FakeTransport()
    t.on(r"systemctl show .* glance-api", "LoadState=not-found\nActiveState=inactive\n")
    t.on(r"systemctl show .* openstack-glance-api", "LoadState=loaded\nActiveState=inactive\n")
    t.on(r"systemctl show .* devstack@g-api", "LoadState=loaded\nActiveState=active\n")
    assert ctl.detect_service(t) == "devstack@g-api"
    t = FakeTransport().on(
        r"systemctl .*",
        (1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\n"),
    )
    with pytest.raises(ctl.ServiceError, match="set service"):
        ctl.detect_service(t)


def test_service_user_active_restart() -> None:
    t = FakeTransport()
    t.on(r"systemctl show .* User --value glance-api", "glance\n")
    t.on(r"systemctl is-active glance-api", (3, "activating\n", ""), times=1)
    t.on(r"systemctl is-active glance-api", "active\n")
    t.rules[1], t.rules[2] = t.rules[2], t.rules[1]
    assert ctl.service_user(t, "glance-api") == "glance"
    slept: list[float] = []
    assert ctl.wait_service_active(t, "glance-api", sleep=slept.append) == "active"
    assert slept == [0.5]
    t.on(r"systemctl restart .*", (1, "", "Job for glance-api.service failed.\n"))
    t.on(r"journalctl .*", "BadStoreConfiguration\n")
    with pytest.raises(ctl.ServiceError, match=r"Job for glance-api.service failed.*BadStore"):
        ctl.service_restart(t, "glance-api")
    with pytest.raises(ValueError):
        ctl.service_restart(t, "-H evil")


# -- FakeTransport itself ------------------------------------------------------------------


def test_fake_transport_script_handler_and_files() -> None:
    t = FakeTransport(
        script={("echo", "hi"): "hi\n", r"false( .*)?": 1},
        handler=lambda call: (0, "handled") if call.argv[0] == "ls" else None,
    )
    assert t.run(["echo", "hi"]).stdout == "hi\n"
    assert t.run(["false", "x"]).returncode == 1
    assert t.run(["ls"]).stdout == "handled"
    with pytest.raises(CommandError, match="false exited with status 1"):
        t.run(["false"], check=True, stdin=b"secret")
    with pytest.raises(UnexpectedCommand):
        t.run(["rm", "-rf", "/"])
    assert t.calls[-2].stdin == b"secret"
    t.write_file("/etc/x", b"1", mode=0o600)
    assert t.read_file("/etc/x") == b"1" and t.modes["/etc/x"] == 0o600
    assert t.read_file("/nope") is None
    assert t.ran(r"^echo hi$")
    t.close()
    assert t.closed


def test_command_error_never_shows_stdin() -> None:
    t = FakeTransport().on(r"cat", (1, "", "cat: boom\n"))
    with pytest.raises(CommandError) as exc:
        t.run(["cat"], stdin=b"hunter2", check=True)
    assert "hunter2" not in str(exc.value) and "boom" in str(exc.value)
