"""ITO all the way: instances boot from zero-copy clones of one image, each over iSCSI.

examples/boot is applied as it is against the data-plane sim (volumes are reflink files,
exported by tgtd): a real bootable image (tools/bootimage: the Debian kernel, busybox, SYSLINUX)
is written once to a nimble_image_master, N clones are made, each with its own initiator group
and access control record, and one instance also gets a full copy for comparison. Then N qemu
instances boot, each from its own clone with qemu's userspace iSCSI driver and its own
initiator name; each writes a marker to its own disk and says so on its serial console. The
test reads every clone back over iSCSI and asks the array (REST) what the boots cost.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from harness import Case, Harness, State, Step
from nimble_fixtures import DataPlaneSim, exported_lun, read_lun, sha256_of

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "bootimage"))

import bootimage  # noqa: E402
import bootvm as vm  # noqa: E402

EXAMPLE = ROOT / "examples" / "boot"
IMAGE = Path("images/tfnimble-boot.raw")
N = 3
INTRUDER = "iqn.2026-12.io.ito:not-allowed"
#: An instance's whole boot, on a loaded machine without KVM: generous, it is not a margin.
BOOT_TIMEOUT = 480


@pytest.fixture(scope="session")
def boot_image(tmp_path_factory: pytest.TempPathFactory) -> bootimage.BootImage:
    from testbed import caps

    caps.require_tools(vm.QEMU, "qemu-io", "mkfs.vfat", "mcopy", "syslinux")
    try:
        return bootimage.ensure()
    except bootimage.BuildError as exc:
        caps.missing(f"cannot build the boot image: {exc}")
        raise


def boot_config() -> str:
    return "\n".join((EXAMPLE / f).read_text() for f in ("main.tf", "variables.tf", "outputs.tf"))


def clone_usage(sim: DataPlaneSim, vol_ids: list[str]) -> dict[str, int]:
    """What the array (REST) says each volume uses, in bytes."""
    from tfnimble.nimble.client import volumes

    return {v: volumes.get_volume(sim.client, v).vol_usage_compressed_bytes for v in vol_ids}


def pool_usage(sim: DataPlaneSim) -> int:
    from tfnimble.nimble.client import pools

    return sum(p.usage for p in pools.list_pools(sim.client))


@pytest.mark.timeout(BOOT_TIMEOUT + 300)
def test_acc_boot_instances_from_clones(
    tf: Harness,
    sim_dp: DataPlaneSim,
    boot_image: bootimage.BootImage,
    tmp_path: Path,
    record_property,
) -> None:
    how, why = vm.accel()
    prefix = sim_dp.unique("boot")
    before = sim_dp.inventory()
    raw = boot_image.path.read_bytes()
    blank = b"\0" * bootimage.MARKER_BYTES_WRITTEN
    lo, hi = bootimage.MARKER_OFFSET, bootimage.MARKER_OFFSET + bootimage.MARKER_BYTES_WRITTEN
    assert raw[lo:hi] == blank, "the image itself must carry no marker"
    measured: dict[str, float] = {}

    def place_image() -> None:
        assert tf.workdir is not None
        (tf.workdir / IMAGE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(boot_image.path, tf.workdir / IMAGE)

    def disk(inst: dict[str, object], initiator: str | None = None) -> vm.Disk:
        return vm.Disk(
            portal=sim_dp.portal,
            target=str(inst["boot_target"]),
            lun=exported_lun(inst["boot_lun"]),  # type: ignore[arg-type]
            initiator=initiator or str(inst["initiator"]),
        )

    def boot_and_check(state: State) -> None:
        fleet = state.outputs["instances"]
        assert len(fleet) == N
        clone_ids = [str(i["boot_volume_id"]) for i in fleet]
        copy_id = str(fleet[0]["copy_volume_id"])
        assert all(i["copy_volume_id"] is None for i in fleet[1:])
        usage_before = clone_usage(sim_dp, [*clone_ids, copy_id])
        pool_before = pool_usage(sim_dp)
        # Zero-copy: N clones cost nothing; the one full copy costs a whole image.
        assert all(usage_before[c] == 0 for c in clone_ids), usage_before
        zero = bytes(4096)
        image_data = sum(4096 for k in range(0, len(raw), 4096) if raw[k : k + 4096] != zero)
        assert usage_before[copy_id] >= image_data // 2, (usage_before[copy_id], image_data)

        work = tmp_path / "instances"
        started = time.monotonic()
        fleet_vms = [vm.start(n, disk(i), work, how) for n, i in enumerate(fleet)]
        intruder = vm.start(N, disk(fleet[0], INTRUDER), work / "intruder", how)
        try:
            vm.wait([*fleet_vms, intruder], BOOT_TIMEOUT)
        finally:
            vm.stop([*fleet_vms, intruder])
        measured["boot_all_s"] = time.monotonic() - started

        # Every instance booted from its clone, learnt its number and printed its line.
        report = {
            v.number: (v.boot_line() or v.console_text[-400:], v.error_text[-400:])
            for v in fleet_vms
        }
        assert [v.booted_as() for v in fleet_vms] == list(range(N)), report
        assert not any(v.timed_out for v in fleet_vms), report
        # The intruder's initiator is in no access control record: the array lets it not even
        # log in, so qemu cannot open the disk and nothing boots.
        assert intruder.proc.returncode not in (0, None), intruder.error_text
        assert "iSCSI" in intruder.error_text or "iscsi" in intruder.error_text, intruder.error_text
        assert intruder.booted_as() is None and "SYSLINUX" not in intruder.console_text

        # Each clone holds its own instance's marker and otherwise exactly the image; the
        # master and its snapshot hold none (read over iSCSI as the instance's initiator).
        for n, inst in enumerate(fleet):
            out = tmp_path / f"clone-{n}.raw"
            read_lun(
                sim_dp.portal,
                str(inst["boot_target"]),
                str(inst["initiator"]),
                out,
                lun=exported_lun(inst["boot_lun"]),
            )
            data = out.read_bytes()
            out.unlink()
            assert len(data) >= len(raw)
            marker = bootimage.parse_marker(data[lo:hi])
            assert marker == f"TFNIMBLE-MARKER instance={n} serial={vm.serial_for(n)}", marker
            assert data[lo:hi].rstrip(b"\0").endswith(b"\n")
            assert data[:lo] == raw[:lo], f"clone {n} differs from the image before the marker"
            assert data[hi : len(raw)] == raw[hi:], f"clone {n} differs after the marker"
        master_id = state.attrs("nimble_image_master.image")["id"]
        snap_id = state.outputs["snapshot_id"]
        for label, path in (
            ("master", sim_dp.volume_file(master_id)),
            ("snapshot", sim_dp.dataplane_dir / "pool" / "snapshots" / snap_id),
            ("full copy", sim_dp.volume_file(copy_id)),
        ):
            assert sha256_of(path) == boot_image.sha256, f"the {label} changed"

        # What the boots cost the pool, from the array's own space figures: each instance
        # wrote one 4 KiB marker, so each clone now uses that, rounded up to the pool's
        # allocation unit, and not an image.
        usage_after = clone_usage(sim_dp, [*clone_ids, copy_id])
        grown = pool_usage(sim_dp) - pool_before
        unit = os.statvfs(sim_dp.dataplane_dir / "pool").f_frsize
        each = -(-bootimage.MARKER_BYTES_WRITTEN // unit) * unit
        wrote = N * each
        assert {c: usage_after[c] for c in clone_ids} == {c: each for c in clone_ids}
        assert usage_after[copy_id] == usage_before[copy_id]
        assert grown == wrote, f"the pool grew by {grown} bytes for {N} markers of {each} bytes"
        measured["pool_growth"] = grown
        measured["full_copy_bytes"] = usage_before[copy_id]

    tf.run(
        Case(
            steps=[
                Step(
                    preconfig=place_image,
                    config=boot_config(),
                    checks=[boot_and_check],
                )
            ],
            env={
                **sim_dp.env(),
                "TF_VAR_name_prefix": prefix,
                "TF_VAR_instance_count": str(N),
                "TF_VAR_full_copy_count": "1",
                "TF_VAR_image_sha256": boot_image.sha256,
            },
            check_destroy=sim_dp.back_to(before),
        )
    )
    record_property("accel", how)
    record_property("boot_seconds", round(measured["boot_all_s"], 1))
    print(
        f"\nboot: {N} instances ({how}: {why}) booted from clones in "
        f"{measured['boot_all_s']:.1f}s; the pool grew by {int(measured['pool_growth'])} bytes; "
        f"one full copy uses {int(measured['full_copy_bytes'])} bytes"
    )
