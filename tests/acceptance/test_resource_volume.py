"""nimble_volume against nimble-sim."""

from __future__ import annotations

from harness import Case, Harness, State, Step
from nimble_fixtures import Sim
from nimble_hcl import config, expect, resource

VOL = "nimble_volume.test"


def volume_config(name: str, **attrs: object) -> str:
    return config(resource("nimble_volume", "test", name=name, **{"size_mib": 1024, **attrs}))


def test_acc_volume_basic_import_update_replace(tf: Harness, sim: Sim) -> None:
    name = sim.unique("vol")
    before = sim.inventory()
    ids: dict[str, str] = {}

    def remember(state: State) -> None:
        ids["v"] = state.attrs(VOL)["id"]
        vol = sim.volume(name)
        assert vol.target_name == state.attrs(VOL)["target_name"]

    def same_volume(state: State) -> None:
        assert state.attrs(VOL)["id"] == ids["v"]
        assert sim.volume(f"{name}-renamed").target_name == state.attrs(VOL)["target_name"]

    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(
                    config=volume_config(name, description="glance store"),
                    checks=[
                        expect(VOL, "pool", "default"),
                        expect(VOL, "online", True),
                        expect(VOL, "performance_policy", "default"),
                        expect(VOL, "description", "glance store"),
                        remember,
                    ],
                ),
                Step(
                    import_state=True,
                    resource_name=VOL,
                    import_state_verify=True,
                    import_state_verify_ignore=["timeouts"],
                ),
                Step(
                    import_state=True,
                    resource_name=VOL,
                    import_state_id=name,
                    import_state_verify=True,
                ),
                Step(
                    config=volume_config(
                        f"{name}-renamed", size_mib=4096, description=None, online=False
                    ),
                    expect_actions={VOL: ["update"]},
                    checks=[
                        expect(VOL, "size_mib", 4096),
                        expect(VOL, "description", None),
                        expect(VOL, "online", False),
                        same_volume,
                    ],
                ),
                Step(
                    config=volume_config(
                        f"{name}-renamed", size_mib=4096, pool="default", online=False
                    ),
                    expect_actions={VOL: ["no-op"]},
                ),
            ],
            check_destroy=sim.back_to(before),
        )
    )


def test_acc_volume_disappears(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import volumes

    name = sim.unique("vold")

    def delete_behind_terraform() -> None:
        volumes.offline_and_delete_volume(sim.client, sim.volume(name).id)

    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(config=volume_config(name)),
                Step(
                    config=volume_config(name),
                    preconfig=delete_behind_terraform,
                    plan_only=True,
                    expect_non_empty_plan=True,
                ),
            ],
            check_destroy=sim.assert_no_volume(name),
        )
    )


def test_acc_volume_bad_input(tf: Harness, sim: Sim) -> None:
    name = sim.unique("volb")
    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(
                    config=volume_config("bad name!"),
                    expect_error=r"Invalid Attribute Value.*name.*letters, digits",
                ),
                Step(
                    config=volume_config(name, size_mib=0),
                    expect_error=r"Invalid Attribute Value.*size_mib.*at least 1",
                ),
                Step(
                    config=volume_config(name, pool="no-such-pool"),
                    expect_error=r'Pool Not Found.*no pool named "no-such-pool".*"default"',
                ),
                Step(
                    config=volume_config(name, performance_policy="nope"),
                    expect_error=r"Performance Policy Not Found.*performance_policy",
                ),
            ],
            check_destroy=sim.assert_no_volume(name),
        )
    )


def test_acc_volume_shrink_refused(tf: Harness, sim: Sim) -> None:
    name = sim.unique("vols")
    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(config=volume_config(name, size_mib=2048)),
                Step(
                    config=volume_config(name, size_mib=1024),
                    expect_error=r"Volume Cannot Shrink.*size_mib.*is 2048 MiB",
                ),
            ],
            check_destroy=sim.assert_no_volume(name),
        )
    )
