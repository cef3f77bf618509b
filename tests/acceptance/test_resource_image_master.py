"""nimble_image_master against nimble-sim with the real data plane (tgtd + reflink files).

Every failure case checks two things: a diagnostic that says what went wrong, and an array
that holds exactly what it held before (no volume, initiator group or access record left).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from harness import Case, Harness, Step
from nimble_fixtures import DataPlaneSim, DiskImage, exported_lun, read_lun, sha256_of
from nimble_hcl import config, expect, resource

MASTER = "nimble_image_master.test"
READER = "iqn.2026-11.io.ito:acc-reader"


def master_config(name: str, source: str, **attrs: object) -> str:
    return config(resource("nimble_image_master", "test", name=name, source=source, **attrs))


def test_acc_image_master_basic(
    tf: Harness, sim_dp: DataPlaneSim, disk_image: DiskImage, tmp_path: Path
) -> None:
    name = sim_dp.unique("master")
    src = tmp_path / "image.qcow2"
    shutil.copy(disk_image.qcow2, src)
    before = sim_dp.inventory()

    def written_bytes_match(_state: object) -> None:
        from tfnimble.nimble.client import access_control_records as acrs
        from tfnimble.nimble.client import initiator_groups as igs

        vol = sim_dp.volume(name)
        assert vol is not None and not vol.access_control_records, vol
        # The master keeps no access: read it back through a grant made for this check.
        group = igs.create_initiator_group(sim_dp.client, sim_dp.unique("reader"), [READER])
        acr = acrs.create_access_control_record(sim_dp.client, vol.id, group.id)
        try:
            lun = exported_lun(acr.lun)
            raw = read_lun(sim_dp.portal, vol.target_name, READER, tmp_path / "back.raw", lun=lun)
        finally:
            acrs.delete_access_control_record(sim_dp.client, acr.id)
            igs.delete_initiator_group(sim_dp.client, group.id)
        assert raw == disk_image.raw_sha256

    def change_source() -> None:
        # Same path, new contents: a refresh must notice and plan a replacement.
        shutil.copy(disk_image.raw, src.with_suffix(".tmp"))
        os.replace(src.with_suffix(".tmp"), src)

    tf.run(
        Case(
            env=sim_dp.env(),
            steps=[
                Step(
                    config=master_config(name, str(src)),
                    checks=[
                        expect(MASTER, "image_format", "qcow2"),
                        expect(MASTER, "source_format", "qcow2"),
                        expect(MASTER, "image_virtual_size", 64 << 20),
                        expect(MASTER, "size_mib", 64),
                        expect(MASTER, "image_sha256", disk_image.qcow2_sha256),
                        expect(MASTER, "snapshot_name", "ito-base"),
                        lambda s: _snapshot_exists(sim_dp, s.attrs(MASTER)),
                        written_bytes_match,
                    ],
                ),
                Step(
                    import_state=True,
                    resource_name=MASTER,
                    import_state_id=name,
                    import_state_verify=True,
                    # used at creation only, not recorded on the array
                    import_state_verify_ignore=["initiator_name", "portal", "timeouts"],
                ),
                Step(
                    config=master_config(name, str(src), description="golden image"),
                    expect_actions={MASTER: ["update"]},
                    checks=[expect(MASTER, "description", "golden image")],
                ),
                Step(
                    preconfig=change_source,
                    config=master_config(name, str(src), description="golden image"),
                    expect_actions={MASTER: ["delete", "create"]},
                    checks=[
                        expect(MASTER, "image_format", "raw"),
                        expect(MASTER, "image_sha256", disk_image.raw_sha256),
                    ],
                ),
            ],
            check_destroy=sim_dp.back_to(before),
        )
    )


def _snapshot_exists(sim: DataPlaneSim, attrs: dict[str, object]) -> None:
    from tfnimble.nimble.client import snapshots

    snap = snapshots.get_snapshot(sim.client, str(attrs["snapshot_id"]))
    assert snap is not None and snap.name == "ito-base" and snap.vol_id == attrs["volume_id"]
    assert snap.description.startswith("nimble_image_master: sha256=")


def _fails(tf: Harness, sim: DataPlaneSim, hcl: str, error: str, plan_only: bool = False) -> None:
    """Apply must fail with `error`, and the array must hold what it held before."""
    before = sim.inventory()
    tf.run(
        Case(
            env=sim.env(),
            steps=[Step(config=hcl, expect_error=error)],
            check_destroy=sim.back_to(before),
        )
    )
    assert sim.inventory() == before


def test_acc_image_master_corrupt_source_fails_at_plan(
    tf: Harness, sim_dp: DataPlaneSim, tmp_path: Path
) -> None:
    bad = tmp_path / "garbage.qcow2"
    bad.write_bytes(os.urandom(1 << 20))
    hcl = master_config(sim_dp.unique("bad"), str(bad), source_format="qcow2")
    _fails(tf, sim_dp, hcl, r"Image Not Readable.*qcow2.*Image is not in qcow2 format")


def test_acc_image_master_sha256_mismatch_creates_nothing(
    tf: Harness, sim_dp: DataPlaneSim, disk_image: DiskImage
) -> None:
    hcl = master_config(sim_dp.unique("sha"), str(disk_image.qcow2), sha256="0" * 64)
    _fails(
        tf,
        sim_dp,
        hcl,
        rf"Image Checksum Mismatch.*{disk_image.qcow2_sha256}.*Nothing was created on the array",
    )


def test_acc_image_master_unreachable_portal_leaves_nothing(
    tf: Harness, sim_dp: DataPlaneSim, disk_image: DiskImage
) -> None:
    hcl = master_config(sim_dp.unique("portal"), str(disk_image.qcow2), portal="127.0.0.1:1")
    _fails(
        tf,
        sim_dp,
        hcl,
        r"iSCSI Portal Unreachable.*127\.0\.0\.1:1.*was deleted: nothing was left on the array",
    )


def test_acc_image_master_initiator_refused_leaves_nothing(
    tf: Harness, sim_dp: DataPlaneSim, disk_image: DiskImage, dataplane: object
) -> None:
    # Another array's portal: it answers, but does not show our target to our initiator.
    other = dataplane.portal
    hcl = master_config(sim_dp.unique("refused"), str(disk_image.qcow2), portal=other)
    _fails(
        tf,
        sim_dp,
        hcl,
        r"Initiator Refused.*does not show target.*was deleted: nothing was left on the array",
    )


def test_acc_image_master_no_access_record_possible_leaves_nothing(
    tf: Harness, sim_dp: DataPlaneSim, disk_image: DiskImage
) -> None:
    sim_dp.set_faults(
        [
            {
                "method": "POST",
                "path": "^/v1/access_control_records$",
                "error_rate": 1.0,
                "error_status": 500,
            }
        ]
    )
    hcl = master_config(sim_dp.unique("noacl"), str(disk_image.qcow2))
    try:
        _fails(
            tf,
            sim_dp,
            hcl,
            r"Error Creating Access Control Record.*was deleted: nothing was left on the array",
        )
    finally:
        sim_dp.clear_faults()


def test_acc_image_master_delete_refused_while_outside_clones_exist(
    tf: Harness, sim_dp: DataPlaneSim, disk_image: DiskImage
) -> None:
    from tfnimble.nimble.client import volumes

    name = sim_dp.unique("busy")
    outside = sim_dp.unique("outside")
    before = sim_dp.inventory()
    hcl = master_config(name, str(disk_image.qcow2))

    def clone_behind_terraforms_back() -> None:
        vol = sim_dp.volume(name)
        snap_id = _snapshot_id(sim_dp, vol.id)
        volumes.clone_volume(sim_dp.client, outside, snap_id)

    def delete_outside_clone() -> None:
        volumes.offline_and_delete_volume(sim_dp.client, sim_dp.volume(outside).id)

    tf.run(
        Case(
            env=sim_dp.env(),
            steps=[
                Step(config=hcl),
                Step(
                    preconfig=clone_behind_terraforms_back,
                    config=config(),  # the master leaves the configuration: destroy it
                    expect_error=rf"Image Master Still Has Clones.*{name}.*{outside}",
                ),
                Step(preconfig=delete_outside_clone, config=hcl),
            ],
            check_destroy=sim_dp.back_to(before),
        )
    )


def _snapshot_id(sim: DataPlaneSim, vol_id: str) -> str:
    from tfnimble.nimble.client import snapshots

    return str(snapshots.find_snapshot_by_name(sim.client, vol_id, "ito-base").id)


@pytest.mark.parametrize("scope", ["group", "volume"])
def test_acc_two_image_masters_each_written_to_and_read_from_its_own_lun(
    tf: Harness, request: pytest.FixtureRequest, disk_image: DiskImage, tmp_path: Path, scope: str
) -> None:
    """Two image masters with different images, written in one apply: under a group-scoped
    target both are LUNs of one target seen by the same initiator, so each write must go to
    the LUN its own access record was given. Read back through one host's records, the two
    volumes have distinct LUNs and each LUN holds its own image. With volume-scoped targets
    each volume is its own target instead."""
    from tfnimble.nimble.client import access_control_records as acrs

    fixture = "sim_dp" if scope == "group" else "sim_dp_volume_scope"
    sim_dp: DataPlaneSim = request.getfixturevalue(fixture)
    from tfnimble.nimble.client import initiator_groups as igs

    names = [sim_dp.unique("mastera"), sim_dp.unique("masterb")]
    other = tmp_path / "other.raw"
    other.write_bytes(os.urandom(8 << 20))
    sources = {names[0]: (disk_image.qcow2, disk_image.raw_sha256, 64 << 20)}
    sources[names[1]] = (other, sha256_of(other), 8 << 20)
    before = sim_dp.inventory()
    hcl = config(
        *(
            resource("nimble_image_master", f"m{i}", name=name, source=str(sources[name][0]))
            for i, name in enumerate(names)
        )
    )

    def each_lun_holds_its_own_image(_state: object) -> None:
        vols = [sim_dp.volume(name) for name in names]
        gst = sim_dp.group_target()
        assert (gst is None) == (scope == "volume")
        if gst is not None:
            assert {v.target_name for v in vols} == {gst}
        else:
            assert len({v.target_name for v in vols}) == 2
        group = igs.create_initiator_group(sim_dp.client, sim_dp.unique("reader"), [READER])
        records = []
        try:
            for vol in vols:
                records.append(acrs.create_access_control_record(sim_dp.client, vol.id, group.id))
            luns = [exported_lun(acr.lun) for acr in records]
            if gst is not None:
                assert len(set(luns)) == 2, luns  # one target, a LUN per volume
            for vol, lun in zip(vols, luns, strict=True):
                _, want, size = sources[vol.name]
                out = tmp_path / f"{vol.name}.raw"
                got = read_lun(sim_dp.portal, vol.target_name, READER, out, size, lun=lun)
                assert got == want, f"LUN {lun} does not hold the image of {vol.name}"
        finally:
            for acr in records:
                acrs.delete_access_control_record(sim_dp.client, acr.id, missing_ok=True)
            igs.delete_initiator_group(sim_dp.client, group.id, missing_ok=True)

    tf.run(
        Case(
            env=sim_dp.env(),
            steps=[Step(config=hcl, checks=[each_lun_holds_its_own_image])],
            check_destroy=sim_dp.back_to(before),
        )
    )
