"""nimble_image_master's own CHAP login, without an array: the secret file and environment,
the exact command lines the tools get, the access record naming the CHAP user, and the
diagnostics (on the attribute, never with the secret)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_unit_resource_image_master import (  # noqa: F401 (fixtures)
    STATE,
    FakeArray,
    array,
    config,
    ctx,
    image,
    plan,
    planned,
)
from tfnimble.nimble import chap_login, lunprobe
from tfnimble.nimble import image_master_ops as ops
from tfnimble.nimble import imagewrite as iw
from tfnimble.nimble.client import access_control_records
from tfnimble.nimble.provider import NimbleProvider
from tfnimble.nimble.resource_image_master import ImageMasterResource
from tfnimble.plugin import DiagnosticError
from tfnimble.plugin.engine import Engine

SECRET = "Chap-Secret-42"
CHAP = chap_login.Chap("imagewriter", SECRET)
TYPE = "nimble_image_master"


def test_secret_is_not_in_repr_and_env_carries_it() -> None:
    assert SECRET not in repr(CHAP)
    assert chap_login.env(CHAP) == {
        "LIBISCSI_CHAP_USERNAME": "imagewriter",
        "LIBISCSI_CHAP_PASSWORD": SECRET,
    }
    assert chap_login.env(None) == {}
    assert chap_login.image_opts(None) == []


def test_secret_file_is_private_and_removed_after_the_block() -> None:
    with chap_login.qemu_secret(CHAP) as args:
        assert args[0] == "--object" and SECRET not in " ".join(args)
        path = args[1].split("file=", 1)[1]
        assert Path(path).read_text() == SECRET
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
    with pytest.raises(RuntimeError), chap_login.qemu_secret(CHAP) as args:
        path = args[1].split("file=", 1)[1]
        raise RuntimeError("the tool failed")
    assert not os.path.exists(os.path.dirname(path))
    with chap_login.qemu_secret(None) as args:
        assert args == []


@pytest.fixture
def tool_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Fake `imagewrite.run`: records each argv, its extra environment, and what the secret
    file named in argv held while the tool ran."""
    runs: list[dict[str, Any]] = []

    def run(argv: list[str], *a: Any, env: dict[str, str] | None = None, **k: Any) -> Any:
        files = [x.split("file=", 1)[1] for x in argv if x.startswith("secret,")]
        held = [Path(f).read_text() for f in files]
        runs.append({"argv": list(argv), "env": dict(env or {}), "held": held, "files": files})
        out = ""
        if argv[0] == "iscsi-ls":
            out = "Target:iqn.t:1 Portal:10.0.0.5:3260,1\nLun:1 Type:DIRECT_ACCESS (Size:64M)\n"
        elif argv[0] == "iscsi-inq":
            out = "Unit Serial Number:[s]\n"
        return subprocess.CompletedProcess(argv, 0, out, "")

    monkeypatch.setattr(iw, "run", run)
    return runs


def test_every_tool_gets_the_secret_off_its_command_line(tool_runs: list[dict[str, Any]]) -> None:
    lun = lunprobe.confirm_lun("10.0.0.5:3260", "iqn.t:1", "iqn.i:1", 1, "s", chap=CHAP)
    target = iw.Target("10.0.0.5:3260", "iqn.t:1", lun, "iqn.i:1", CHAP)
    src = iw.Source("/img.qcow2", "qcow2", 1 << 20, "ab" * 32, 1, 1)
    iw.write(src, target)
    iw.verify(src, target)
    assert [r["argv"][0] for r in tool_runs] == ["iscsi-ls", "iscsi-inq", "qemu-img", "qemu-img"]
    for r in tool_runs:
        assert not any(SECRET in arg for arg in r["argv"]), r["argv"]
    for r in tool_runs[:2]:  # libiscsi's tools: the environment, never user%password@
        assert r["env"] == chap_login.env(CHAP) and "%" not in r["argv"][-1]
    for r in tool_runs[2:]:  # qemu-img: a secret object read from a 0600 file
        assert r["argv"][2] == "--object" and r["held"] == [SECRET]
        assert "file.user=imagewriter" in r["argv"][-1]
        assert f"file.password-secret={chap_login.SECRET_ID}" in r["argv"][-1]
        assert not any(os.path.exists(f) for f in r["files"])  # removed after the run


def test_without_chap_the_command_lines_are_unchanged(tool_runs: list[dict[str, Any]]) -> None:
    target = iw.Target("10.0.0.5:3260", "iqn.t:1", 1, "iqn.i:1")
    iw.write(iw.Source("/img.raw", "raw", 1 << 20, "ab" * 32, 1, 1), target)
    assert tool_runs[0]["argv"][:4] == ["qemu-img", "convert", "-p", "-n"]
    assert "user" not in tool_runs[0]["argv"][-1] and tool_runs[0]["env"] == {}


@pytest.mark.parametrize("chap", [CHAP, None])
def test_a_refused_chap_login_names_the_attribute_not_the_secret(
    monkeypatch: pytest.MonkeyPatch, chap: chap_login.Chap | None
) -> None:
    said = "list_luns: iscsi_connect failed. Failed to log in to target. Status: "
    refused = subprocess.CompletedProcess(
        [], 10, f"Target:iqn.t:1 P\n{said}Authentication failure(513)\n", ""
    )
    monkeypatch.setattr(iw, "run", lambda *a, **k: refused)
    monkeypatch.setattr(iw, "reachable", lambda portal: True)
    with pytest.raises(ops.Failure) as err:
        ops._iscsi(
            lambda: lunprobe.confirm_lun(
                "p:3260", "iqn.t:1", "iqn.i:1", 0, "s", settle=0, chap=chap
            ),
            chap,
        )
    assert err.value.summary == "iSCSI Login Refused"
    assert err.value.attribute == ("chap_secret_wo" if chap else "chap_username")
    assert SECRET not in err.value.detail and "Nothing was written" in err.value.detail


def test_create_names_the_chap_user_in_the_temporary_access_record(
    array: FakeArray,  # noqa: F811 (the fixture)
    image: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Any] = []
    create_acr = access_control_records.create_access_control_record

    def recording(cl: Any, vol_id: str, group_id: str, **kw: Any) -> Any:
        seen.append(kw.get("chap_user_id"))
        return create_acr(cl, vol_id, group_id, **kw)

    monkeypatch.setattr(access_control_records, "create_access_control_record", recording)
    monkeypatch.setattr(chap_login, "user_id", lambda cl, name: "1b00chap")
    confirmed: list[Any] = []
    real_confirm = lunprobe.confirm_lun
    monkeypatch.setattr(
        lunprobe, "confirm_lun", lambda *a, **k: confirmed.append(a[-1]) or real_confirm(*a, **k)
    )
    model = ImageMasterResource().create(
        ctx(), planned(chap_username="imagewriter", chap_secret_wo=SECRET)
    )
    assert seen == ["1b00chap"] and confirmed == [CHAP]
    assert model.snapshot_id is not None


def test_create_with_an_unknown_chap_user_creates_nothing(
    array: FakeArray,  # noqa: F811 (the fixture)
    image: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(chap_login, "user_id", lambda cl, name: None)
    with pytest.raises(DiagnosticError) as err:
        ImageMasterResource().create(ctx(), planned(chap_username="nobody", chap_secret_wo=SECRET))
    assert err.value.summary == "CHAP User Not Found" and str(err.value.path) == "chap_username"
    assert SECRET not in err.value.detail
    assert array.calls == ["prepare"]  # no volume, group or record


def test_a_chap_secret_needs_its_user_at_validate() -> None:
    diags = Engine(NimbleProvider()).validate_resource_config(
        TYPE, config(chap_secret_wo=SECRET), write_only_allowed=True
    )
    errors = [d for d in diags if d.severity.name == "ERROR"]
    assert [e.summary for e in errors] == ["Incomplete CHAP Login"], errors
    assert "Set chap_username." in errors[0].detail and str(errors[0].path) == "chap_username"
    assert SECRET not in errors[0].detail


def test_a_chap_user_needs_its_secret_only_when_the_master_is_created() -> None:
    url = "https://images.example/ubuntu.qcow2"
    created = plan(prior=None, source=url, chap_username="imagewriter")
    errors = [d for d in created.diagnostics if d.severity.name == "ERROR"]
    assert [e.summary for e in errors] == ["Incomplete CHAP Login"], errors
    assert "Set chap_secret_wo." in errors[0].detail
    # later plans (and destroy) are given no secret: the login was made at creation
    later = plan(prior={**STATE, "chap_username": "imagewriter"}, chap_username="imagewriter")
    assert not later.diagnostics.has_error(), list(later.diagnostics)
