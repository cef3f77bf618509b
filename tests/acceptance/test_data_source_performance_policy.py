"""data.nimble_performance_policy against nimble-sim."""

from __future__ import annotations

from harness import Case, Harness, Step
from nimble_fixtures import Sim
from nimble_hcl import config, data, expect

ADDR = "data.nimble_performance_policy.p"


def test_acc_data_source_performance_policy(tf: Harness, sim: Sim) -> None:
    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(
                    config=config(data("nimble_performance_policy", "p", name="SQL Server")),
                    checks=[expect(ADDR, "block_size", 8192), expect(ADDR, "name", "SQL Server")],
                ),
                Step(
                    config=config(data("nimble_performance_policy", "p", name="nope")),
                    expect_error=r"Performance Policy Not Found.*Available policies: default",
                ),
            ],
        )
    )
