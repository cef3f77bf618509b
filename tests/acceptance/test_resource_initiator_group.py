"""nimble_initiator_group against nimble-sim."""

from __future__ import annotations

from harness import Case, Harness, State, Step
from nimble_fixtures import Sim
from nimble_hcl import config, expect, resource

IG = "nimble_initiator_group.test"
HOST_A = "iqn.1993-08.org.debian:01:controller-a"
HOST_B = "iqn.1993-08.org.debian:01:controller-b"


def group_config(name: str, **attrs: object) -> str:
    return config(resource("nimble_initiator_group", "test", name=name, **attrs))


def test_acc_initiator_group_basic_import_update(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import initiator_groups

    name = sim.unique("ig")
    before = sim.inventory()
    ids: dict[str, str] = {}

    def remember(state: State) -> None:
        ids["g"] = state.attrs(IG)["id"]

    def members_on_array(state: State) -> None:
        assert state.attrs(IG)["id"] == ids["g"]
        group = initiator_groups.find_initiator_group_by_name(sim.client, f"{name}-2")
        assert sorted(group.iqns) == [HOST_B]

    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(
                    config=group_config(name, initiators=[HOST_B, HOST_A]),
                    checks=[expect(IG, "initiators", [HOST_A, HOST_B]), remember],
                ),
                Step(import_state=True, resource_name=IG, import_state_verify=True),
                Step(
                    import_state=True,
                    resource_name=IG,
                    import_state_id=name,
                    import_state_verify=True,
                ),
                Step(
                    config=group_config(f"{name}-2", initiators=[HOST_B], description="glance"),
                    expect_actions={IG: ["update"]},
                    checks=[expect(IG, "description", "glance"), members_on_array],
                ),
            ],
            check_destroy=sim.back_to(before),
        )
    )


def test_acc_initiator_group_disappears_and_bad_iqn(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import initiator_groups

    name = sim.unique("igd")

    def delete_behind_terraform() -> None:
        group = initiator_groups.find_initiator_group_by_name(sim.client, name)
        initiator_groups.delete_initiator_group(sim.client, group.id)

    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(
                    config=group_config(name, initiators=["not-an-iqn"]),
                    expect_error=r"Invalid Initiator Name.*initiators.*'not-an-iqn'",
                ),
                Step(config=group_config(name)),
                Step(
                    config=group_config(name),
                    preconfig=delete_behind_terraform,
                    plan_only=True,
                    expect_non_empty_plan=True,
                ),
            ],
        )
    )
