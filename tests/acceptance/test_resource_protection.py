"""nimble_volume_collection and nimble_protection_schedule against nimble-sim: one case walks
create, import (ID and name), update in place, scheduled snapshots on the sim's clock, drift
(membership and description changed, the schedule deleted behind Terraform's back), a member
destroyed while it leaves, and destroy back to the array as found; another checks plan-time
diagnostics."""

from __future__ import annotations

from harness import Case, Harness, State, Step
from nimble_fixtures import Sim
from nimble_hcl import config, expect, resource

VC = "nimble_volume_collection.vc"
PS = "nimble_protection_schedule.s"
DAY = 86400


def volumes(names: list[str]) -> str:
    return "".join(
        resource("nimble_volume", f"v{i}", name=name, size_mib=64) for i, name in enumerate(names)
    )


def protection_config(
    prefix: str,
    vols: int,
    members: list[int],
    vc: dict[str, object],
    ps: dict[str, object] | None,
) -> str:
    names = [f"{prefix}-v{i}" for i in range(vols)]
    ids = "=[" + ", ".join(f"nimble_volume.v{i}.id" for i in members) + "]"
    schedule = (
        resource(
            "nimble_protection_schedule",
            "s",
            volume_collection_id="=nimble_volume_collection.vc.id",
            **ps,
        )
        if ps is not None
        else ""
    )
    return config(
        volumes(names),
        resource("nimble_volume_collection", "vc", name=prefix, volume_ids=ids, **vc),
        schedule,
    )


def test_acc_volume_collection_and_schedule(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import protection_schedules as ps
    from tfnimble.nimble.client import snapshots
    from tfnimble.nimble.client import volume_collections as vcs

    prefix = sim.unique("pc")
    before = sim.inventory()
    hourly = {"name": "hourly", "period": 1, "period_unit": "hours", "num_retain": 2}

    def ids(state: State) -> tuple[str, str]:
        return state.attrs(VC)["id"], state.attrs(PS)["id"]

    def members_on_array(want: list[int]) -> object:
        def check(state: State) -> None:
            vc = vcs.get_volume_collection(sim.client, ids(state)[0])
            names = {sim.volumes()[f"{prefix}-v{i}"].id for i in want}
            assert set(vc.volume_ids) == names
            for i in want:
                assert (
                    vcs.volume_collection_of(sim.client, sim.volume(f"{prefix}-v{i}").id) == vc.id
                )

        return check

    def scheduled_snapshots(state: State) -> None:
        sched = ps.get_protection_schedule(sim.client, ids(state)[1])
        assert (sched.period, sched.num_retain, sched.days) == (2, 3, "monday,friday")
        taken = sim.advance_clock(14 * DAY)["snapshots_taken"]
        assert taken > 0
        for i in (0, 1):
            vol = sim.volume(f"{prefix}-v{i}")
            mine = [s for s in snapshots.list_snapshots(sim.client, vol.id) if s.raw["schedule_id"]]
            assert len(mine) == 3, mine  # pruned to num_retain
            assert all(s.name.startswith(f"{prefix}-hourly-") for s in mine)

    def drift_behind_terraform() -> None:
        vc = vcs.find_volume_collection_by_name(sim.client, prefix)
        vcs.set_volume_collection(sim.client, sim.volume(f"{prefix}-v1").id, "")
        vcs.update_volume_collection(sim.client, vc.id, {"description": "changed"})
        sched = ps.find_protection_schedule(sim.client, vc.id, "hourly")
        ps.delete_protection_schedule(sim.client, sched.id)

    updated = dict(
        hourly, period=2, num_retain=3, days="monday,friday", delete_snapshots_on_destroy=True
    )

    def fire() -> None:
        sim.advance_clock(7 * DAY)

    def only_unmanaged_snapshots_left(state: State) -> None:
        vol = sim.volume(f"{prefix}-v0")
        left = snapshots.list_snapshots(sim.client, vol.id)
        assert left, "the first schedule's snapshots (unmanaged since it was deleted) stay"
        assert all(s.raw["schedule_id"] == "" and s.raw["is_unmanaged"] for s in left)

    two = protection_config(prefix, 2, [0, 1], {"description": "masters"}, updated)
    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(
                    config=protection_config(prefix, 2, [0], {}, hourly),
                    checks=[
                        expect(VC, "app_sync", "none"),
                        expect(PS, "at_time", 0),
                        expect(PS, "until_time", 86399),
                        expect(PS, "days", "all"),
                        members_on_array([0]),
                    ],
                ),
                Step(import_state=True, resource_name=VC, import_state_verify=True),
                Step(
                    import_state=True,
                    resource_name=VC,
                    import_state_id=prefix,
                    import_state_verify=True,
                ),
                Step(import_state=True, resource_name=PS, import_state_verify=True),
                Step(
                    import_state=True,
                    resource_name=PS,
                    import_state_id=f"{prefix}/hourly",
                    import_state_verify=True,
                ),
                Step(
                    config=two,
                    expect_actions={VC: ["update"], PS: ["update"]},
                    checks=[members_on_array([0, 1]), scheduled_snapshots],
                ),
                # a member taken out and the schedule deleted behind Terraform's back: the
                # plan puts the member back and creates the schedule again
                Step(
                    config=two,
                    preconfig=drift_behind_terraform,
                    expect_actions={VC: ["update"], PS: ["create"]},
                    checks=[
                        members_on_array([0, 1]),
                        expect(VC, "description", "masters"),
                        expect(PS, "num_retain", 3),
                    ],
                ),
                # the second volume leaves the collection and is destroyed in one apply (in
                # whichever order Terraform runs the two, the volume leaves before its delete)
                Step(
                    config=protection_config(prefix, 1, [0], {"description": "masters"}, updated),
                    checks=[members_on_array([0])],
                ),
                # the schedule goes with delete_snapshots_on_destroy: the snapshots it took go
                # too; those of the schedule deleted behind Terraform's back stay
                Step(
                    config=protection_config(prefix, 1, [0], {"description": "masters"}, None),
                    preconfig=fire,
                    checks=[only_unmanaged_snapshots_left],
                ),
            ],
            check_destroy=sim.back_to(before),
        )
    )


def every(patterns: list[str]) -> str:
    """A pattern that matches when each of `patterns` matches somewhere."""
    return "".join(f"(?=.*{p})" for p in patterns)


def test_acc_protection_bad_input(tf: Harness, sim: Sim) -> None:
    """Plan-time diagnostics on the attributes written, and at apply a volume that belongs to
    another collection: refused, not moved, and the new collection rolled back."""
    from tfnimble.nimble.client import volume_collections as vcs
    from tfnimble.nimble.client import volumes

    prefix = sim.unique("pb")
    before = sim.inventory()
    other: dict[str, str] = {}

    def volume_in_another_collection() -> None:
        other["vol"] = volumes.create_volume(sim.client, f"{prefix}-taken", 64).id
        other["vc"] = vcs.create_volume_collection(sim.client, f"{prefix}-other").id
        vcs.set_volume_collection(sim.client, other["vol"], other["vc"])

    def still_there_and_rolled_back() -> None:
        assert vcs.volume_collection_of(sim.client, other["vol"]) == other["vc"]
        assert vcs.find_volume_collection_by_name(sim.client, prefix) is None
        vcs.set_volume_collection(sim.client, other["vol"], "")
        vcs.delete_volume_collection(sim.client, other["vc"])
        volumes.offline_and_delete_volume(sim.client, other["vol"])
        sim.back_to(before)()

    taken = config(
        '\ndata "nimble_volume" "taken" {\n  name = "' + prefix + '-taken"\n}\n',
        resource(
            "nimble_volume_collection",
            "vc",
            name=prefix,
            volume_ids="=[data.nimble_volume.taken.id]",
        ),
    )
    bad_schedule = protection_config(
        prefix,
        1,
        [0],
        {},
        {
            "name": "s",
            "period_unit": "months",
            "at_time": 7200,
            "until_time": 3600,
            "days": "monday,funday",
            "num_retain": 0,
        },
    )
    schedule_errors = [
        r"period_unit must be one of",
        r"Invalid Time Window.*until_time \(3600\) is before at_time \(7200\)",
        r"Invalid Days.*'funday' is not a weekday",
        r"num_retain",
    ]
    bad_collection = config(
        resource(
            "nimble_volume_collection",
            "vc",
            name=prefix,
            app_id="sql2017",
            volume_ids=["not-an-id"],
        ),
        resource(
            "nimble_volume_collection",
            "vss",
            name=prefix + "-vss",
            app_sync="vss",
            app_id="sql2017",
        ),
    )
    collection_errors = [
        r"app_id applies only to VSS-synchronized collections",
        r"Invalid Volume ID.*volume_ids.*'not-an-id'",
        r'Missing VSS Setting.*app_sync = "vss" needs app_server',
    ]
    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(config=bad_schedule, expect_error=every(schedule_errors)),
                Step(config=bad_collection, expect_error=every(collection_errors)),
                Step(
                    config=taken,
                    preconfig=volume_in_another_collection,
                    expect_error=r"Volume In Another Collection.*volume_ids.*not move it",
                ),
            ],
            check_destroy=still_there_and_rolled_back,
        )
    )
