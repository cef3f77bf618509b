"""data.nimble_pool against nimble-sim."""

from __future__ import annotations

from harness import Case, Harness, State, Step
from nimble_fixtures import Sim
from nimble_hcl import config, data


def test_acc_data_source_pool(tf: Harness, sim: Sim) -> None:
    def check(state: State) -> None:
        pool = state.attrs("data.nimble_pool.p")
        assert pool["is_default"] is True
        assert pool["capacity_bytes"] >= pool["free_space_bytes"] > 0
        assert len(pool["id"]) == 42

    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(
                    config=config(data("nimble_pool", "p", name="nope")),
                    expect_error=r'Pool Not Found.*"nope".*Available pools: default',
                ),
                Step(config=config(data("nimble_pool", "p", name="default")), checks=[check]),
            ],
        )
    )
