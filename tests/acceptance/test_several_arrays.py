"""Two arrays from one configuration, through provider aliases (docs/guides/several-arrays.md).

One apply puts a volume and a snapshot on the primary array and a volume on the "dr" array;
then an ID of one array given to the other fails clearly, naming the attribute, the array
asked (host and group) and that the ID was made by another group: `terraform import` of the
primary's volume through the aliased provider; a clone on "dr" of the primary's snapshot, a
collection on "dr" with the primary's volume as a member and a schedule on the primary for
the collection on "dr" (all refused at plan, each on its attribute). Destroy leaves both
arrays as they were.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from harness import Case, Harness, State, Step
from nimble_fixtures import PROVIDER_BLOCK, Sim, own_sim
from nimble_hcl import data, resource

ON_DR = "=nimble.dr"
GROUP_PART = slice(2, 18)


@pytest.fixture(scope="module")
def dr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """The second array: its own process, state, certificate, password and group."""
    with own_sim(tmp_path_factory, "dr", ("--group-name", "group-dr")) as s:
        yield s


def _providers(dr: Sim) -> str:
    return PROVIDER_BLOCK + (
        '\nvariable "dr_password" {\n  type      = string\n  sensitive = true\n}\n'
        '\nprovider "nimble" {\n  alias    = "dr"\n'
        f'  host     = "{dr.host}"\n  port     = {dr.port}\n  username = "{dr.username}"\n'
        f'  password = var.dr_password\n  ca_file  = "{dr.ca_file}"\n}}\n'
    )


def _main(dr: Sim, name: str) -> str:
    return "".join(
        (
            _providers(dr),
            resource("nimble_volume", "primary", name=name, size_mib=256),
            resource(
                "nimble_snapshot", "primary", name="golden", volume_id="=nimble_volume.primary.id"
            ),
            resource("nimble_volume", "dr", provider=ON_DR, name=name, size_mib=256),
            resource("nimble_volume_collection", "dr", provider=ON_DR, name=name),
            data("nimble_discovery", "primary", depends_on=["=nimble_volume.primary"]),
            data("nimble_discovery", "dr", provider=ON_DR, depends_on=["=nimble_volume.dr"]),
            data(
                "nimble_volumes",
                "on_dr",
                provider=ON_DR,
                name_prefix=name,
                depends_on=["=nimble_volume.dr"],
            ),
        )
    )


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("│", " "))


def test_acc_two_arrays_and_an_id_of_the_other_array(tf: Harness, sim: Sim, dr: Sim) -> None:
    name = sim.unique("twin")
    before = (sim.inventory(), dr.inventory())
    main = _main(dr, name)
    env = {**sim.env(), "TF_VAR_dr_password": dr.password}
    ids: dict[str, Any] = {}

    def check(state: State) -> None:
        primary, other = state.attrs("nimble_volume.primary"), state.attrs("nimble_volume.dr")
        assert primary["id"] != other["id"]
        assert primary["id"][GROUP_PART] != other["id"][GROUP_PART], "one ID space, two arrays"
        assert sim.volume(name).id == primary["id"] and dr.volume(name).id == other["id"]
        assert state.attrs("data.nimble_discovery.primary")["group_name"] == "group-sim"
        assert state.attrs("data.nimble_discovery.dr")["group_name"] == "group-dr"
        assert state.attrs("data.nimble_volumes.on_dr")["ids"] == [other["id"]]
        snap = state.attrs("nimble_snapshot.primary")
        assert snap["id"][GROUP_PART] == primary["id"][GROUP_PART]
        ids.update(primary=primary["id"], dr=other["id"])

    def import_through_dr(_: State) -> None:
        assert tf.workdir is not None
        adopt = resource("nimble_volume", "adopt", provider=ON_DR, name=name, size_mib=256)
        (tf.workdir / "main.tf").write_text(main + adopt)
        args = ("import", "-no-color", "-input=false", "nimble_volume.adopt", ids["primary"])
        res = tf.terraform(*args, env=env, check=False)
        flat = _flat(res.output)
        assert res.returncode == 1, res.output
        assert "Volume Not Found" in flat
        where = f'on the array at {dr.host}:{dr.port} (group "group-dr")'
        assert f"the import ID belongs to no volume {where}" in flat, flat
        assert f"its group part is {ids['primary'][GROUP_PART]}" in flat
        assert f"this group's is {ids['dr'][GROUP_PART]}" in flat
        assert "belongs to another array" in flat and "provider = nimble.dr" in flat
        assert "nimble_volume.adopt" not in tf.state(env=env)
        (tf.workdir / "main.tf").write_text(main)

    wrong_clone = (
        main
        + resource(
            "nimble_clone_volume",
            "wrong",
            provider=ON_DR,
            name=f"{name}-clone",
            snapshot_id="=nimble_snapshot.primary.id",
        )
        + resource(
            "nimble_volume_collection",
            "wrong",
            provider=ON_DR,
            name=f"{name}-members",
            volume_ids=["=nimble_volume.primary.id"],
        )
        + resource(
            "nimble_protection_schedule",
            "wrong",
            volume_collection_id="=nimble_volume_collection.dr.id",
            name="nightly",
            num_retain=2,
        )
    )
    dr_array = rf'on the array at {re.escape(dr.host)}:{dr.port} \(group "group-dr"\)\.'
    primary_array = rf'on the array at {re.escape(sim.host)}:{sim.port} \(group "group-sim"\)\.'
    tf.run(
        Case(
            env=env,
            steps=[
                Step(config=main, checks=[check, import_through_dr]),
                Step(
                    config=wrong_clone,
                    # every foreign ID at plan time, each on its attribute and array
                    expect_error=(
                        r"(?=.*Snapshot Not Found.*snapshot_id.*The ID in snapshot_id belongs "
                        rf"to no snapshot {dr_array}.*made by another group.*belongs to "
                        r"another array)"
                        r"(?=.*Volume Not Found.*The ID in volume_ids belongs to no volume "
                        rf"{dr_array} It was made by another group)"
                        r"(?=.*Volume Collection Not Found.*The ID in volume_collection_id "
                        rf"belongs to no volume collection {primary_array} It was made by "
                        r"another group)"
                    ),
                ),
            ],
            check_destroy=lambda: _back(sim, dr, before),
        )
    )


def _back(sim: Sim, dr: Sim, before: tuple[dict[str, set[str]], dict[str, set[str]]]) -> None:
    assert (sim.inventory(), dr.inventory()) == before, "an array differs from before the test"
