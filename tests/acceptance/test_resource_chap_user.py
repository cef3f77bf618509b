"""nimble_chap_user (write-only secret) and access control records that name it, with real
terraform against nimble-sim: bad input at plan, create, the secret in neither state nor plan
files nor the provider's log, import, a version bump that sends a new secret, drift,
destroy."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from harness import Case, Harness, State, Step
from nimble_fixtures import Sim
from nimble_hcl import config, expect, resource

USER = "nimble_chap_user.c"
ACR = "nimble_access_control_record.a"
SECRET_1, SECRET_2 = "Chap-first-0001", "Chap-second-002"
VARIABLES = """
variable "chap_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}

variable "chap_secret_version" {
  type    = number
  default = null
}
"""


def chap_config(name: str, secret: str = "=var.chap_secret") -> str:
    return config(
        VARIABLES,
        resource(
            "nimble_chap_user",
            "c",
            name=name,
            description="glance store login",
            secret_wo=secret,
            secret_wo_version="=var.chap_secret_version",
        ),
        resource("nimble_volume", "v", name=name, size_mib=64),
        resource("nimble_initiator_group", "g", name=name, initiators=["iqn.1993-08.org.x:01:ctl"]),
        resource(
            "nimble_access_control_record",
            "a",
            volume_id="=nimble_volume.v.id",
            initiator_group_id="=nimble_initiator_group.g.id",
            chap_user_id="=nimble_chap_user.c.id",
            apply_to="volume",
        ),
    )


def array_secret(sim: Sim, name: str) -> str:
    """The secret the array keeps (read from the simulator's SQLite: no GET returns it)."""
    db = sqlite3.connect(f"file:{Path(sim.state_dir) / 'sim.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT doc FROM objects WHERE type = 'chap_user'").fetchall()
    finally:
        db.close()
    docs = [json.loads(r[0]) for r in rows]
    return str(next(d["password"] for d in docs if d["name"] == name))


def test_acc_chap_user_write_only_secret(tf: Harness, sim: Sim) -> None:
    from tfnimble.nimble.client import chap_users

    name = sim.unique("chap")
    before = sim.inventory()
    ids: dict[str, str] = {}

    def no_secret_on_disk(*secrets: str) -> None:
        assert tf.workdir is not None
        for path in tf.workdir.rglob("*"):
            if path.is_file() and ".terraform" not in path.parts:
                data = path.read_bytes()
                for secret in secrets:
                    assert secret.encode() not in data, f"{secret!r} is in {path}"

    def created(state: State) -> None:
        user = state.attrs(USER)
        ids["user"], ids["acr"] = user["id"], state.attrs(ACR)["id"]
        assert user["secret_wo"] is None and user["secret_wo_version"] is None
        assert state.attrs(ACR)["chap_user_id"] == user["id"]
        assert array_secret(sim, name) == SECRET_1
        record = chap_users.get_chap_user(sim.client, user["id"])
        assert record is not None and record.vol_count == 1
        assert "password" not in record.raw
        no_secret_on_disk(SECRET_1)
        assert tf.workdir is not None and (tf.workdir / "provider.log").stat().st_size > 0

    def bump_is_planned_without_the_secret(state: State) -> None:
        """A saved plan that sends a new secret holds neither secret (the plan file, and
        `terraform show -json` of it)."""
        env = {
            **sim.env(),
            "TF_VAR_chap_secret": SECRET_2,
            "TF_VAR_chap_secret_version": "2",
        }
        tf.terraform("plan", "-no-color", "-input=false", "-out=bump.plan", env=env)
        shown = tf.terraform("show", "-json", "-no-color", "bump.plan", env=env).stdout
        change = {rc["address"]: rc["change"] for rc in json.loads(shown)["resource_changes"]}[USER]
        assert change["actions"] == ["update"]
        assert change["after"]["secret_wo_version"] == 2 and change["after"]["secret_wo"] is None
        assert SECRET_1 not in shown and SECRET_2 not in shown
        no_secret_on_disk(SECRET_1, SECRET_2)

    def rotated(state: State) -> None:
        assert state.attrs(USER)["id"] == ids["user"]
        assert state.attrs(ACR)["id"] == ids["acr"]  # the record was not replaced
        assert array_secret(sim, name) == SECRET_2
        no_secret_on_disk(SECRET_1, SECRET_2)

    def change_behind_terraform() -> None:
        chap_users.update_chap_user(sim.client, ids["user"], description="changed by hand")

    tf.run(
        Case(
            # The provider's own log, at its most verbose, lands in the working directory,
            # which no_secret_on_disk searches.
            env={
                **sim.env(),
                "TF_VAR_chap_secret": SECRET_1,
                "TF_LOG_PROVIDER": "TRACE",
                "TF_LOG_PATH": "provider.log",
            },
            steps=[
                Step(
                    config=chap_config(name, secret="short"),
                    expect_error=r"Invalid CHAP Secret.*secret_wo must be 12 to 16 .*has 5 "
                    r"characters",
                ),
                Step(
                    config=chap_config(name),
                    checks=[
                        expect(USER, "name", name),
                        created,
                        bump_is_planned_without_the_secret,
                    ],
                ),
                Step(import_state=True, resource_name=USER, import_state_verify=True),
                Step(import_state=True, resource_name=ACR, import_state_verify=True),
                Step(
                    config=chap_config(name),
                    env={"TF_VAR_chap_secret": SECRET_2, "TF_VAR_chap_secret_version": "2"},
                    expect_actions={USER: ["update"], ACR: ["no-op"]},
                    checks=[expect(USER, "secret_wo_version", 2), rotated],
                ),
                Step(
                    config=chap_config(name),
                    env={"TF_VAR_chap_secret": SECRET_2, "TF_VAR_chap_secret_version": "2"},
                    preconfig=change_behind_terraform,
                    plan_only=True,
                    expect_non_empty_plan=True,
                ),
            ],
            check_destroy=sim.back_to(before),
        )
    )
