"""data.nimble_snapshot against nimble-sim: by ID, and by volume and name."""

from __future__ import annotations

from harness import Case, Harness, State, Step
from nimble_fixtures import Sim
from nimble_hcl import config, data, resource


def test_acc_data_source_snapshot(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import snapshots, volumes

    name = sim.unique("dss")
    vol = volumes.create_volume(sim.client, name, 1024)
    snap = snapshots.create_snapshot(sim.client, vol.id, "golden", description="outside")
    try:

        def check(state: State) -> None:
            for addr in ("data.nimble_snapshot.by_name", "data.nimble_snapshot.by_id"):
                got = state.attrs(addr)
                assert got["id"] == snap.id and got["volume_name"] == name, got
                assert got["size_mib"] == 1024 and got["description"] == "outside"
            clone = state.attrs("nimble_clone_volume.c")
            assert clone["base_snapshot_name"] == "golden"

        tf.run(
            Case(
                env=sim.env(),
                steps=[
                    Step(
                        config=config(
                            data("nimble_snapshot", "by_name", volume_id=vol.id, name="golden"),
                            data("nimble_snapshot", "by_id", id=snap.id),
                            resource(
                                "nimble_clone_volume",
                                "c",
                                name=f"{name}-clone",
                                snapshot_id="=data.nimble_snapshot.by_name.id",
                            ),
                        ),
                        checks=[check],
                    ),
                    Step(
                        config=config(data("nimble_snapshot", "x", name="golden")),
                        expect_error=r"Invalid Snapshot Lookup.*either id, or both volume_id",
                    ),
                ],
                check_destroy=sim.assert_no_volume(f"{name}-clone"),
            )
        )
    finally:
        snapshots.delete_snapshot(sim.client, snap.id)
        volumes.offline_and_delete_volume(sim.client, vol.id)
