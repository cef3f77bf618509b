"""nimble_access_control_record against nimble-sim."""

from __future__ import annotations

from harness import Case, Harness, State, Step
from nimble_fixtures import Sim
from nimble_hcl import config, expect, resource

ACR = "nimble_access_control_record.test"


def acr_config(prefix: str, group: str = "a", **attrs: object) -> str:
    return config(
        resource("nimble_volume", "v", name=f"{prefix}-vol", size_mib=1024),
        resource(
            "nimble_initiator_group",
            "a",
            name=f"{prefix}-a",
            initiators=["iqn.1993-08.org.debian:01:host-a"],
        ),
        resource(
            "nimble_initiator_group",
            "b",
            name=f"{prefix}-b",
            initiators=["iqn.1993-08.org.debian:01:host-b"],
        ),
        resource(
            "nimble_access_control_record",
            "test",
            volume_id="=nimble_volume.v.id",
            initiator_group_id=f"=nimble_initiator_group.{group}.id",
            **attrs,
        ),
    )


def test_acc_access_control_record_basic_import_replace(tf: Harness, scoped_sim: Sim) -> None:
    """In both target scopes (the LUNs an array gives and refuses differ)."""
    from tfnimble.nimble.client import access_control_records as acrs

    sim = scoped_sim

    p = sim.unique("acr")
    before = sim.inventory()
    if sim.group_target() is None:  # volume-scoped targets have LUN 0 only
        given, refused, code = 0, 7, "SM_invalid_arg_value"
    else:  # a free LUN of the group target, given explicitly; LUN 0 is the controller's
        given, refused, code = 2000, 0, "SM_in_use_lun"

    def on_array(state: State) -> None:
        got = acrs.get_access_control_record(sim.client, state.attrs(ACR)["id"])
        assert got.vol_name == f"{p}-vol" and got.initiator_group_name == f"{p}-b"
        assert got.lun == given

    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(
                    config=acr_config(p),
                    checks=[
                        expect(ACR, "apply_to", "both"),
                        expect(ACR, "volume_name", f"{p}-vol"),
                        expect(ACR, "initiator_group_name", f"{p}-a"),
                    ],
                ),
                Step(import_state=True, resource_name=ACR, import_state_verify=True),
                Step(
                    import_state=True,
                    resource_name=ACR,
                    import_state_id=f"{p}-vol/{p}-a",
                    import_state_verify=True,
                ),
                Step(
                    config=acr_config(p, group="b", lun=given),
                    expect_actions={ACR: ["delete", "create"]},
                    checks=[expect(ACR, "lun", given), on_array],
                ),
                # A LUN the array refuses fails the apply, pointing at lun: on a volume-scoped
                # target any LUN but 0; on the simulator's group target LUN 0, which its
                # target keeps for its controller.
                Step(
                    config=acr_config(p, group="b", lun=refused),
                    expect_error=(
                        rf"Error Creating Access Control Record.*lun = {refused}.*{code}"
                    ),
                ),
            ],
            check_destroy=sim.back_to(before),
        )
    )


def test_acc_access_control_record_disappears(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import access_control_records as acrs

    p = sim.unique("acrd")

    def delete_behind_terraform() -> None:
        for acr in acrs.list_access_control_records(sim.client, sim.volume(f"{p}-vol").id):
            acrs.delete_access_control_record(sim.client, acr.id)

    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(config=acr_config(p)),
                Step(
                    config=acr_config(p),
                    preconfig=delete_behind_terraform,
                    plan_only=True,
                    expect_non_empty_plan=True,
                ),
            ],
            check_destroy=sim.assert_no_volume(f"{p}-vol"),
        )
    )
