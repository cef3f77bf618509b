"""Image Transfer Optimization end to end: examples/ito-fanout applied as it is.

A real disk image (partition table + ext4 with files, as qcow2) is written once over iSCSI
by nimble_image_master; 20 nimble_clone_volume clones of its snapshot are made; every clone
is read back over iSCSI by an initiator that the array lets in, and must hold exactly the
image's bytes; and the clones must cost the pool (almost) nothing.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from harness import Case, Harness, State, Step
from nimble_fixtures import DataPlaneSim, DiskImage, exported_lun, read_lun

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ito-fanout"
IMAGE = Path("images/ubuntu-24.04.qcow2")
READER = "iqn.2026-11.io.ito:e2e-instance"
CLONES = 20
MIB = 1 << 20


def fanout_config() -> str:
    return "\n".join((EXAMPLE / f).read_text() for f in ("main.tf", "variables.tf", "outputs.tf"))


@pytest.mark.parametrize("scope", ["group", "volume"])
def test_acc_ito_image_master_and_20_clones_hold_the_image(
    tf: Harness,
    request: pytest.FixtureRequest,
    disk_image: DiskImage,
    tmp_path: Path,
    record_property,
    scope: str,
) -> None:
    """In both target scopes: under the group target every clone is read back at its own
    LUN of one target; under volume scope from its own target."""
    fixture = "sim_dp" if scope == "group" else "sim_dp_volume_scope"
    sim_dp: DataPlaneSim = request.getfixturevalue(fixture)
    prefix = sim_dp.unique("e2e")
    before = sim_dp.inventory()
    measured: dict[str, float] = {}

    def place_image() -> None:
        assert tf.workdir is not None
        (tf.workdir / IMAGE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(disk_image.qcow2, tf.workdir / IMAGE)

    def env(count: int) -> dict[str, str]:
        return {
            **sim_dp.env(),
            "TF_VAR_name_prefix": prefix,
            "TF_VAR_clone_count": str(count),
            "TF_VAR_image_sha256": disk_image.qcow2_sha256,
        }

    def after_master(state: State) -> None:
        apply = next(r for r in reversed(tf.log) if "apply" in r.argv)
        measured["master_apply_s"] = apply.seconds
        measured["pool_used_after_master"] = sim_dp.pool_used_bytes()
        master = state.attrs("nimble_image_master.image")
        assert master["image_sha256"] == disk_image.qcow2_sha256
        assert master["sha256"] == disk_image.qcow2_sha256

    def after_clones(state: State) -> None:
        apply = next(r for r in reversed(tf.log) if "apply" in r.argv)
        measured["clones_apply_s"] = apply.seconds
        grown = sim_dp.pool_used_bytes() - measured["pool_used_after_master"]
        measured["pool_growth_for_clones"] = grown
        clones = [state.attrs(f"nimble_clone_volume.boot[{i}]") for i in range(CLONES)]
        snap = state.outputs["snapshot_id"]
        assert all(c["snapshot_id"] == snap for c in clones)
        # Zero-copy: the array reports no space used by any clone, and the pool filesystem
        # grew by metadata only (far less than one clone's 64 MiB, for all 20 together).
        assert all(c["space_used_bytes"] == 0 for c in clones), [
            c["space_used_bytes"] for c in clones
        ]
        assert grown < 4 * MIB, f"the pool grew by {grown} bytes for {CLONES} clones"
        read_every_clone(sim_dp, [c["id"] for c in clones], disk_image, tmp_path, measured)

    tf.run(
        Case(
            steps=[
                Step(
                    preconfig=place_image,
                    config=fanout_config(),
                    env=env(0),
                    checks=[after_master],
                ),
                Step(config=fanout_config(), env=env(CLONES), checks=[after_clones]),
            ],
            env=env(CLONES),
            check_destroy=sim_dp.back_to(before),
        )
    )
    logical = CLONES * disk_image.size_mib * MIB
    record_property("master_apply_seconds", round(measured["master_apply_s"], 2))
    record_property("clones_apply_seconds", round(measured["clones_apply_s"], 2))
    record_property("clones_logical_bytes", logical)
    record_property("clones_physical_bytes", measured["pool_growth_for_clones"])
    record_property("read_back_seconds", round(measured["read_back_s"], 2))
    print(
        f"\nITO e2e: master apply {measured['master_apply_s']:.1f}s; {CLONES} clones apply "
        f"{measured['clones_apply_s']:.1f}s; clones logical {logical >> 20} MiB, physical "
        f"{measured['pool_growth_for_clones']} bytes; read back {CLONES} clones in "
        f"{measured['read_back_s']:.1f}s"
    )


def read_every_clone(
    sim: DataPlaneSim,
    clone_ids: list[str],
    image: DiskImage,
    tmp_path: Path,
    measured: dict[str, float],
) -> None:
    """Give an instance initiator access to every clone, read each one back over iSCSI and
    compare with the image's raw bytes; the access is removed again whatever happens."""
    from tfnimble.nimble.client import access_control_records as acrs
    from tfnimble.nimble.client import initiator_groups as igs
    from tfnimble.nimble.client import volumes

    group = igs.create_initiator_group(sim.client, sim.unique("instances"), [READER])
    records = []
    try:
        for vid in clone_ids:
            records.append(acrs.create_access_control_record(sim.client, vid, group.id))
        start = time.monotonic()
        wrong = []
        for vid, acr in zip(clone_ids, records, strict=True):
            vol = volumes.get_volume(sim.client, vid)
            out = tmp_path / "clone.raw"
            lun = exported_lun(acr.lun)  # each clone at its own LUN of the group target
            if read_lun(sim.portal, vol.target_name, READER, out, lun=lun) != image.raw_sha256:
                wrong.append(vol.name)
            out.unlink()
        measured["read_back_s"] = time.monotonic() - start
        assert not wrong, f"clones whose bytes differ from the image: {wrong}"
    finally:
        for acr in records:
            acrs.delete_access_control_record(sim.client, acr.id, missing_ok=True)
        igs.delete_initiator_group(sim.client, group.id, missing_ok=True)
