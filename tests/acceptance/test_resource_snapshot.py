"""nimble_snapshot against nimble-sim, including the destroy that unmanaged clones block."""

from __future__ import annotations

from harness import Case, Harness, State, Step
from nimble_fixtures import Sim
from nimble_hcl import config, expect, resource

SNAP = "nimble_snapshot.test"


def snapshot_config(
    vol: str, name: str = "golden", with_snapshot: bool = True, **attrs: object
) -> str:
    blocks = [resource("nimble_volume", "base", name=vol, size_mib=2048)]
    if with_snapshot:
        blocks.append(
            resource(
                "nimble_snapshot", "test", name=name, volume_id="=nimble_volume.base.id", **attrs
            )
        )
    return config(*blocks)


def test_acc_snapshot_basic_import_update_replace(tf: Harness, sim: Sim) -> None:
    vol = sim.unique("snapv")
    before = sim.inventory()
    ids: dict[str, str] = {}

    def remember(state: State) -> None:
        ids["s"] = state.attrs(SNAP)["id"]

    def same(state: State) -> None:
        assert state.attrs(SNAP)["id"] == ids["s"]

    def replaced(state: State) -> None:
        assert state.attrs(SNAP)["id"] != ids["s"]

    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(
                    config=snapshot_config(vol),
                    checks=[
                        expect(SNAP, "size_mib", 2048),
                        expect(SNAP, "online", False),
                        expect(SNAP, "writable", False),
                        expect(SNAP, "volume_name", vol),
                        remember,
                    ],
                ),
                Step(import_state=True, resource_name=SNAP, import_state_verify=True),
                Step(
                    import_state=True,
                    resource_name=SNAP,
                    import_state_id=f"{vol}/golden",
                    import_state_verify=True,
                ),
                Step(
                    config=snapshot_config(vol, name="golden-v2", description="base", online=True),
                    expect_actions={SNAP: ["update"]},
                    checks=[expect(SNAP, "name", "golden-v2"), expect(SNAP, "online", True), same],
                ),
                Step(
                    config=snapshot_config(vol, name="golden-v2", writable=True),
                    expect_actions={SNAP: ["delete", "create"]},
                    checks=[expect(SNAP, "writable", True), replaced],
                ),
            ],
            check_destroy=sim.back_to(before),
        )
    )


def test_acc_snapshot_disappears(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import snapshots

    vol = sim.unique("snapd")

    def delete_behind_terraform() -> None:
        snap = snapshots.find_snapshot_by_name(sim.client, sim.volume(vol).id, "golden")
        snapshots.delete_snapshot(sim.client, snap.id)

    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(config=snapshot_config(vol)),
                Step(
                    config=snapshot_config(vol),
                    preconfig=delete_behind_terraform,
                    plan_only=True,
                    expect_non_empty_plan=True,
                ),
            ],
            check_destroy=sim.assert_no_volume(vol),
        )
    )


def test_acc_snapshot_destroy_blocked_by_unmanaged_clones(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import snapshots, volumes

    vol = sim.unique("snapc")
    outside = [f"{vol}-outside-a", f"{vol}-outside-b"]

    def clone_behind_terraform() -> None:
        snap = snapshots.find_snapshot_by_name(sim.client, sim.volume(vol).id, "golden")
        for name in outside:
            volumes.clone_volume(sim.client, name, snap.id)

    def delete_outside_clones() -> None:
        for name in outside:
            volumes.offline_and_delete_volume(sim.client, sim.volume(name).id)

    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(config=snapshot_config(vol)),
                Step(
                    config=snapshot_config(vol, with_snapshot=False),
                    preconfig=clone_behind_terraform,
                    expect_error=(
                        r'Snapshot Still Has Clones.*Snapshot "golden" still has 2 clones not '
                        rf"managed by this configuration: {outside[0]}, {outside[1]}\..*"
                        r"SM_snap_has_clone"
                    ),
                ),
                Step(config=snapshot_config(vol), preconfig=delete_outside_clones),
            ],
            check_destroy=sim.assert_no_volume(vol, *outside),
        )
    )
