"""data.nimble_volume against nimble-sim: look-ups by name and by ID."""

from __future__ import annotations

from harness import Case, Harness, State, Step
from nimble_fixtures import Sim
from nimble_hcl import config, data, resource


def test_acc_data_source_volume(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import volumes

    name = sim.unique("dsv")
    vol = volumes.create_volume(sim.client, name, 3072, description="made outside")
    try:

        def check(state: State) -> None:
            for addr in ("data.nimble_volume.by_name", "data.nimble_volume.by_id"):
                got = state.attrs(addr)
                assert got["id"] == vol.id and got["name"] == name, got
                assert got["size_mib"] == 3072 and got["description"] == "made outside"
                assert got["clone"] is False and got["target_name"] == vol.target_name

        tf.run(
            Case(
                env=sim.env(),
                steps=[
                    Step(
                        config=config(
                            data("nimble_volume", "by_name", name=name),
                            data("nimble_volume", "by_id", id=vol.id),
                        ),
                        checks=[check],
                    ),
                    Step(
                        config=config(data("nimble_volume", "x", name=name, id=vol.id)),
                        expect_error=r"Invalid Volume Lookup.*exactly one of id and name",
                    ),
                    Step(
                        config=config(data("nimble_volume", "x", name=f"{name}-nope")),
                        expect_error=rf'Volume Not Found.*"{name}-nope"',
                    ),
                    # Its output feeds a resource: a clone of a snapshot of it.
                    Step(
                        config=config(
                            data("nimble_volume", "src", name=name),
                            resource(
                                "nimble_snapshot",
                                "s",
                                name="snap",
                                volume_id="=data.nimble_volume.src.id",
                            ),
                        ),
                    ),
                ],
            )
        )
    finally:
        volumes.offline_and_delete_volume(sim.client, vol.id)
