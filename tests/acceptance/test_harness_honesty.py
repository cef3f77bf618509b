"""The harness's own checks can fail: each expectation is tried once where it must not hold.

Run against the test-only 'example' provider, so a broken drift detection in a real resource
cannot hide behind a harness that only switched its check off.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import Case, Harness, Step
from test_plugin_protocol import thing_config


def test_expect_non_empty_plan_fails_on_an_empty_plan(tf: Harness, tmp_path: Path) -> None:
    store = tmp_path / "store"
    with pytest.raises(AssertionError, match="expected a non-empty plan, got an empty one"):
        tf.run(
            Case(
                steps=[
                    Step(config=thing_config(store)),
                    # nothing changed behind Terraform's back: the plan is empty
                    Step(config=thing_config(store), plan_only=True, expect_non_empty_plan=True),
                ]
            )
        )
    assert list(store.glob("*.json")) == [], "the case still destroys what it created"


def test_an_unexpected_change_after_apply_fails_the_step(tf: Harness, tmp_path: Path) -> None:
    store = tmp_path / "store"

    def change_behind_terraforms_back() -> None:
        for p in store.glob("*.json"):
            p.unlink()

    with pytest.raises(AssertionError, match="plan is not empty"):
        tf.run(
            Case(
                steps=[
                    Step(config=thing_config(store)),
                    Step(
                        config=thing_config(store),
                        preconfig=change_behind_terraforms_back,
                        plan_only=True,
                    ),
                ]
            )
        )
