"""nimble_image_master from an http:// source behind Basic authentication, with real
terraform, a real local server and the real data plane: without credentials the apply fails
clearly and creates nothing; with source_username and source_password the image is written;
the password is in no state value but source_password, in no log line, in no message, and
not on the array."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

from basic_auth_server import ImageServer
from harness import Case, Harness, State, Step
from nimble_fixtures import DataPlaneSim, DiskImage
from nimble_hcl import config, expect, resource

MASTER = "nimble_image_master.web"
USER = "mirror"
PASSWORD = "Img-Pa55-" + "k2v9q"


def _strings(value: object, at: str = "") -> list[tuple[str, str]]:
    """Every (path, string) inside a JSON value."""
    if isinstance(value, str):
        return [(at, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, f"{at}.{k}")]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{at}[{i}]")]
    return []


def test_acc_image_master_url_with_basic_auth(
    tf: Harness, sim_dp: DataPlaneSim, disk_image: DiskImage, tmp_path: Path
) -> None:
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(disk_image.qcow2, root / "disk.qcow2")
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    name = sim_dp.unique("web")
    before = sim_dp.inventory()
    env = {**sim_dp.env(), "TF_LOG_PROVIDER": "DEBUG"}

    with ImageServer(root, USER, PASSWORD) as server:
        url = server.url("disk.qcow2")
        anonymous = config(resource("nimble_image_master", "web", name=name, source=url))
        with_auth = config(
            resource(
                "nimble_image_master",
                "web",
                name=name,
                source=url,
                source_username=USER,
                source_password=PASSWORD,
            )
        )

        def only_in_source_password(state: State) -> None:
            attrs = state.attrs(MASTER)
            holders = [p for p, s in _strings(attrs) if PASSWORD in s or token in s]
            assert holders == [".source_password"], holders
            assert attrs["image_sha256"] == disk_image.qcow2_sha256
            assert attrs["source"] == url

        def not_on_the_array(state: State) -> None:
            from tfnimble.nimble.client import snapshots

            snap = snapshots.get_snapshot(sim_dp.client, state.attrs(MASTER)["snapshot_id"])
            assert snap is not None and PASSWORD not in json.dumps(snap.raw)
            assert f"source={url}" in snap.description

        tf.run(
            Case(
                env=env,
                steps=[
                    Step(
                        config=anonymous,
                        expect_error=(
                            r"Image Download Failed.*on main\.tf line \d+.*HTTP 401 "
                            r"Unauthorized\. The server wants credentials: set "
                            r"source_username and source_password"
                        ),
                    ),
                    Step(
                        config=with_auth,
                        checks=[
                            expect(MASTER, "source_username", USER),
                            only_in_source_password,
                            not_on_the_array,
                        ],
                    ),
                ],
                check_destroy=sim_dp.back_to(before),
            )
        )
        assert server.seen_authorization[0] is None
        assert server.seen_authorization[-1] == server.expected

    # The plan shows the password as sensitive; no output and no provider log line holds it.
    assert any("(sensitive value)" in r.output for r in tf.log)
    assert any("downloaded" in r.stderr for r in tf.log), "no provider debug log captured"
    for result in tf.log:
        if result.argv[1:3] == ["show", "-json"]:
            continue  # the state itself, checked attribute by attribute above
        assert PASSWORD not in result.output and token not in result.output, result.argv
