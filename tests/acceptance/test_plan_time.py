"""Plan-time refusal with real terraform against nimble-sim (issue 11): `terraform plan`
fails with a message that says what to do, on the line of the attribute the user wrote, and
the array holds what it held before. A value unknown at plan is not read; at apply, an array
error still points at the attribute."""

from __future__ import annotations

import re
import time
from pathlib import Path

from harness import Case, Harness, Result, Step
from nimble_fixtures import Sim
from nimble_hcl import config, resource

GONE_SNAP = "04" + "f" * 40
GONE_VOL = "06" + "f" * 40
GONE_GROUP = "02" + "f" * 40


def _line(hcl: str, label: str, attr: str) -> int:
    """The 1-based line of `attr` inside the block labelled `label`."""
    lines = hcl.splitlines()
    start = next(i for i, ln in enumerate(lines) if f'"{label}" {{' in ln)
    return next(i for i in range(start, len(lines)) if re.match(rf"\s*{attr}\s*=", lines[i])) + 1


def _plan(tf: Harness, sim: Sim, hcl: str, workdir: Path) -> Result:
    workdir.mkdir()
    tf.workdir = workdir
    tf.write_config(hcl)
    tf.init(env=sim.env())
    return tf.terraform("plan", "-no-color", "-input=false", env=sim.env(), check=False)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("│", " "))


def _expect_errors(res: Result, hcl: str, expected: list[tuple[str, str, str, str]]) -> None:
    """Each (summary, block label, attribute, detail regex) is one error of the plan, shown
    on the attribute's line."""
    assert res.returncode == 1, f"plan should have failed:\n{res.output[-4000:]}"
    blocks = [b for b in re.split(r"(?=Error: )", res.output) if b.startswith("Error: ")]
    for summary, label, attr, words in expected:
        line = _line(hcl, label, attr)
        found = [
            b
            for b in blocks
            if b.startswith(f"Error: {summary}")
            and f"on main.tf line {line}," in b
            and f'"{label}"' in b
        ]
        assert found, f"no {summary!r} on line {line} ({label}.{attr}) in:\n{res.output[-6000:]}"
        assert re.search(words, _flat(found[0])), _flat(found[0])
    assert len(blocks) == len(expected), res.output[-6000:]


def test_acc_validate_refuses_malformed_ids_and_sources(
    tf: Harness, sim: Sim, tmp_path: Path
) -> None:
    before = sim.inventory()
    hcl = config(
        resource("nimble_clone_volume", "bad_snap", name=sim.unique("c"), snapshot_id="golden"),
        resource("nimble_snapshot", "bad_vol", name="s", volume_id="my-volume"),
        resource(
            "nimble_access_control_record",
            "bad_group",
            volume_id=GONE_VOL,
            initiator_group_id="hosts",
        ),
        resource("nimble_image_master", "ftp", name="m1", source="ftp://mirror.example/u.qcow2"),
        resource("nimble_image_master", "hostless", name="m2", source="https:///u.qcow2"),
        resource(
            "nimble_image_master",
            "userinfo",
            name="m3",
            source="https://mirror:hunter2-secret@images.example/u.qcow2",
        ),
        resource(
            "nimble_image_master",
            "creds_local",
            name="m4",
            source="images/u.qcow2",
            source_username="mirror",
        ),
    )
    res = _plan(tf, sim, hcl, tmp_path / "w")
    _expect_errors(
        res,
        hcl,
        [
            (
                "Invalid Attribute Value",
                "bad_snap",
                "snapshot_id",
                r"snapshot_id must be the array's ID of a snapshot \(42 hexadecimal digits\)",
            ),
            ("Invalid Attribute Value", "bad_vol", "volume_id", r"volume_id must be the"),
            (
                "Invalid Attribute Value",
                "bad_group",
                "initiator_group_id",
                r"initiator_group_id must be the array's ID of an initiator group",
            ),
            ("Unsupported Image Source", "ftp", "source", r"only local paths and http"),
            ("Image Source URL Has No Host", "hostless", "source", r"must name a server"),
            (
                "Credentials In Image Source URL",
                "userinfo",
                "source",
                r"set source_username and source_password \(sensitive\) instead",
            ),
            (
                "Credentials For A Local Source",
                "creds_local",
                "source_username",
                r"Remove source_username",
            ),
        ],
    )
    assert "base_snap_id" not in res.output
    # The password the user put in the URL is in their own config line, not in our words.
    assert _flat(res.output).count("hunter2-secret") <= 1
    assert sim.inventory() == before


def test_acc_plan_refuses_references_the_array_does_not_have(
    tf: Harness, sim: Sim, tmp_path: Path
) -> None:
    from tfnimble.nimble.client import volumes

    vol = volumes.create_volume(sim.client, sim.unique("acr-target"), 16)
    try:
        before = sim.inventory()
        sim.admin("DELETE", "stats")
        hcl = config(
            resource("nimble_volume", "pool", name=sim.unique("v"), size_mib=16, pool="fast"),
            resource(
                "nimble_volume",
                "policy",
                name=sim.unique("v"),
                size_mib=16,
                performance_policy="Gold",
            ),
            resource("nimble_clone_volume", "gone", name=sim.unique("c"), snapshot_id=GONE_SNAP),
            resource("nimble_snapshot", "novol_snap", name="s", volume_id=GONE_VOL),
            resource(
                "nimble_access_control_record",
                "novol",
                volume_id=GONE_VOL,
                initiator_group_id=GONE_GROUP,
            ),
            resource(
                "nimble_access_control_record",
                "nogroup",
                volume_id=vol.id,
                initiator_group_id=GONE_GROUP,
            ),
            resource(
                "nimble_image_master", "nofile", name=sim.unique("m"), source="images/nope.qcow2"
            ),
        )
        res = _plan(tf, sim, hcl, tmp_path / "w")
        _expect_errors(
            res,
            hcl,
            [
                ("Pool Not Found", "pool", "pool", r'no pool named "fast"\. Available: "default"'),
                (
                    "Performance Policy Not Found",
                    "policy",
                    "performance_policy",
                    r'no performance policy named "Gold"',
                ),
                (
                    "Snapshot Not Found",
                    "gone",
                    "snapshot_id",
                    rf'no snapshot with ID "{GONE_SNAP}", which snapshot_id refers to.*'
                    r"nimble_image_master\.NAME\.snapshot_id",
                ),
                ("Volume Not Found", "novol_snap", "volume_id", r"which volume_id refers to"),
                ("Volume Not Found", "novol", "volume_id", GONE_VOL),
                ("Initiator Group Not Found", "novol", "initiator_group_id", GONE_GROUP),
                ("Initiator Group Not Found", "nogroup", "initiator_group_id", GONE_GROUP),
                (
                    "Image Source Not Found",
                    "nofile",
                    "source",
                    r"images/nope\.qcow2 is not a file.*terraform_data",
                ),
            ],
        )
        assert sim.inventory() == before
        writes = {
            k: n
            for k, n in sim.admin("GET", "stats")["requests"].items()
            if not k.startswith("GET") and "/tokens" not in k  # log in and out
        }
        assert not writes, writes
    finally:
        volumes.offline_and_delete_volume(sim.client, vol.id)


def test_acc_plan_reads_a_shared_snapshot_once_for_a_fan_out(
    tf: Harness, sim: Sim, tmp_path: Path
) -> None:
    """100 clones of one known snapshot ID: the plan asks the array about it once per
    memo period (see _plancheck), not once per clone."""
    from tfnimble.nimble.client import snapshots, volumes

    base = volumes.create_volume(sim.client, sim.unique("fan-base"), 16)
    snap = snapshots.create_snapshot(sim.client, base.id, "golden")
    try:
        before = sim.inventory()
        hcl = config(
            '\nresource "nimble_clone_volume" "vm" {\n  count       = 100\n'
            f'  name        = "{sim.unique("fan")}-${{count.index}}"\n'
            f'  snapshot_id = "{snap.id}"\n}}\n'
        )
        sim.admin("DELETE", "stats")
        start = time.monotonic()
        res = _plan(tf, sim, hcl, tmp_path / "w")
        took = time.monotonic() - start
        assert res.returncode == 0, res.output[-4000:]
        assert "100 to add" in res.output
        stats = sim.admin("GET", "stats")["requests"]
        gets = stats.get("GET /v1/snapshots/{id}", 0)
        # One GET per MEMO_SECONDS (10 s) at most, however long the plan took: no clock margin.
        assert 1 <= gets <= 1 + int(took // 10), (gets, took, stats)
        print(f"\nfan-out plan of 100 clones: {gets} snapshot GET(s), {took:.1f} s, {stats}")
        assert sim.inventory() == before
    finally:
        snapshots.delete_snapshot(sim.client, snap.id)
        volumes.offline_and_delete_volume(sim.client, base.id)


def test_acc_unknown_reference_is_not_read_at_plan_and_refused_before_create(
    tf: Harness, sim: Sim
) -> None:
    """snapshot_id from a resource of the same plan is unknown at plan: the plan passes and
    reads nothing. When it turns out to name nothing, Terraform's plan of the clone during
    apply (the value is known by then) refuses it on snapshot_id's line, before the create:
    nothing of the clone reaches the array."""
    before = sim.inventory()
    p = sim.unique("unk")
    same_plan = config(
        resource("nimble_volume", "base", name=f"{p}-base", size_mib=16),
        resource("nimble_snapshot", "base", name="golden", volume_id="=nimble_volume.base.id"),
        resource(
            "nimble_clone_volume", "vm", name=f"{p}-vm", snapshot_id="=nimble_snapshot.base.id"
        ),
    )
    # triggers_replace = timestamp(): the ID is unknown at every plan, also in the plan that
    # terraform destroy runs first (a known missing ID would fail that plan too).
    late_gone = config(
        '\nresource "terraform_data" "id" {\n'
        f'  input            = "{GONE_SNAP}"\n'
        "  triggers_replace = timestamp()\n}\n"
    ) + resource(
        "nimble_clone_volume", "late", name=f"{p}-late", snapshot_id="=terraform_data.id.output"
    )
    line = _line(late_gone, "late", "snapshot_id")
    tf.run(
        Case(
            env=sim.env(),
            steps=[
                Step(config=same_plan, plan_only=True, expect_non_empty_plan=True),
                Step(
                    config=late_gone,
                    expect_error=(
                        r"Error: Snapshot Not Found.*on main\.tf line "
                        rf"{line}, in resource \"nimble_clone_volume\" \"late\".*"
                        rf"no snapshot with ID \"{GONE_SNAP}\", which snapshot_id refers to"
                    ),
                ),
            ],
            check_destroy=sim.back_to(before),
        )
    )
