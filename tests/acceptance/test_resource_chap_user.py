"""nimble_chap_user (write-only secret) and access control records that name it, with real
terraform against nimble-sim: bad input at plan, create, the secret in neither state nor plan
files nor the provider's log, import, a version bump that sends a new secret, drift, an
IQN taken from another CHAP user (the plan warns; taken back, the plan puts it back), and a
destroy of a user and a group that share an IQN without referring to each other (Terraform
deletes them at the same time; the array refuses the user's delete while the group has
it)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from harness import Case, Harness, State, Step
from nimble_fixtures import Sim
from nimble_hcl import config, expect, resource

USER = "nimble_chap_user.c"
HOST = "nimble_chap_user.h"
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


IQN = "iqn.1993-08.org.x:01:ctl"


def with_host_user(name: str) -> str:
    """chap_config plus a CHAP user that has the group's IQN and that nothing refers to, nor
    it to anything: a destroy deletes it at once, while the group waits for the record."""
    host = resource(
        "nimble_chap_user",
        "h",
        name=f"{name}-h",
        secret_wo="=var.chap_secret",
        initiator_iqns=[IQN],
    )
    return chap_config(name) + host


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
        resource("nimble_initiator_group", "g", name=name, initiators=[IQN]),
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
    state_env = {"TF_VAR_chap_secret": SECRET_2, "TF_VAR_chap_secret_version": "2"}

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

    def another_user_has_the_iqn() -> None:
        other = chap_users.create_chap_user(sim.client, f"{name}-o", SECRET_1, initiator_iqns=[IQN])
        ids["other"], ids["log"] = other.id, str(len(tf.log))

    def warns(output: str) -> None:
        flat = re.sub(r"\s+", " ", output.replace("│", " "))
        assert "Warning: Initiator IQN Moves From Another CHAP User" in flat, output[-3000:]
        assert f'gives {IQN} to this CHAP user, but CHAP user "{name}-o" has it' in flat

    def iqn_moved(state: State) -> None:
        warns("".join(r.output for r in tf.log[int(ids["log"]) :]))
        host = state.attrs(HOST)
        assert host["initiator_iqns"] == [IQN]
        assert chap_users.get_chap_user(sim.client, host["id"]).initiator_iqns == (IQN,)
        assert chap_users.get_chap_user(sim.client, ids["other"]).initiator_iqns == ()
        # The other user takes it back: the refresh sees it gone, the plan puts it back.
        chap_users.update_chap_user(sim.client, ids["other"], initiator_iqns=[IQN])
        plan = tf.plan_exitcode(env={**sim.env(), **state_env})
        assert plan.returncode == 2 and f"+ {json.dumps(IQN)}" in plan.stdout, plan.stdout
        assert "1 to change" in plan.stdout
        warns(plan.output)
        chap_users.update_chap_user(sim.client, host["id"], initiator_iqns=[IQN])  # as planned
        chap_users.delete_chap_user(sim.client, ids["other"])

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
                # The destroy that ends the case then deletes h at once, which the array
                # refuses until the group, deleted after the record, is gone.
                Step(
                    config=with_host_user(name),
                    env=state_env,
                    preconfig=another_user_has_the_iqn,
                    expect_actions={HOST: ["create"], USER: ["update"], ACR: ["no-op"]},
                    checks=[iqn_moved],
                ),
            ],
            check_destroy=sim.back_to(before),
        )
    )
