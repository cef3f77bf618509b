"""nimble_image_master written over a CHAP login, with real terraform against nimble-sim whose
data plane enforces CHAP (volume-scoped targets: tgtd asks for the CHAP users the volume's
access records name). One scenario: a login without the secret is refused at validate, a wrong
secret at the login (naming the attribute, not the secret, and leaving nothing on the array),
the right one writes and verifies the image; the secret is in no state, plan, log or argv of
the tools the provider runs; a new secret for the CHAP user reaches the target (old refused,
new let in)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from harness import Case, Harness, State, Step
from nimble_fixtures import DataPlaneSim, DiskImage, read_back
from nimble_hcl import config, expect, resource

MASTER = "nimble_image_master.m"
USER = "nimble_chap_user.c"
SECRET, WRONG, ROTATED = "Chap-image-0001", "Chap-wrong-0002", "Chap-rotated-03"
READER = "iqn.2026-11.io.ito:acc-chap-reader"
TOOLS = ("qemu-img", "iscsi-ls", "iscsi-inq")
VARIABLES = """
variable "chap_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}

variable "login_secret" {
  type      = string
  sensitive = true
  ephemeral = true
  default   = null
}
"""


def chap_master_config(name: str, source: str) -> str:
    return config(
        VARIABLES,
        resource("nimble_chap_user", "c", name=name, secret_wo="=var.chap_secret"),
        resource(
            "nimble_image_master",
            "m",
            name=name,
            source=source,
            chap_username="=nimble_chap_user.c.name",
            chap_secret_wo="=var.login_secret",
            chap_secret_wo_version=1,
        ),
    )


def recording_tools(bindir: Path, log: Path) -> None:
    """Wrappers that record the command line of every tool the provider runs (what `ps`
    shows: argv) and whether a CHAP login reached it through the environment, then run the
    real tool. Never the environment's values."""
    for tool in TOOLS:
        real = next(
            Path(d) / tool
            for d in os.environ["PATH"].split(os.pathsep)
            if (Path(d) / tool).is_file() and Path(d) != bindir
        )
        script = bindir / tool
        script.write_text(
            "#!/bin/sh\n"
            f'printf "{tool} %s ENV_USER=%s\\n" "$*" "${{LIBISCSI_CHAP_USERNAME:+set}}" '
            f'>> "{log}"\n'
            f'exec "{real}" "$@"\n'
        )
        script.chmod(0o755)


def test_acc_image_master_chap_login(
    tf: Harness, sim_dp_volume_scope: DataPlaneSim, disk_image: DiskImage, tmp_path: Path
) -> None:
    sim = sim_dp_volume_scope
    name = sim.unique("chapm")
    before = sim.inventory()
    bindir, argv_log = tmp_path / "bin", tmp_path / "argv.log"
    bindir.mkdir()
    recording_tools(bindir, argv_log)

    def no_secret_on_disk(state: State | None = None) -> None:
        assert tf.workdir is not None
        for path in tf.workdir.rglob("*"):
            if path.is_file() and ".terraform" not in path.parts:
                data = path.read_bytes()
                for secret in (SECRET, WRONG):
                    assert secret.encode() not in data, f"{secret!r} is in {path}"

    def wrong_secret_left_nothing() -> None:
        # The failed apply created the CHAP user (in state) and nothing else is left.
        now = sim.inventory()
        assert now == {**before, "chap_users": before["chap_users"] | {name}}, now
        no_secret_on_disk()

    def written_and_verified(state: State) -> None:
        attrs = state.attrs(MASTER)
        assert attrs["chap_username"] == name and attrs["chap_secret_wo"] is None
        assert attrs["image_sha256"] == disk_image.qcow2_sha256 and attrs["snapshot_id"]
        vol = sim.volume(name)
        assert vol is not None and not vol.access_control_records, vol
        # the master keeps no access: read it back through a grant made for this check
        assert read_back(sim, vol, READER, tmp_path / "back.raw") == disk_image.raw_sha256
        # Every tool ran with the login off its command line: qemu-img by a secret object
        # (a file), libiscsi's tools by their environment.
        lines = argv_log.read_text().splitlines()
        for tool in TOOLS:
            assert any(line.startswith(f"{tool} ") for line in lines), (tool, lines)
        assert not [line for line in lines if SECRET in line or WRONG in line]
        qemu = [line for line in lines if line.startswith("qemu-img ") and "iscsi" in line]
        assert qemu and all("password-secret=" in q and "secret,id=" in q for q in qemu), qemu
        libiscsi = [line for line in lines if line.startswith("iscsi-")]
        assert all(line.endswith("ENV_USER=set") for line in libiscsi), libiscsi
        # A saved plan (and its JSON) holds no secret either.
        tf.terraform("plan", "-no-color", "-input=false", "-out=again.plan", env=env)
        shown = tf.terraform("show", "-json", "-no-color", "again.plan", env=env).stdout
        master = {rc["address"]: rc for rc in json.loads(shown)["resource_changes"]}[MASTER]
        assert master["change"]["actions"] == ["no-op"]
        assert SECRET not in shown and WRONG not in shown
        no_secret_on_disk()
        assert tf.workdir is not None and (tf.workdir / "terraform.log").stat().st_size > 0

    def rotation_reaches_the_target(state: State) -> None:
        """The sim's side: a new secret for the CHAP user re-makes tgtd's account and binds it
        again, so the old secret is refused and the new one logs in."""
        from tfnimble.nimble.client import access_control_records as acrs
        from tfnimble.nimble.client import chap_users
        from tfnimble.nimble.client import initiator_groups as igs

        user_id, vol = state.attrs(USER)["id"], sim.volume(name)
        assert vol is not None
        group = igs.create_initiator_group(sim.client, sim.unique("rot"), [READER])
        acr = acrs.create_access_control_record(
            sim.client, vol.id, group.id, apply_to="volume", chap_user_id=user_id
        )

        def login(secret: str) -> str:
            login_env = {**os.environ, "LIBISCSI_CHAP_USERNAME": name}
            login_env["LIBISCSI_CHAP_PASSWORD"] = secret
            argv = ["iscsi-ls", "-s", "-i", READER, f"iscsi://{sim.portal}"]
            done = subprocess.run(argv, env=login_env, capture_output=True, text=True, timeout=30)
            return done.stdout + done.stderr

        try:
            assert "DIRECT_ACCESS" in login(SECRET)
            chap_users.update_chap_user(sim.client, user_id, secret=ROTATED)
            assert "Authentication failure" in login(SECRET)
            assert "DIRECT_ACCESS" in login(ROTATED)
        finally:
            acrs.delete_access_control_record(sim.client, acr.id)
            igs.delete_initiator_group(sim.client, group.id)

    env = {
        **sim.env(),
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "TF_VAR_chap_secret": SECRET,
        "TF_LOG": "TRACE",
        "TF_LOG_PATH": "terraform.log",  # in the working directory no_secret_on_disk searches
    }
    hcl = chap_master_config(name, str(disk_image.qcow2))
    tf.run(
        Case(
            env=env,
            steps=[
                Step(config=hcl, expect_error=r"Incomplete CHAP Login.*Set chap_secret_wo"),
                Step(
                    config=hcl,
                    env={"TF_VAR_login_secret": WRONG},
                    expect_error=r"iSCSI Login Refused.*authentication failure.*CHAP user "
                    rf"{name}.*chap_secret_wo.*was deleted: nothing was left on the array",
                ),
                Step(
                    config=hcl,
                    preconfig=wrong_secret_left_nothing,
                    env={"TF_VAR_login_secret": SECRET},
                    checks=[
                        expect(MASTER, "chap_secret_wo_version", 1),
                        written_and_verified,
                        rotation_reaches_the_target,
                    ],
                ),
            ],
            check_destroy=sim.back_to(before),
        )
    )
