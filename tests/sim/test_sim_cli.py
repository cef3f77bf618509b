"""The nimble-sim process: ready line, TLS, SIGTERM, kill -9 durability, options."""

from __future__ import annotations

import ipaddress
import signal
import socket
import threading
from pathlib import Path

import pytest
import requests
from cryptography import x509
from sim_testkit import Api, start_sim_process
from tfnimble.sim import main as sim_main


def test_ready_line_tls_and_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state"
    p = start_sim_process(
        state,
        "--username",
        "ops",
        "--password",
        "pw",
        "--group-name",
        "lab-grp",
        "--iscsi-portal",
        "10.9.8.7:3261",
    )
    try:
        info = p.info
        assert set(info) == {"url", "ca_file", "username", "state_dir", "pid"}
        assert info["url"].startswith("https://127.0.0.1:") and not info["url"].endswith(":0")
        assert (info["username"], info["pid"]) == ("ops", p.proc.pid)
        assert Path(info["ca_file"]) == state / "ca.pem"
        cert = x509.load_pem_x509_certificate((state / "server.pem").read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
        with pytest.raises(requests.exceptions.SSLError):
            s = requests.Session()
            s.trust_env = False
            s.get(info["url"] + "/versions", timeout=10)  # system CAs do not trust the sim
        api = Api(info["url"], info["ca_file"], "ops", "pw")
        group = api.get("/v1/groups/detail").data[0]
        assert group["name"] == "lab-grp"
        subnets = api.get("/v1/network_configs/detail", role="active").data[0]["subnet_list"]
        data = next(s for s in subnets if s["type"] == "data")
        assert data["discovery_ip"] == "10.9.8.7:3261"
    finally:
        assert p.stop(signal.SIGTERM) == 0
    assert "shutting down" in p.stderr and "admin/admin" not in p.stderr


@pytest.mark.parametrize("scope", ["group", "volume"])
def test_target_scope_option(tmp_path: Path, scope: str) -> None:
    args = ("--password", "pw", *(("--target-scope", scope) if scope == "volume" else ()))
    p = start_sim_process(tmp_path / "state", *args)
    try:
        api = Api(p.info["url"], p.info["ca_file"], "admin", "pw")
        group = api.get("/v1/groups/detail").data[0]
        assert (group["group_target_enabled"], group["default_iscsi_target_scope"]) == (True, scope)
        vol = api.volume("v")
        assert vol["iscsi_target_scope"] == scope
        assert (vol["target_name"] == group["group_target_name"]) is (scope == "group")
    finally:
        assert p.stop() == 0


def test_default_credentials_warn_and_state_dir_is_exclusive(tmp_path: Path) -> None:
    p = start_sim_process(tmp_path)
    try:
        assert p.info["username"] == "admin"
        second = start_sim_process_failing(tmp_path)
        assert second[0] == 1 and "in use by another nimble-sim" in second[1]
    finally:
        assert p.stop() == 0
    assert "using admin/admin" in p.stderr


def start_sim_process_failing(state: Path) -> tuple[int, str]:
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tfnimble.sim.main",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.stdout == ""
    return proc.returncode, proc.stderr


def test_kill_9_loses_no_acknowledged_object(tmp_path: Path) -> None:
    state = tmp_path / "state"
    p = start_sim_process(state, "--password", "pw")
    api = Api(p.info["url"], p.info["ca_file"], "admin", "pw")
    acknowledged: list[tuple[str, str]] = []
    lock = threading.Lock()
    stop = threading.Event()
    enough = threading.Event()  # 150 creates acknowledged: kill now

    def writer(w: int) -> None:
        client = Api(p.info["url"], p.info["ca_file"], "admin", "pw")
        i = 0
        while not stop.is_set():
            try:
                r = client.post("/v1/volumes", {"name": f"w{w}-{i}", "size": 16})
            except requests.RequestException:
                return
            if r.status == 201:
                with lock:
                    acknowledged.append((r.data["id"], r.data["name"]))
                    if len(acknowledged) >= 150:
                        enough.set()
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    # however slow the machine: wait for the 150th acknowledgement, or for every writer to end
    while not enough.wait(0.05) and any(t.is_alive() for t in threads):
        pass
    p.proc.send_signal(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert p.stop() == -signal.SIGKILL
    assert len(acknowledged) >= 150

    q = start_sim_process(state, "--password", "pw")
    try:
        api = Api(q.info["url"], q.info["ca_file"], "admin", "pw")
        rows = []
        start = 0
        while True:
            page = api.get("/v1/volumes", startRow=start).json
            rows += page["data"]
            start = page["endRow"]
            if start >= page["totalRows"]:
                break
        present = {(v["id"], v["name"]) for v in rows}
        assert set(acknowledged) <= present
        assert len({v["name"] for v in rows}) == len(rows)
        assert q.info["ca_file"] == p.info["ca_file"]
    finally:
        q.stop()


def test_listen_on_a_taken_port_fails_cleanly(tmp_path: Path) -> None:
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tfnimble.sim.main",
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--state-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 1 and "cannot listen" in proc.stderr and proc.stdout == ""


def test_argument_validation() -> None:
    parser = sim_main.build_parser()
    for argv in (
        ["serve", "--state-dir", "d", "--listen", "nohost"],
        ["serve", "--state-dir", "d", "--iscsi-portal", "1.2.3.4:99999"],
        ["serve", "--state-dir", "d", "--session-timeout", "0"],
        ["serve", "--state-dir", "d", "--pool-capacity", "lots"],
        ["serve", "--state-dir", "d", "--fault", "error=7"],
        ["serve", "--state-dir", "d", "--target-scope", "fabric"],
        ["serve"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
    args = parser.parse_args(
        ["serve", "--state-dir", "d", "--pool-capacity", "2TiB", "--listen", "0.0.0.0:0"]
    )
    assert args.pool_capacity == 2 << 40 and args.listen == ("0.0.0.0", 0)


def test_data_plane_flag_without_module_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim_main, "DATA_PLANE_MODULE", "tfnimble.sim.no_such_dataplane")
    with pytest.raises(SystemExit, match=r"--data-plane needs tfnimble\.sim\.no_such_dataplane"):
        sim_main._load_data_plane("/tmp/x", "127.0.0.1:3260")


def test_version_and_help_state_defaults_and_needs(capsys: pytest.CaptureFixture[str]) -> None:
    from tfnimble import __version__

    with pytest.raises(SystemExit) as exit_:
        sim_main.build_parser().parse_args(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"nimble-sim {__version__}"
    serve_help = sim_main.build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    text = " ".join(serve_help.format_help().split())
    for needed in (
        "(default 127.0.0.1:5392)",
        "(default admin)",
        "$NIMBLE_SIM_PASSWORD",
        "(default 10TiB)",
        "(default 1800)",
        "needs root, tgtd/tgtadm and xfsprogs",
    ):
        assert needed in text, needed
