"""The iscsiadm look-alike's CHAP, without a target: the node record's auth keys (set, shown
masked as open-iscsi shows them), and a login that hands the secret to the userspace chain
only through a 0600 file and the environment, never an argument. The login against a target
that really asks for CHAP is tests/acceptance/test_iscsi_store_chap.py."""

from __future__ import annotations

import importlib.util
import stat
import subprocess
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BIN = Path(__file__).resolve().parent / "bin" / "iscsiadm"
IQN = "iqn.2007-11.com.nimblestorage:vol-chap-v0123456789abcdef"
PORTAL = "10.200.9.2:3260"
SECRET = "Node-secret-0001"
TAG = f"[iface: default, target: {IQN}, portal: 10.200.9.2,3260]"


@pytest.fixture
def adm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    for name in ("ETC", "RUN", "DEV"):
        monkeypatch.setenv(f"ISCSI_LOOKALIKE_{name}", str(tmp_path / name.lower()))
    loader = SourceFileLoader("iscsiadm_lookalike", str(BIN))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    assert mod.main(["-m", "node", "-o", "new", "-T", IQN, "-p", PORTAL + ",1"]) == 0
    return mod


def run(adm: ModuleType, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = adm.main(list(argv))
    got = capsys.readouterr()
    return rc, got.out, got.err


def node(*more: str) -> list[str]:
    return ["-m", "node", "-T", IQN, "-p", PORTAL, *more]


def update(adm: ModuleType, key: str, value: str) -> int:
    return int(adm.main(node("-o", "update", "-n", key, "-v", value)))


def test_auth_keys_are_set_inside_the_record_and_shown_masked(
    adm: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert update(adm, "node.session.auth.authmethod", "CHAP") == 0
    assert update(adm, "node.session.auth.username", "glance-ctl") == 0
    assert update(adm, "node.session.auth.password", SECRET) == 0
    [record] = adm.all_nodes()
    lines = record.path.read_text().splitlines()
    assert lines[-1] == "# END RECORD"  # idbm writes the keys inside the record
    assert f"node.session.auth.password = {SECRET}" in lines
    assert stat.S_IMODE(record.path.stat().st_mode) == 0o600
    assert record.chap() == ("glance-ctl", SECRET)
    rc, out, _ = run(adm, capsys, *node())
    assert rc == 0 and SECRET not in out
    assert "node.session.auth.password = ********\n" in out
    assert "node.session.auth.username = glance-ctl\n" in out
    assert "node.session.auth.authmethod = CHAP\n" in out
    assert f"node.session.auth.password = {SECRET}\n" in run(adm, capsys, *node("-S"))[1]
    # emptied, the key leaves the record (idbm writes no empty value): no CHAP any more
    assert update(adm, "node.session.auth.password", "") == 0
    [record] = adm.all_nodes()
    assert "auth.password" not in record.path.read_text() and record.chap() is None
    rc, _, err = run(
        adm, capsys, *node("-o", "update", "-n", "node.session.auth.pasword", "-v", "x")
    )
    assert rc == 7 and "Cannot modify node.session.auth.pasword. Invalid param name." in err


class Chain:
    """Stands in for the login chain's tools: records argv and environment of each, and what
    qemu-nbd's secret file holds when qemu-nbd runs; the target accepts only ``right``."""

    def __init__(self, right: str | None) -> None:
        self.right = right
        self.calls: list[tuple[list[str], dict[str, str] | None]] = []
        self.secret_file: tuple[str, int] | None = None

    def run(self, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        env = kw.get("env")
        self.calls.append((list(argv), env))
        if argv[0] == "iscsi-ls":
            return subprocess.CompletedProcess(argv, 10, f"Target:{IQN} Portal:{PORTAL},1\n", "")
        assert argv[0] == "qemu-nbd", argv
        secret = None
        if "--object" in argv:
            path = Path(argv[argv.index("--object") + 1].split("file=", 1)[1])
            secret = path.read_text()
            self.secret_file = (secret, stat.S_IMODE(path.stat().st_mode))
        assert secret != self.right, "a right secret would go on to nbdfuse"
        kw["stderr"].write(
            b"qemu-nbd: Failed to blk_new_open '...': iSCSI: Failed to connect to LUN : Failed "
            b"to log in to target. Status: Authentication failure(513)\n"
        )
        return subprocess.CompletedProcess(argv, 1)


@pytest.mark.parametrize("given", ["Wrong-secret-02", None])
def test_refused_chap_login_fails_as_open_iscsi_and_keeps_the_secret_off_argv(
    adm: ModuleType,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    given: str | None,
) -> None:
    chain = Chain(right=SECRET)
    monkeypatch.setattr(adm.subprocess, "run", chain.run)
    if given is not None:
        assert update(adm, "node.session.auth.authmethod", "CHAP") == 0
        assert update(adm, "node.session.auth.username", "glance-ctl") == 0
        assert update(adm, "node.session.auth.password", given) == 0
    rc, out, err = run(adm, capsys, *node("--login"))
    assert (rc, out) == (24, f"Logging in to {TAG}\n")
    assert err == (
        f"iscsiadm: Could not login to {TAG}.\n"
        "iscsiadm: initiator reported error (24 - iSCSI login failed due to authorization "
        "failure)\n"
        "iscsiadm: Could not log into all portals\n"
    )
    assert adm.load_sessions() == []
    ls, (qemu, _) = chain.calls[0], chain.calls[-1]
    assert [c[0][0] for c in chain.calls] == ["iscsi-ls", "qemu-nbd"]
    assert all(given is None or given not in arg for argv, _ in chain.calls for arg in argv)
    if given is None:  # no secret in the record: no CHAP offered at all
        assert ls[1] is None and "--object" not in qemu and chain.secret_file is None
        return
    assert ls[1] is not None
    assert (ls[1]["LIBISCSI_CHAP_USERNAME"], ls[1]["LIBISCSI_CHAP_PASSWORD"]) == (
        "glance-ctl",
        given,
    )
    assert chain.secret_file == (given, 0o600)  # qemu-nbd read it from a file only root reads
    assert "file.user=glance-ctl,file.password-secret=chap0" in qemu[-1]
    assert f"secret,id=chap0,file={adm.RUN}/" in qemu[qemu.index("--object") + 1]
    left = [p for p in Path(adm.RUN).rglob("*") if p.is_file() and given in p.read_text()]
    assert left == []  # the secret file went with the failed login


def test_a_secret_without_a_user_name_is_refused_before_any_tool_runs(
    adm: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = Chain(right=SECRET)
    monkeypatch.setattr(adm.subprocess, "run", chain.run)
    assert update(adm, "node.session.auth.password", SECRET) == 0
    rc, _, err = run(adm, capsys, *node("--login"))
    assert rc == 24 and "(24 - iSCSI login failed due to authorization failure)" in err
    assert chain.calls == []
