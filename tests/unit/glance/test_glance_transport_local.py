"""LocalTransport with real, harmless commands; the remote atomic-write script run locally."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from tfnimble.glance.transport import CommandError, CommandTimeout, LocalTransport, Transport
from tfnimble.glance.transport.base import read_file_by_command, write_file_by_command


def test_is_a_transport() -> None:
    assert isinstance(LocalTransport(), Transport)


def test_run_echo_and_stdin() -> None:
    t = LocalTransport()
    r = t.run(["echo", "a b", "$HOME", ";", "*"])
    assert (r.returncode, r.stdout, r.stderr) == (0, "a b $HOME ; *\n", "")
    assert t.run(["cat"], stdin=b"\x00line\n").stdout == "\x00line\n"
    assert t.run(["cat"]).stdout == ""  # stdin closed, never inherited


def test_exit_status_stderr_and_check(caplog: pytest.LogCaptureFixture) -> None:
    t = LocalTransport()
    caplog.set_level(logging.DEBUG, logger="tfnimble.glance.transport")
    r = t.run(["sh", "-c", "echo oops >&2; exit 3"], stdin=b"topsecret")
    assert (r.returncode, r.stdout, r.stderr) == (3, "", "oops\n")
    with pytest.raises(CommandError) as exc:
        t.run(["sh", "-c", "echo oops >&2; exit 3"], stdin=b"topsecret", check=True)
    assert str(exc.value) == "sh exited with status 3: oops"
    assert exc.value.returncode == 3
    assert "exited 3" in caplog.text and "topsecret" not in caplog.text


def test_missing_program_is_127() -> None:
    r = LocalTransport().run(["/nonexistent/tfnimble-no-such-tool"])
    assert r.returncode == 127 and "command not found" in r.stderr


def test_timeout_and_env() -> None:
    t = LocalTransport()
    with pytest.raises(CommandTimeout, match=r"sleep did not finish within 0\.2 s"):
        t.run(["sleep", "5"], timeout=0.2)
    assert t.run(["sh", "-c", 'echo "$TFN_X"'], env={"TFN_X": "a b"}).stdout == "a b\n"


def test_sudo_prefix() -> None:
    t = LocalTransport(sudo=True)
    assert t._full_argv(["ls", "-l"], {"A": "1"}) == ["sudo", "-n", "--", "env", "A=1", "ls", "-l"]
    assert LocalTransport()._full_argv(["ls"], None) == ["ls"]


def _write_cases(tmp_path: Path, write: object, read: object) -> None:
    assert callable(write) and callable(read)
    target = tmp_path / "glance-api.conf"
    assert read(str(target)) is None
    write(str(target), b"new\n", None)
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    os.chmod(target, 0o640)
    inode = target.stat().st_ino
    write(str(target), b"second\n", None)
    assert target.read_bytes() == b"second\n" and read(str(target)) == b"second\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # mode of the replaced file kept
    assert target.stat().st_ino != inode  # replaced by rename, never truncated in place
    write(str(target), b"third\n", 0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    link = tmp_path / "link.conf"
    link.symlink_to(target)
    write(str(link), b"via link\n", None)
    assert link.is_symlink() and target.read_bytes() == b"via link\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["glance-api.conf", "link.conf"]


def test_write_file_atomic_python_path(tmp_path: Path) -> None:
    t = LocalTransport()
    _write_cases(tmp_path, t.write_file, t.read_file)


def test_write_file_atomic_shell_script(tmp_path: Path) -> None:
    """The script SSHTransport (and sudo mode) runs on the controller, run here for real."""
    t = LocalTransport()

    def write(path: str, data: bytes, mode: int | None) -> None:
        write_file_by_command(t._exec, path, data, mode)

    def read(path: str) -> bytes | None:
        return read_file_by_command(t._exec, path)

    _write_cases(tmp_path, write, read)
    with pytest.raises(CommandError, match="write_file exited"):
        write(str(tmp_path / "no-such-dir" / "x"), b"1", None)
