"""LocalTransport: run commands on this host with ``subprocess`` (``shell=False``, argv only).

When the provider runs as a non-root user on the controller, ``sudo=True`` prefixes every
command with ``sudo -n --`` (non-interactive: a password prompt fails instead of hanging), and
files are read and written through commands so that they run under sudo as well.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence

from .base import (
    Call,
    CommandResult,
    CommandTimeout,
    Transport,
    raw_result,
    read_file_by_command,
    write_file_by_command,
)

__all__ = ["SUDO_PREFIX", "LocalTransport"]

SUDO_PREFIX: tuple[str, ...] = ("sudo", "-n", "--")


class LocalTransport(Transport):
    """Runs commands on the local host."""

    log_name = "local"

    def __init__(self, *, sudo: bool = False, default_timeout: float | None = 300.0) -> None:
        self.sudo = sudo
        self.default_timeout = default_timeout

    def __repr__(self) -> str:
        return f"LocalTransport(sudo={self.sudo})"

    def _full_argv(self, argv: Sequence[str], env: Mapping[str, str] | None) -> list[str]:
        full = list(argv)
        if self.sudo:
            # sudo resets the environment, so extra variables travel through env(1).
            if env:
                full = ["env", *(f"{k}={v}" for k, v in env.items()), *full]
            full = [*SUDO_PREFIX, *full]
        return full

    def _exec(self, call: Call) -> tuple[int, bytes, bytes]:
        argv, stdin, timeout, env = call.argv, call.stdin, call.timeout, call.env
        full = self._full_argv(argv, env)
        proc_env = None
        if env and not self.sudo:
            proc_env = {**os.environ, **env}
        effective_timeout = timeout if timeout is not None else self.default_timeout
        try:
            proc = subprocess.run(  # argv list, shell=False: nothing is parsed by a shell
                full,
                input=stdin if stdin is not None else b"",
                capture_output=True,
                timeout=effective_timeout,
                env=proc_env,
                check=False,
            )
        except FileNotFoundError:
            # Same status and message a shell gives, so local and SSH behave alike.
            return 127, b"", f"{full[0]}: command not found\n".encode()
        except PermissionError as exc:
            return 126, b"", f"{full[0]}: {exc.strerror}\n".encode()
        except subprocess.TimeoutExpired as exc:
            raise CommandTimeout(argv, effective_timeout or 0.0) from exc
        return proc.returncode, proc.stdout, proc.stderr

    def _execute(self, call: Call) -> CommandResult:
        return raw_result(call, self._exec(call))

    def read_file(self, path: str) -> bytes | None:
        if self.sudo:
            return read_file_by_command(self._exec, path)
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None

    def write_file(self, path: str, data: bytes, mode: int | None = None) -> None:
        if self.sudo:
            write_file_by_command(self._exec, path, data, mode)
            return
        target = os.path.realpath(path)
        directory = os.path.dirname(target) or "."
        try:
            st: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            st = None
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.tfnimble.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if st is not None:
                with contextlib.suppress(PermissionError):
                    os.chown(tmp, st.st_uid, st.st_gid)
                os.chmod(tmp, st.st_mode & 0o7777)
            else:
                os.chmod(tmp, 0o644)
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def close(self) -> None:
        return None
