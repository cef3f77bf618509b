"""data.nimble_discovery against nimble-sim."""

from __future__ import annotations

from harness import Case, Harness, Step
from nimble_fixtures import Sim
from nimble_hcl import config, data, expect

ADDR = "data.nimble_discovery.d"


def test_acc_data_source_discovery(tf: Harness, sim: Sim) -> None:
    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(
                    config=config(data("nimble_discovery", "d")),
                    checks=[
                        expect(ADDR, "group_name", "group-sim"),
                        expect(ADDR, "discovery_ip", "127.0.0.1"),
                        expect(ADDR, "data_ips", ["127.0.0.1"]),
                    ],
                )
            ],
        )
    )
