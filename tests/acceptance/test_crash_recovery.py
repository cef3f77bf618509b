"""Crashes and recovery with real terraform: a `count = 60` clone fan-out interrupted by kill -9
of terraform's process group, of the provider alone, or by an array that answers nothing for
10 s, converges on the next apply with 0 orphans and 0 duplicates and no import; a same-named
volume that is not provably an untouched leftover is refused with the import command; and a
snapshot destroyed with its unreferenced clones goes in one run.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from crash_kit import StateServer, master_hcl, prepare, reset, run_trial
from harness import Case, Harness, Step
from nimble_fixtures import DataPlaneSim, DiskImage, Sim
from nimble_hcl import config, resource

CLONES = 60
TRIALS = 3


@pytest.mark.parametrize("how", ["kill-terraform", "kill-provider", "unreachable"])
def test_acc_interrupted_fanout_converges(tf: Harness, sim: Sim, how: str) -> None:
    prefix = sim.unique("crash")
    before = sim.inventory()
    backend = StateServer()
    env = prepare(tf, Path(tf.root), sim, prefix, backend)
    try:
        for trial in range(TRIALS):
            got = run_trial(how, tf, sim, prefix, CLONES, at=3 + 4 * trial)
            print(f"\n{how} trial {trial}: {got}")
            assert got.created_before_interrupt > 0, got
            assert (got.orphans, got.duplicates, got.in_state) == (0, 0, CLONES), got
            assert got.plan_empty, got
            reset(tf, sim, prefix, env)
    finally:
        tf.terraform("destroy", "-auto-approve", "-no-color", "-input=false", env=env)
        backend.stop()
    sim.back_to(before)()


def refusal_config(prefix: str) -> str:
    return (
        master_hcl(prefix)
        + f"""
variable "keys" {{
  type = list(string)
}}

resource "nimble_clone_volume" "c" {{
  for_each    = toset(var.keys)
  name        = "{prefix}-${{each.key}}"
  snapshot_id = nimble_snapshot.base.id
}}
"""
    )


def test_acc_leftovers_that_are_not_provably_ours_are_refused(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import access_control_records as acrs
    from tfnimble.nimble.client import initiator_groups as igs
    from tfnimble.nimble.client import snapshots, volumes

    prefix = sim.unique("refuse")
    before = sim.inventory()
    cl = sim.client
    keys = '["written", "acr", "foreign", "other-snap", "connected", "untouched"]'
    env = {**sim.env(), "TF_VAR_keys": "[]"}
    tf.workdir = Path(tf.root) / "refusal"
    tf.workdir.mkdir()
    tf.write_config(refusal_config(prefix))
    tf.init(env=env)
    tf.terraform("apply", "-auto-approve", "-no-color", "-input=false", env=env)
    master = sim.volume(f"{prefix}-master")
    base = snapshots.find_snapshot_by_name(cl, master.id, "base")
    other = snapshots.create_snapshot(cl, master.id, "other")
    made = {
        key: volumes.clone_volume(cl, f"{prefix}-{key}", base.id)
        for key in ("written", "acr", "connected", "untouched")
    }
    made["other-snap"] = volumes.clone_volume(cl, f"{prefix}-other-snap", other.id)
    made["foreign"] = volumes.Volume.from_api(
        cl.create_object(
            "volumes",
            {"name": f"{prefix}-foreign", "clone": True, "base_snap_id": base.id},
            kind="clone volume",
            name=f"{prefix}-foreign",
        )
    )
    sim.admin("POST", f"volumes/{made['written'].id}/write", {"bytes": 1 << 20})
    sim.admin("PUT", f"volumes/{made['connected'].id}/connections", {"count": 1})
    group = igs.create_initiator_group(cl, f"{prefix}-hosts", ["iqn.2024-01.test:refusal"])
    acr = acrs.create_access_control_record(cl, made["acr"].id, group.id)
    try:
        env["TF_VAR_keys"] = keys
        res = tf.terraform(
            "apply", "-auto-approve", "-no-color", "-input=false", env=env, check=False
        )
        assert res.returncode != 0
        flat = " ".join(res.output.replace("│", " ").split())
        reasons = {
            "written": "data was written to it (1048576 bytes in use)",
            "acr": f"it has access control records for {prefix}-hosts",
            "foreign": "does not carry this provider's marker",
            "other-snap": f"it is not a clone of snapshot {base.id}",
            "connected": "1 initiator connection(s) are open to it",
        }
        for key, why in reasons.items():
            vol = made[key]
            assert f'Could not create clone volume "{vol.name}"' in flat, flat[-3000:]
            assert f"(ID {vol.id})" in flat and why in flat, key
            assert f"terraform import 'ADDRESS' {vol.id}" in flat
            assert f'import {{ to = ADDRESS id = "{vol.id}" }}' in flat
            assert f'with nimble_clone_volume.c["{key}"]' in flat
        state = tf.state(env=env)
        assert state.attrs('nimble_clone_volume.c["untouched"]')["id"] == made["untouched"].id
        for key in reasons:
            assert f'nimble_clone_volume.c["{key}"]' not in state
        # Nothing refused was touched.
        assert sim.volume(f"{prefix}-written").vol_usage_compressed_bytes == 1 << 20
        assert acrs.get_access_control_record(cl, acr.id) == acr
        assert {v.name for v in snapshots.list_clones_of_snapshot(cl, base.id)} == {
            made[k].name for k in made if k != "other-snap"
        }
    finally:
        acrs.delete_access_control_record(cl, acr.id, missing_ok=True)
        igs.delete_initiator_group(cl, group.id, missing_ok=True)
        for key in ("written", "acr", "foreign", "other-snap", "connected"):
            volumes.offline_and_delete_volume(cl, made[key].id, force=True)
        snapshots.delete_snapshot(cl, other.id)
        tf.terraform("destroy", "-auto-approve", "-no-color", "-input=false", env=env)
    sim.back_to(before)()


def test_acc_snapshot_and_unreferenced_clones_destroy_in_one_run(tf: Harness, sim: Sim) -> None:
    """As `terraform plan -generate-config-out` writes it: the clones name the snapshot by a
    literal ID, so nothing orders their deletes before the snapshot's."""
    prefix = sim.unique("order")
    before = sim.inventory()
    master = master_hcl(prefix)

    def with_clones(state_snapshot_id: str) -> str:
        return master + "".join(
            f"""
resource "nimble_clone_volume" "c{i}" {{
  name        = "{prefix}-c{i}"
  snapshot_id = "{state_snapshot_id}"
}}
"""
            for i in range(12)
        )

    tf.workdir = Path(tf.root) / "order"
    tf.workdir.mkdir()
    env = sim.env()
    tf.write_config(master)
    tf.init(env=env)
    tf.terraform("apply", "-auto-approve", "-no-color", "-input=false", env=env)
    snap_id = tf.state(env=env).attrs("nimble_snapshot.base")["id"]
    tf.write_config(with_clones(snap_id))
    tf.terraform("apply", "-auto-approve", "-no-color", "-input=false", env=env)
    assert tf.plan_exitcode(env=env).returncode == 0
    res = tf.terraform("destroy", "-auto-approve", "-no-color", "-input=false", env=env)
    assert "Destroy complete! Resources: 14 destroyed." in res.output
    sim.back_to(before)()


def test_acc_image_write_uses_its_own_group_and_removes_leftovers(
    tf: Harness, sim_dp: DataPlaneSim, disk_image: DiskImage, tmp_path: Path
) -> None:
    """A production group holding the writer's IQN is not used or touched; the temporary group
    a killed image write left (its owner process is gone) goes with its access record."""
    import subprocess
    import sys

    from tfnimble.nimble import temp_access as ta
    from tfnimble.nimble.client import access_control_records as acrs
    from tfnimble.nimble.client import initiator_groups as igs
    from tfnimble.nimble.client import volumes

    cl, iqn = sim_dp.client, "iqn.2026-11.io.ito:acc-crash-writer"
    before = sim_dp.inventory()
    prod_vol = volumes.create_volume(cl, sim_dp.unique("prodvol"), 64)
    killed_vol = volumes.create_volume(cl, sim_dp.unique("killedvol"), 64)
    prod = igs.create_initiator_group(cl, sim_dp.unique("prod"), [iqn])
    prod_acr = acrs.create_access_control_record(cl, prod_vol.id, prod.id)
    prod = igs.get_initiator_group(cl, prod.id)  # as it is with its access record
    assert prod is not None
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = ta.owner_token(dead.pid)
    dead.wait()
    leftover = igs.create_initiator_group(
        cl,
        ta.TEMP_PREFIX + "0dead0ff",
        [iqn],
        description=ta.TEMP_DESCRIPTION + "killed-master",
        metadata=[(ta.TEMP_KEY, ta.TEMP_VALUE), (ta.OWNER_KEY, owner)],
    )
    leftover_acr = acrs.create_access_control_record(cl, killed_vol.id, leftover.id)
    name = sim_dp.unique("master")
    src = tmp_path / "image.qcow2"
    shutil.copy(disk_image.qcow2, src)

    seen_on_prod: set[str] = set()
    done = threading.Event()

    def watch_prod() -> None:
        # While the image is written (seconds over iSCSI), the production group gets no record.
        while not done.is_set():
            seen_on_prod.update(
                a.id for a in acrs.list_access_control_records(cl, initiator_group_id=prod.id)
            )
            done.wait(0.02)

    watcher = threading.Thread(target=watch_prod, daemon=True)

    def production_untouched_leftover_gone(_state: object) -> None:
        done.set()
        watcher.join(timeout=10)
        assert seen_on_prod == {prod_acr.id}
        assert igs.get_initiator_group(cl, prod.id) == prod
        assert acrs.get_access_control_record(cl, prod_acr.id) == prod_acr
        assert acrs.list_access_control_records(cl, initiator_group_id=prod.id) == [prod_acr]
        assert igs.get_initiator_group(cl, leftover.id) is None
        assert acrs.get_access_control_record(cl, leftover_acr.id) is None
        temps = [g.name for g in igs.list_initiator_groups(cl) if ta.is_temporary(g)]
        assert temps == [], temps  # the write's own group is gone too

    try:
        tf.run(
            Case(
                env=sim_dp.env(),
                steps=[
                    Step(
                        config=config(
                            resource(
                                "nimble_image_master",
                                "test",
                                name=name,
                                source=str(src),
                                initiator_name=iqn,
                            )
                        ),
                        preconfig=watcher.start,
                        checks=[production_untouched_leftover_gone],
                    )
                ],
            )
        )
    finally:
        done.set()
        acrs.delete_access_control_record(cl, prod_acr.id, missing_ok=True)
        igs.delete_initiator_group(cl, prod.id, missing_ok=True)
        acrs.delete_access_control_record(cl, leftover_acr.id, missing_ok=True)
        igs.delete_initiator_group(cl, leftover.id, missing_ok=True)
        for vol in (prod_vol, killed_vol):
            volumes.offline_and_delete_volume(cl, vol.id, force=True)
    sim_dp.back_to(before)()
