"""iscsi_store_ops against a simulated controller (glance_fakehost.FakeHost)."""

from __future__ import annotations

import pytest
from glance_fakehost import CONF, FSTAB, INITIATOR, IQN, LEGACY_CONF, MP, PORTAL, Disk, FakeHost
from tfnimble.glance import fstab, glance_conf
from tfnimble.glance import iscsi_store_ops as ops
from tfnimble.glance.iscsi_store_ops import StoreSpec, StoreState


def spec(**kw: object) -> StoreSpec:
    base: dict[str, object] = {
        "portal": "10.200.2.2",
        "target_iqn": IQN,
        "lun": None,
        "mount_point": MP,
        "device_wait_seconds": 1.0,
    }
    base.update(kw)
    return StoreSpec(**base)  # type: ignore[arg-type]


def nosleep(_: float) -> None:
    return None


def create(host: FakeHost, s: StoreSpec | None = None) -> StoreState:
    return ops.create(host.transport, s or spec(), sleep=nosleep)


def commands(host: FakeHost) -> list[str]:
    return [c.line for c in host.transport.calls]


def index_of(host: FakeHost, needle: str) -> int:
    for i, line in enumerate(commands(host)):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} never ran")


# -- create -------------------------------------------------------------------------------


def test_create_on_empty_device() -> None:
    host = FakeHost()
    steps: list[str] = []
    state = ops.create(host.transport, spec(), steps.append, sleep=nosleep)

    assert host.mkfs_calls == [("-q", "-b", "4096", "/dev/sdc")]
    uuid = host.disks["/dev/sdc"].fs["UUID"]  # type: ignore[index]
    assert state.fs_uuid == uuid and state.formatted and state.ok
    assert state.device == "/dev/sdc" and state.lun == 0 and state.session_id == 1
    assert state.by_path == f"/dev/disk/by-path/ip-10.200.2.2:3260-iscsi-{IQN}-lun-0"
    assert state.previous_datadir == "/var/lib/glance/images/"
    assert (state.config_layout, state.config_section) == ("legacy", "glance_store")
    assert state.service == "glance-api" and state.owner == "glance:glance"
    assert state.initiator_name == INITIATOR and state.target_portal == PORTAL
    assert state.image_files == 0
    # fstab: exactly one line, by UUID, with _netdev.
    assert host.text("/etc/fstab") == FSTAB + f"UUID={uuid} {MP} ext4 _netdev,nofail,noatime 0 0\n"
    assert host.mount_at(MP) == ("/dev/sdc", MP, "ext4", "rw,noatime")
    assert host.owners[f"{MP}@/dev/sdc"] == ("glance", "glance", 0o750)
    assert glance_conf.get_datadir(host.text(CONF)).value == MP
    assert host.nodes[(IQN, PORTAL)] == "automatic"
    assert host.restarts == 1
    # Order: discovery, login, by-path, blkid before mkfs, fstab before mount, config, restart.
    assert index_of(host, "discovery") < index_of(host, "--login") < index_of(host, "mkfs")
    assert index_of(host, "blkid") < index_of(host, "mkfs.ext4") < index_of(host, "mount --")
    assert index_of(host, "mount --") < index_of(host, "systemctl restart")
    assert any("mkfs" in s for s in steps)


def test_create_twice_is_idempotent() -> None:
    host = FakeHost()
    first = create(host)
    fstab_after, conf_after = host.text("/etc/fstab"), host.text(CONF)
    writes = len(host.transport.writes)
    second = create(host)
    assert len(host.mkfs_calls) == 1
    assert host.restarts == 1
    assert host.text("/etc/fstab") == fstab_after and host.text(CONF) == conf_after
    assert len(host.transport.writes) == writes  # nothing rewritten
    assert host.text("/etc/fstab").count("UUID=" + (first.fs_uuid or "")) == 1
    assert not any("--login" in line for line in commands(host)[len(commands(host)) // 2 :])
    assert second.fs_uuid == first.fs_uuid and not second.formatted
    assert len(host.mounts) == 1


def test_create_reuses_existing_filesystem() -> None:
    host = FakeHost()
    uuid = host.make_fs("/dev/sdc", "ext4")
    host.disks["/dev/sdc"].files = 3
    state = create(host)
    assert host.mkfs_calls == []
    assert state.fs_uuid == uuid and not state.formatted and state.image_files == 3


@pytest.mark.parametrize(
    ("fs", "message"),
    [
        (
            {"TYPE": "xfs", "UUID": "1111"},
            "holds an existing xfs filesystem \\(UUID 1111\\), not ext4",
        ),
        ({"PTTYPE": "gpt", "PTUUID": "abcd"}, "holds an existing gpt partition table"),
    ],
)
def test_create_never_formats_a_device_with_data(fs: dict[str, str], message: str) -> None:
    host = FakeHost()
    host.disks["/dev/sdc"].fs = fs
    with pytest.raises(ops.FilesystemMismatch, match=message) as exc:
        create(host)
    assert "force_format" in str(exc.value)
    assert host.mkfs_calls == []
    assert host.text("/etc/fstab") == FSTAB and host.text(CONF) == LEGACY_CONF
    assert host.mounts == []


def test_blkid_ambivalent_is_never_empty() -> None:
    host = FakeHost()
    host.transport.on(r"blkid .*", (8, "", ""))
    with pytest.raises(ops.FilesystemMismatch, match="wipefs"):
        create(host)
    assert host.mkfs_calls == []


def test_force_format_erases_foreign_filesystem_once() -> None:
    host = FakeHost()
    old = host.make_fs("/dev/sdc", "xfs")
    state = create(host, spec(force_format=True))
    assert host.mkfs_calls == [("-q", "-F", "-b", "4096", "/dev/sdc")]
    assert state.fs_uuid != old and state.formatted
    create(host, spec(force_format=True))  # already this store: never formatted again
    assert len(host.mkfs_calls) == 1


def test_force_format_refuses_mounted_device() -> None:
    host = FakeHost()
    host.make_fs("/dev/sdc", "xfs")
    host.mounts.append(("/dev/sdc", "/srv/other", "xfs", "rw"))
    with pytest.raises(ops.FilesystemMismatch, match="mounted at /srv/other"):
        create(host, spec(force_format=True))
    assert host.mkfs_calls == []


def test_create_detects_lun_with_attached_disk() -> None:
    host = FakeHost(lun_disks={IQN: {0: None, 1: "sdc"}})
    state = create(host)
    assert state.lun == 1 and state.by_path and state.by_path.endswith("-lun-1")


def test_create_waits_for_udev_link() -> None:
    host = FakeHost(link_delay=3)
    slept: list[float] = []
    ops.create(host.transport, spec(device_wait_seconds=5), sleep=slept.append)
    assert len(slept) == 3


def test_device_not_found() -> None:
    host = FakeHost(lun_disks={IQN: {0: None}})
    with pytest.raises(ops.DeviceNotFound, match="no disk appeared for LUN 0"):
        create(host)
    assert host.mkfs_calls == []


SERIAL = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


@pytest.mark.parametrize(
    ("links", "vpd80"),
    [
        ([f"scsi-2{SERIAL}"], None),  # a Nimble volume: EUI-64 built from its serial
        ([f"scsi-36{SERIAL[:31]}", f"wwn-0x6{SERIAL[:31]}"], None),  # a type-6 NAA (tgtd)
        ([f"scsi-SNimble_Server_{SERIAL}"], None),  # page 0x80 (sg3-utils rules)
        ([], SERIAL.upper()),  # sysfs vpd_pg80 only
    ],
)
def test_create_confirms_the_volume_before_mkfs(links: list[str], vpd80: str | None) -> None:
    host = FakeHost(by_id={"sdc": links})
    if vpd80:
        host.set_unit_serial("sdc", vpd80)
    state = create(host, spec(lun=0, volume_serial=SERIAL))
    assert state.ok and host.mkfs_calls == [("-q", "-b", "4096", "/dev/sdc")]
    assert index_of(host, "/dev/disk/by-id") < index_of(host, "mkfs.ext4")


@pytest.mark.parametrize(
    ("links", "vpd80"),
    [
        ([f"scsi-2{OTHER}", f"wwn-0x6{OTHER[:31]}"], None),
        ([f"scsi-SIET_VIRTUAL-DISK_{OTHER}"], OTHER),
        ([f"scsi-36{SERIAL[1:]}"], None),  # an NAA that only looks like it
        ([], None),  # nothing identifies the disk: it cannot be confirmed
    ],
)
def test_a_lun_holding_another_volume_is_refused_and_nothing_changes(
    links: list[str], vpd80: str | None
) -> None:
    host = FakeHost(by_id={"sdc": links})
    if vpd80:
        host.set_unit_serial("sdc", vpd80)
    files_before = {k: v for k, v in host.transport.files.items()}
    with pytest.raises(ops.ControllerError) as err:
        create(host, spec(lun=0, volume_serial=SERIAL))
    assert err.value.summary == "Device Is Another Volume"
    assert getattr(err.value, "attribute", None) == "volume_serial"
    message = str(err.value)
    assert f"LUN 0 of {IQN}" in message and SERIAL in message and "Nothing was written" in message
    if links:
        assert links[0] in message
    # Nothing was made or changed: no mkfs, mount, fstab, config, restart, session or node.
    assert host.mkfs_calls == [] and host.mounts == [] and host.restarts == 0
    assert host.transport.files == files_before
    assert host.sessions == {} and host.nodes == {}
    assert not any(c.startswith(("mkfs", "mount", "systemctl restart")) for c in commands(host))


def test_a_reused_session_is_kept_but_not_marked_when_the_volume_is_wrong() -> None:
    host = FakeHost(by_id={"sdc": [f"scsi-2{OTHER}"]})
    host.nodes[(IQN, PORTAL)] = "manual"
    host.sessions[IQN] = (7, PORTAL)
    with pytest.raises(ops.ControllerError, match="not the volume with serial number"):
        create(host, spec(lun=0, volume_serial=SERIAL))
    assert host.sessions == {IQN: (7, PORTAL)} and host.nodes[(IQN, PORTAL)] == "manual"
    assert host.mkfs_calls == []


def test_delete_keeps_a_group_target_session_other_mounted_luns_use() -> None:
    host = FakeHost(
        lun_disks={IQN: {0: "sdc", 1: "sdd"}},
        disks={"/dev/sdc": Disk("sdc"), "/dev/sdd": Disk("sdd")},
    )
    state = create(host, spec(lun=0))
    host.make_fs("/dev/sdd")
    host.mounts.append(("/dev/sdd", "/srv/other", "ext4", "rw"))
    ops.delete(host.transport, spec(lun=0), state, sleep=nosleep)
    assert host.mount_at(MP) is None
    assert IQN in host.sessions and host.nodes.get((IQN, PORTAL)) == "automatic"
    host.mounts.remove(("/dev/sdd", "/srv/other", "ext4", "rw"))
    ops.delete(host.transport, spec(lun=0), state, sleep=nosleep)  # the last user logs out
    assert IQN not in host.sessions and (IQN, PORTAL) not in host.nodes


def test_existing_session_is_reused_and_rescanned() -> None:
    host = FakeHost(link_delay=10)
    host.nodes[(IQN, PORTAL)] = "manual"
    host.sessions[IQN] = (7, PORTAL)
    state = create(host)
    assert state.session_id == 7
    assert not any("--login" in line or "discovery" in line for line in commands(host))
    assert any("-r 7 --rescan" in line for line in commands(host))


def test_discovery_errors() -> None:
    host = FakeHost(reachable=False)
    with pytest.raises(ops.DiscoveryError, match="cannot connect to the iSCSI portal"):
        create(host)
    host = FakeHost(targets={})
    with pytest.raises(ops.DiscoveryError, match="found no targets"):
        create(host)
    host = FakeHost(targets={PORTAL: [(1, "iqn.2024-01.com.example.array:other")]})
    with pytest.raises(ops.DiscoveryError, match=f"does not offer target {IQN}.*{INITIATOR}"):
        create(host)


def test_login_refused_by_access_control() -> None:
    host = FakeHost(login_error=19)
    with pytest.raises(ops.LoginError, match="not allowed by the array's access control") as e:
        create(host)
    assert INITIATOR in str(e.value) and e.value.returncode == 19


def test_preflight_fails_before_touching_iscsi() -> None:
    host = FakeHost(units={})
    with pytest.raises(ops.ServiceError, match="no glance-api service found"):
        create(host)
    assert not any(c.argv[0] == "iscsiadm" for c in host.transport.calls)
    host = FakeHost()
    with pytest.raises(ops.ControllerError, match="user 'nobody-here'"):
        create(host, spec(owner="nobody-here"))
    host = FakeHost()
    del host.transport.files[CONF]
    with pytest.raises(ops.ConfigError, match="does not exist"):
        create(host)
    host = FakeHost()
    with pytest.raises(ops.ConfigError, match="single-store"):
        create(host, spec(backend="fast"))
    assert not any(c.argv[0] == "iscsiadm" for c in host.transport.calls)


def test_devstack_service_and_user_detected() -> None:
    host = FakeHost(
        units={"devstack@g-api": {"LoadState": "loaded", "ActiveState": "active", "User": "stack"}}
    )
    state = create(host)
    assert state.service == "devstack@g-api" and state.owner == "stack:stack"


def test_multistore_backend() -> None:
    host = FakeHost()
    host.transport.files[CONF] = b"[DEFAULT]\nenabled_backends = fast:file\n\n[fast]\n"
    state = create(host)
    assert (state.config_layout, state.config_section, state.previous_datadir) == (
        "multi-store",
        "fast",
        None,
    )
    assert host.text(CONF) == (
        "# glance_iscsi_store: previous filesystem_store_datadir [fast] = <unset>\n"
        f"[DEFAULT]\nenabled_backends = fast:file\n\n[fast]\nfilesystem_store_datadir = {MP}\n"
    )


def test_restart_failure_reports_journal() -> None:
    host = FakeHost(restart_fails=True)
    with pytest.raises(
        ops.ServiceError, match=r"restarting glance-api failed.*BadStoreConfiguration"
    ):
        create(host)


def test_mount_point_taken_by_another_filesystem() -> None:
    host = FakeHost()
    host.disks["/dev/sdd"] = Disk("sdd")
    host.make_fs("/dev/sdd")
    host.mounts.append(("/dev/sdd", MP, "ext4", "rw"))
    with pytest.raises(ops.MountError, match=f"{MP} already has /dev/sdd"):
        create(host)


def test_fstab_conflict() -> None:
    host = FakeHost()
    host.transport.files["/etc/fstab"] = f"/dev/sdb1 {MP} ext4 defaults 0 0\n".encode()
    with pytest.raises(ops.FstabError, match="already mounts something"):
        create(host)


def test_not_writable_by_service_user() -> None:
    host = FakeHost()
    host.transport.on(r"runuser .*", 1)
    with pytest.raises(ops.ControllerError, match="glance cannot write"):
        create(host)


def test_crash_after_config_then_rerun_converges() -> None:
    host = FakeHost(restart_fails=True)
    with pytest.raises(ops.ServiceError):
        create(host)
    host.restart_fails = False
    state = create(host)
    assert len(host.mkfs_calls) == 1 and len(host.mounts) == 1
    assert host.text("/etc/fstab").count("UUID=" + (state.fs_uuid or "")) == 1
    # The datadir already pointed at the mount point, but the controller kept the original.
    original = glance_conf.get_datadir(LEGACY_CONF).value
    assert original is not None
    assert state.previous_datadir == original


def test_previous_datadir_survives_lost_state_and_is_restored() -> None:
    host = FakeHost()
    created = create(host)
    original = created.previous_datadir
    assert original is not None
    imported = ops.read(host.transport, spec(), None)  # import: Terraform state is gone
    assert imported is not None and imported.previous_datadir == original
    ops.delete(host.transport, spec(), imported, force_destroy=True)
    assert host.text(CONF) == LEGACY_CONF


# -- read ---------------------------------------------------------------------------------


def test_read_after_create_is_clean() -> None:
    host = FakeHost()
    state = create(host)
    got = ops.read(host.transport, spec(), state)
    assert got is not None and got.ok, got.drift() if got else None
    assert got.fs_uuid == state.fs_uuid and got.previous_datadir == state.previous_datadir
    assert got.device == "/dev/sdc"


def test_read_reports_each_drift() -> None:
    host = FakeHost()
    state = create(host)
    host.mounts.clear()
    got = ops.read(host.transport, spec(), state)
    assert got is not None and not got.mounted and got.fstab_ok and got.image_files is None
    host.transport.files["/etc/fstab"] = FSTAB.encode()
    got = ops.read(host.transport, spec(), state)
    assert got is not None and not got.fstab_ok
    text, *_ = glance_conf.set_datadir(host.text(CONF), "/elsewhere")
    host.transport.files[CONF] = text.encode()
    got = ops.read(host.transport, spec(), state)
    assert got is not None and not got.datadir_ok and got.session_ok
    host.units["glance-api"]["ActiveState"] = "failed"
    got = ops.read(host.transport, spec(), state)
    assert got is not None and not got.service_active
    assert len(got.drift()) == 5
    host.sessions.clear()
    assert ops.read(host.transport, spec(), state) is None


def test_read_detects_changed_mount_options() -> None:
    host = FakeHost()
    state = create(host)
    got = ops.read(host.transport, spec(mount_options="_netdev,nofail"), state)
    assert got is not None and not got.fstab_ok


def test_read_without_known_state_imports_from_fstab() -> None:
    host = FakeHost()
    state = create(host)
    got = ops.read(host.transport, spec(lun=0))
    assert got is not None and got.ok and got.fs_uuid == state.fs_uuid
    assert got.owner == "glance:glance"


# -- update / repair ----------------------------------------------------------------------


def test_update_repairs_drift_and_keeps_previous_datadir() -> None:
    host = FakeHost()
    state = create(host)
    host.mounts.clear()
    host.transport.files["/etc/fstab"] = FSTAB.encode()
    text, *_ = glance_conf.set_datadir(host.text(CONF), "/elsewhere")
    host.transport.files[CONF] = text.encode()
    repaired = ops.repair(host.transport, spec(), state, sleep=nosleep)
    assert repaired.ok and repaired.previous_datadir == "/var/lib/glance/images/"
    assert host.mount_at(MP) is not None and len(host.mkfs_calls) == 1
    assert fstab.find_line(host.text("/etc/fstab"), uuid=state.fs_uuid) is not None


def test_update_changes_mount_options_in_place() -> None:
    host = FakeHost()
    state = create(host)
    ops.update(host.transport, spec(mount_options="_netdev,nofail"), state, sleep=nosleep)
    entry = fstab.find_line(host.text("/etc/fstab"), uuid=state.fs_uuid)
    assert entry is not None and entry.options == "_netdev,nofail"
    assert any("-o remount" in line for line in commands(host))
    assert "mount_options" in ops.IN_PLACE_FIELDS and "mount_point" in ops.REPLACE_FIELDS


def test_update_refuses_replaced_volume() -> None:
    host = FakeHost()
    state = create(host)
    host.mounts.clear()
    host.make_fs("/dev/sdc")  # someone reformatted it
    with pytest.raises(ops.FilesystemMismatch, match="replaced or reformatted"):
        ops.update(host.transport, spec(), state, sleep=nosleep)
    host.disks["/dev/sdc"].fs = None
    with pytest.raises(ops.FilesystemMismatch, match="is empty"):
        ops.update(host.transport, spec(force_format=True), state, sleep=nosleep)
    assert len(host.mkfs_calls) == 1


# -- delete -------------------------------------------------------------------------------


def test_delete_refuses_while_images_are_stored() -> None:
    host = FakeHost()
    state = create(host)
    host.disks["/dev/sdc"].files = 2
    with pytest.raises(ops.StoreNotEmpty, match=f"{MP}.*holds 2 image file") as exc:
        ops.delete(host.transport, spec(), state)
    assert "force_destroy" in str(exc.value)
    assert host.mount_at(MP) is not None and IQN in host.sessions


def test_delete_reverses_create_in_order_and_keeps_data() -> None:
    host = FakeHost()
    state = create(host)
    host.disks["/dev/sdc"].files = 2
    before = len(host.transport.calls)
    ops.delete(host.transport, spec(), state, force_destroy=True)
    assert host.text(CONF) == LEGACY_CONF
    assert host.text("/etc/fstab") == FSTAB
    assert host.mounts == [] and host.sessions == {} and host.nodes == {}
    assert host.disks["/dev/sdc"].fs is not None and host.disks["/dev/sdc"].files == 2
    later = commands(host)[before:]

    def at(needle: str) -> int:
        return next(i for i, line in enumerate(later) if needle in line)

    assert at("systemctl restart") < at("umount") < at("node.startup -v manual")
    assert at("node.startup -v manual") < at("--logout") < at("-o delete")


def test_delete_is_idempotent_and_survives_partial_runs() -> None:
    host = FakeHost()
    state = create(host)
    host.busy = True
    with pytest.raises(ops.MountError, match="fuser -vm"):
        ops.delete(host.transport, spec(), state)
    assert host.text(CONF) == LEGACY_CONF  # step 1 done before the failure
    host.busy = False
    restarts = host.restarts
    ops.delete(host.transport, spec(), state)
    assert host.restarts == restarts  # config already restored: no second restart
    ops.delete(host.transport, spec(), state)
    assert host.text("/etc/fstab") == FSTAB and host.sessions == {}


def test_delete_removes_key_when_there_was_no_previous_value() -> None:
    host = FakeHost()
    host.transport.files[CONF] = b"[DEFAULT]\n\n[glance_store]\nstores = file\n"
    state = create(host)
    assert state.previous_datadir is None
    ops.delete(host.transport, spec(), state)
    assert host.text(CONF) == "[DEFAULT]\n\n[glance_store]\nstores = file\n"


def test_delete_leaves_foreign_datadir_alone() -> None:
    host = FakeHost()
    state = create(host)
    text, *_ = glance_conf.set_datadir(host.text(CONF), "/srv/other")
    host.transport.files[CONF] = text.encode()
    ops.delete(host.transport, spec(), state)
    assert glance_conf.get_datadir(host.text(CONF)).value == "/srv/other"


# -- spec ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"mount_point": "relative"},
        {"mount_point": "/var"},
        {"mount_point": "/a/../b"},
        {"target_iqn": "not-an-iqn"},
        {"portal": ""},
        {"lun": -1},
        {"fs_type": "ext4; rm"},
        {"mount_options": "a b"},
        {"owner": "a b"},
        {"config_file": "glance-api.conf"},
        {"volume_serial": "not-hex"},
        {"volume_serial": "abc"},
    ],
)
def test_spec_validation(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        spec(**kw)


def test_spec_normalises() -> None:
    s = spec(mount_point=MP + "/", mkfs_options=["-b", "4096"])
    assert s.mount_point == MP and s.mkfs_options == ("-b", "4096")


def test_state_dict_round_trip() -> None:
    host = FakeHost()
    state = create(host)
    assert StoreState.from_dict({**state.to_dict(), "unknown": 1}) == state


def test_never_mounts_over_existing_images_and_changes_nothing() -> None:
    host = FakeHost(root_files={MP: 2})
    with pytest.raises(ops.MountError, match="already holds 2 file"):
        create(host)
    assert host.sessions == {} and host.mkfs_calls == [] and host.mounts == []
    assert host.text("/etc/fstab") == FSTAB and host.text(CONF) == LEGACY_CONF


def test_mount_point_equal_to_the_current_datadir_is_kept_on_destroy() -> None:
    host = FakeHost()
    s = spec(mount_point="/var/lib/glance/images")
    state = ops.create(host.transport, s, sleep=nosleep)
    assert state.previous_datadir == "/var/lib/glance/images/"
    ops.delete(host.transport, s, state, force_destroy=True)
    assert host.text(CONF) == LEGACY_CONF


def test_glance_api_view_of_the_datadir_is_checked_when_it_answers() -> None:
    host = FakeHost(api_stores="follow")
    state = create(host)
    assert state.ok and host.api_urls == ["http://127.0.0.1:9292/v2/info/stores/detail"]


def test_glance_api_reporting_another_datadir_fails_the_create() -> None:
    host = FakeHost(api_stores={"file": "/var/lib/glance/images/"})
    with pytest.raises(ops.ServiceError, match="did not pick up"):
        create(host)


def test_glance_api_that_does_not_answer_is_not_an_error() -> None:
    host = FakeHost(api_stores=None)
    assert create(host).ok
