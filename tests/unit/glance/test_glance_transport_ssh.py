"""SSHTransport against a real sshd on 127.0.0.1 (throwaway keys and config in a tmp dir)."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from testbed.caps import missing
from tfnimble.glance.transport import CommandTimeout, Transport
from tfnimble.glance.transport.ssh import AuthenticationFailed, HostKeyError, SSHTransport

SSHD = "/usr/sbin/sshd"


@dataclass
class Sshd:
    port: int
    host_key_line: str
    client_key_pem: str
    client_key_file: str
    dir: Path

    def transport(self, **kw: object) -> SSHTransport:
        options: dict[str, object] = {
            "port": self.port,
            "username": "root",
            "private_key": self.client_key_pem,
            "host_key": self.host_key_line,
            "connect_timeout": 5.0,
        }
        options.update(kw)
        return SSHTransport("127.0.0.1", **options)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        missing("openssh-server is not installed (apt-get install openssh-server)")
    if os.geteuid() != 0:
        missing("sshd test needs root (sshd privilege separation)")
    d = tmp_path_factory.mktemp("sshd")
    _keygen(d / "host")
    _keygen(d / "client")
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\n"
        f"AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\nLogLevel ERROR\n"
    )
    os.makedirs("/run/sshd", exist_ok=True)
    log = open(d / "sshd.log", "wb")  # noqa: SIM115 - closed in the finalizer
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    missing(f"sshd did not start: {(d / 'sshd.log').read_text()[-500:]}")
                time.sleep(0.05)
        host_pub = (d / "host.pub").read_text().split()
        yield Sshd(
            port=port,
            host_key_line=f"{host_pub[0]} {host_pub[1]}",
            client_key_pem=(d / "client").read_text(),
            client_key_file=str(d / "client"),
            dir=d,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def test_key_auth_exit_codes_and_streams(sshd: Sshd) -> None:
    with sshd.transport() as t:
        assert isinstance(t, Transport)
        r = t.run(["sh", "-c", "echo out; echo err >&2; exit 7"])
        assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n")  # no PTY: kept apart
        assert t.run(["true"]).returncode == 0
        assert t.run(["/nonexistent-tool"]).returncode == 127


def test_shell_metacharacters_arrive_intact(sshd: Sshd) -> None:
    args = ["a b", "$(id)", "`id`", "'q'", '"dq"', "; rm -rf /tmp/x", "*", "\\", "", "ä\tx", "-n"]
    with sshd.transport() as t:
        r = t.run(["printf", "%s\\n", *args])
    assert r.stdout == "".join(f"{a}\n" for a in args)


def test_stdin_passed_through_channel(sshd: Sshd) -> None:
    payload = os.urandom(256 * 1024).hex().encode()  # 512 KiB: more than one SSH window
    with sshd.transport() as t:
        r = t.run(["sha256sum"], stdin=payload)
        import hashlib

        assert r.stdout.split()[0] == hashlib.sha256(payload).hexdigest()
        assert t.run(["cat"]).stdout == ""
        assert t.run(["sh", "-c", 'echo "$TFN_V"'], env={"TFN_V": "x y"}).stdout == "x y\n"


def test_files_over_ssh(sshd: Sshd) -> None:
    target = sshd.dir / "files" / "glance-api.conf"
    target.parent.mkdir()
    with sshd.transport() as t:
        assert t.read_file(str(target)) is None
        t.write_file(str(target), b"[glance_store]\n")
        os.chmod(target, 0o640)
        t.write_file(str(target), b"[glance_store]\nfilesystem_store_datadir = /x\n")
        assert t.read_file(str(target)) == b"[glance_store]\nfilesystem_store_datadir = /x\n"
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
        assert [p.name for p in target.parent.iterdir()] == ["glance-api.conf"]


def test_unknown_and_wrong_host_keys_are_refused(sshd: Sshd) -> None:
    _keygen(sshd.dir / "other")
    other = (sshd.dir / "other.pub").read_text().split()
    with pytest.raises(HostKeyError, match="does not match"):
        sshd.transport(host_key=f"{other[0]} {other[1]}").run(["true"])
    empty = sshd.dir / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyError, match="is unknown"):
        sshd.transport(host_key=None, known_hosts_file=str(empty)).run(["true"])
    with pytest.raises(HostKeyError, match="must look like"):
        sshd.transport(host_key="not a key")


def test_known_hosts_file_and_insecure_opt_in(sshd: Sshd) -> None:
    known = sshd.dir / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {sshd.host_key_line}\n")
    with sshd.transport(host_key=None, known_hosts_file=str(known)) as t:
        assert t.run(["echo", "ok"]).stdout == "ok\n"
    empty = sshd.dir / "empty2"
    empty.write_text("")
    with sshd.transport(
        host_key=None, known_hosts_file=str(empty), insecure_ignore_host_key=True
    ) as t:
        assert t.run(["echo", "ok"]).stdout == "ok\n"
    assert empty.read_text() == ""  # nothing saved


def test_key_file_and_bad_key(sshd: Sshd) -> None:
    with sshd.transport(private_key=None, private_key_file=sshd.client_key_file) as t:
        assert t.run(["echo", "ok"]).stdout == "ok\n"
    _keygen(sshd.dir / "stranger")
    stranger = (sshd.dir / "stranger").read_text()
    with pytest.raises(AuthenticationFailed, match=r"authentication as root@127\.0\.0\.1"):
        sshd.transport(private_key=stranger).run(["true"])
    with pytest.raises(AuthenticationFailed, match="not a supported private key"):
        sshd.transport(private_key="-----BEGIN NONSENSE-----\n").run(["true"])


def test_reconnects_after_dropped_connection_and_timeout(sshd: Sshd) -> None:
    t = sshd.transport()
    try:
        assert t.run(["echo", "1"]).stdout == "1\n"
        client = t._client
        assert client is not None
        transport = client.get_transport()
        assert transport is not None
        transport.close()  # the connection drops between commands
        assert t.run(["echo", "2"]).stdout == "2\n"
        with pytest.raises(CommandTimeout):
            t.run(["sleep", "5"], timeout=0.3)
        assert t.run(["echo", "3"]).stdout == "3\n"
    finally:
        t.close()
        t.close()
    assert "private" not in repr(t) and "BEGIN" not in repr(t)
