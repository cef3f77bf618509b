"""The plugin layer end to end: real terraform driving the test-only 'example' provider."""

from __future__ import annotations

import json
from pathlib import Path

from harness import Case, Harness, State, Step


def thing_config(store: Path, name: str = "thing-a", extra: str = "", count: int = 1) -> str:
    return f"""
terraform {{
  required_providers {{
    example = {{ source = "ito/example" }}
  }}
}}

provider "example" {{
  store_dir = "{store}"
}}

resource "example_thing" "test" {{
  count = {count}
  name  = "{name}-${{count.index}}"
  {extra}
}}
"""


def expect(address: str, attr: str, value: object):
    def check(state: State) -> None:
        got = state.attrs(address).get(attr)
        assert got == value, f"{address}.{attr} = {got!r}, want {value!r}"

    return check


def stored(store: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(store.glob("*.json"))]


def test_acc_thing_lifecycle(tf: Harness, tmp_path: Path) -> None:
    store = tmp_path / "store"

    def none_left() -> None:
        assert stored(store) == []

    tf.run(
        Case(
            steps=[
                Step(
                    config=thing_config(store, extra='description = "one"'),
                    checks=[
                        expect("example_thing.test[0]", "size", 1),
                        expect("example_thing.test[0]", "description", "one"),
                    ],
                ),
                Step(
                    import_state=True,
                    resource_name="example_thing.test[0]",
                    import_state_verify=True,
                    import_state_verify_ignore=["timeouts", "fail_after_create"],
                ),
                Step(
                    config=thing_config(store, extra='description = "two"\n  size = 5'),
                    expect_actions={"example_thing.test[0]": ["update"]},
                    checks=[expect("example_thing.test[0]", "size", 5)],
                ),
                Step(
                    config=thing_config(store, name="thing-b", extra="size = 5"),
                    expect_actions={"example_thing.test[0]": ["create", "delete"]},
                    checks=[expect("example_thing.test[0]", "name", "thing-b-0")],
                ),
            ],
            check_destroy=none_left,
        )
    )


def test_acc_thing_disappears_is_drift_not_error(tf: Harness, tmp_path: Path) -> None:
    store = tmp_path / "store"

    def remove_behind_terraforms_back() -> None:
        for p in store.glob("*.json"):
            p.unlink()

    tf.run(
        Case(
            steps=[
                Step(config=thing_config(store)),
                Step(
                    config=thing_config(store),
                    preconfig=remove_behind_terraforms_back,
                    plan_only=True,
                    expect_non_empty_plan=True,
                ),
            ]
        )
    )


def test_acc_thing_fan_out_count_changes(tf: Harness, tmp_path: Path) -> None:
    store = tmp_path / "store"
    tf.run(
        Case(
            steps=[
                Step(config=thing_config(store, count=20)),
                Step(
                    config=thing_config(store, count=25),
                    checks=[lambda s: _count(s, 25), lambda s: _stored_count(store, 25)],
                ),
                Step(config=thing_config(store, count=5), checks=[lambda s: _count(s, 5)]),
            ],
            check_destroy=lambda: _stored_count(store, 0),
        )
    )


def _count(state: State, n: int) -> None:
    assert len([a for a in state.resources if a.startswith("example_thing.")]) == n


def _stored_count(store: Path, n: int) -> None:
    assert len(stored(store)) == n


def test_acc_failed_create_keeps_partial_state_tainted(tf: Harness, tmp_path: Path) -> None:
    store = tmp_path / "store"
    tf.run(
        Case(
            steps=[
                Step(
                    config=thing_config(store, extra="fail_after_create = true"),
                    expect_error="Create Failed Late",
                ),
                Step(
                    config=thing_config(store, extra="fail_after_create = true"),
                    plan_only=True,
                    expect_non_empty_plan=True,
                ),
            ],
            # destroy at the end must remove the object recorded as partial state
            check_destroy=lambda: _stored_count(store, 0),
        )
    )
    # nothing was orphaned: the object existed, Terraform knew it, destroy removed it
    assert any("tainted" in r.stdout or "replace" in r.stdout for r in tf.log)


def test_acc_validation_names_attribute(tf: Harness, tmp_path: Path) -> None:
    store = tmp_path / "store"
    tf.run(
        Case(
            steps=[
                Step(
                    config=thing_config(store, extra="size = 0"),
                    expect_error=r"Invalid Attribute Value.*size must be a whole number at least 1",
                ),
                Step(
                    config=thing_config(store, name="Bad_Name"),
                    expect_error=r"name must use lowercase letters",
                ),
                Step(
                    config=thing_config(store, extra='timeouts {\n    create = "soon"\n  }'),
                    expect_error=r"Invalid Timeout",
                ),
            ]
        )
    )


def test_acc_sensitive_value_never_logged(tf: Harness, tmp_path: Path) -> None:
    store = tmp_path / "store"
    secret = "s3cr3t-value-4-test"
    tf.run(
        Case(
            steps=[Step(config=thing_config(store, extra=f'secret = "{secret}"'))],
            env={"TF_LOG_PROVIDER": "DEBUG"},
        )
    )
    for res in tf.log:
        if res.argv[1] in ("apply", "plan"):
            assert secret not in res.stdout
            assert secret not in res.stderr
