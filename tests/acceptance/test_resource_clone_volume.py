"""nimble_clone_volume against nimble-sim: create, import, update, replace, drift, errors."""

from __future__ import annotations

from harness import Case, Harness, State, Step
from nimble_fixtures import PROVIDER_BLOCK, Sim


def base_config(prefix: str) -> str:
    return f"""{PROVIDER_BLOCK}
resource "nimble_volume" "base" {{
  name     = "{prefix}-base"
  size_mib = 1024
}}

resource "nimble_snapshot" "base" {{
  name      = "golden"
  volume_id = nimble_volume.base.id
}}

resource "nimble_snapshot" "other" {{
  name      = "golden-2"
  volume_id = nimble_volume.base.id
}}
"""


def clone_config(prefix: str, snapshot: str = "base", **attrs: object) -> str:
    lines = "".join(f"\n  {k} = {_hcl(v)}" for k, v in attrs.items())
    return (
        base_config(prefix)
        + f"""
resource "nimble_clone_volume" "test" {{
  name        = "{prefix}-vm"
  snapshot_id = nimble_snapshot.{snapshot}.id{lines}
}}
"""
    )


def _hcl(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def expect(address: str, attr: str, value: object):
    def check(state: State) -> None:
        got = state.attrs(address).get(attr)
        assert got == value, f"{address}.{attr} = {got!r}, want {value!r}"

    return check


CLONE = "nimble_clone_volume.test"


def test_acc_clone_volume_basic(tf: Harness, sim: Sim) -> None:
    p = sim.unique("cv")
    before = sim.inventory()

    def same_clone_as_before(state: State) -> None:
        assert state.attrs(CLONE)["id"] == ids["clone"]

    ids: dict[str, str] = {}

    def remember(state: State) -> None:
        attrs = state.attrs(CLONE)
        ids["clone"] = attrs["id"]
        vol = sim.volume(f"{p}-vm")
        assert vol is not None and vol.clone and vol.base_snap_name == "golden"
        assert attrs["parent_volume_id"] == state.attrs("nimble_volume.base")["id"]
        assert attrs["target_name"] == vol.target_name
        assert attrs["space_used_bytes"] == 0

    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(
                    config=clone_config(p),
                    checks=[
                        expect(CLONE, "size_mib", 1024),
                        expect(CLONE, "online", True),
                        expect(CLONE, "performance_policy", "default"),
                        expect(CLONE, "base_snapshot_name", "golden"),
                        expect(CLONE, "description", None),
                        remember,
                    ],
                ),
                Step(import_state=True, resource_name=CLONE, import_state_verify=True),
                Step(
                    import_state=True,
                    resource_name=CLONE,
                    import_state_id=f"{p}-vm",
                    import_state_verify=True,
                ),
                Step(
                    config=clone_config(
                        p,
                        size_mib=2048,
                        description="boot disk",
                        online=False,
                        performance_policy="Windows File Server",
                    ),
                    expect_actions={CLONE: ["update"]},
                    checks=[
                        expect(CLONE, "size_mib", 2048),
                        expect(CLONE, "description", "boot disk"),
                        expect(CLONE, "online", False),
                        expect(CLONE, "performance_policy", "Windows File Server"),
                        same_clone_as_before,
                    ],
                ),
                Step(
                    config=clone_config(p, snapshot="other", size_mib=2048),
                    expect_actions={CLONE: ["delete", "create"]},
                    checks=[expect(CLONE, "base_snapshot_name", "golden-2")],
                ),
            ],
            check_destroy=sim.back_to(before),
        )
    )


def test_acc_clone_volume_shrink_refused_at_plan(tf: Harness, sim: Sim) -> None:
    p = sim.unique("cvs")
    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(config=clone_config(p, size_mib=2048)),
                Step(
                    config=clone_config(p, size_mib=1536),
                    expect_error=r"Volume Cannot Shrink.*size_mib",
                ),
            ],
            check_destroy=sim.assert_no_volume(f"{p}-vm", f"{p}-base"),
        )
    )


def test_acc_clone_volume_disappears(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import volumes

    p = sim.unique("cvd")

    def delete_behind_terraform() -> None:
        vol = sim.volume(f"{p}-vm")
        volumes.offline_and_delete_volume(sim.client, vol.id)

    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(config=clone_config(p)),
                Step(
                    config=clone_config(p),
                    preconfig=delete_behind_terraform,
                    plan_only=True,
                    expect_non_empty_plan=True,
                ),
                # Applying again re-creates it.
                Step(config=clone_config(p), checks=[expect(CLONE, "name", f"{p}-vm")]),
            ],
            check_destroy=sim.assert_no_volume(f"{p}-vm", f"{p}-base"),
        )
    )
