"""SSHTransport: run commands on the controller over SSH with paramiko.

Why paramiko rather than the OpenSSH client (``ssh HOST CMD``):

* **Secrets stay in memory.** A password, a private key given as a PEM string, or its
  passphrase never touch a process argument vector, an environment variable or a temporary
  key file; ``ssh`` would need ``sshpass``, ``SSH_ASKPASS`` or a key file on disk.
* **Host keys are checked in-process.** The expected key comes from ``host_key`` (one
  ``ssh-ed25519 AAAA...`` line) or a known_hosts file and unknown keys are refused
  (``RejectPolicy``) with an error we word ourselves; nothing depends on the user's
  ``~/.ssh/config`` or on prompts.
* **One connection, many commands.** Each command is its own channel on one authenticated
  connection, without a ControlMaster socket, and with stdout, stderr, stdin and the exit
  status kept apart (no PTY is ever requested: a PTY merges stderr into stdout and adds ``\\r``).

Rules: the remote command line is ``shlex.join(argv)`` (after ``env NAME=value ...`` when
``env`` is given, and prefixed with ``sudo -n --`` when configured), so every argument arrives
intact whatever it contains. A dropped connection is re-established once; the command is
re-run only if it never started or the caller marked it idempotent. Commands and exit
statuses are logged at debug level; stdin and secrets never are.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import select
import shlex
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .base import (
    Call,
    CommandResult,
    CommandTimeout,
    Lazy,
    Transport,
    TransportError,
    default_username,
    logger,
    raw_result,
    read_file_by_command,
    write_file_by_command,
)

if TYPE_CHECKING:
    import paramiko

__all__ = ["AuthenticationFailed", "HostKeyError", "SSHTransport", "parse_host_key"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-256",
    "rsa-sha2-512",
)


class HostKeyError(TransportError):
    """The host's key is unknown or does not match the expected one."""


class AuthenticationFailed(TransportError):
    """The SSH server rejected every credential offered."""


class _ConnectionLost(Exception):
    pass


def parse_host_key(line: str) -> paramiko.PKey:
    """Parse one public host key: ``[hostnames] TYPE BASE64 [comment]``."""
    import paramiko

    fields = line.split()
    for i, field in enumerate(fields[:-1]):
        if field in _KEY_TYPES or field.startswith(("ssh-", "ecdsa-", "sk-")):
            try:
                return paramiko.PKey.from_type_string(field, _b64decode(fields[i + 1]))
            except (paramiko.SSHException, ValueError) as exc:
                raise HostKeyError(f"host_key is not a valid {field} public key: {exc}") from exc
    raise HostKeyError(
        "host_key must look like 'ssh-ed25519 AAAA...' (a line of known_hosts or "
        "ssh-keyscan output)"
    )


def _b64decode(data: str) -> bytes:
    import base64
    import binascii

    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad base64: {exc}") from exc


def _load_private_key(pem: str, passphrase: str | None) -> paramiko.PKey:
    import paramiko

    classes: list[Any] = [paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey]
    for cls in classes:
        try:
            key: paramiko.PKey = cls.from_private_key(io.StringIO(pem), password=passphrase)
            return key
        except paramiko.PasswordRequiredException as exc:
            raise AuthenticationFailed(
                "private_key is encrypted: set private_key_passphrase"
            ) from exc
        except (paramiko.SSHException, ValueError, TypeError):
            continue
    raise AuthenticationFailed(
        "private_key is not a supported private key (ed25519, ECDSA or RSA; OpenSSH or PEM format)"
    )


def _accept_any_policy() -> paramiko.MissingHostKeyPolicy:
    import paramiko

    class _AcceptAny(paramiko.MissingHostKeyPolicy):
        def missing_host_key(
            self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
        ) -> None:
            logger.warning(
                "insecure_ignore_host_key: accepting %s host key of %s without checking",
                key.get_name(),
                hostname,
            )

    return _AcceptAny()


def _is_active(client: paramiko.SSHClient) -> bool:
    transport = client.get_transport()
    return transport is not None and transport.is_active()


class SSHTransport(Transport):
    """Runs commands on a remote controller over one SSH connection."""

    def __init__(
        self,
        host: str,
        *,
        port: int = 22,
        username: str | None = None,
        private_key: str | None = None,
        private_key_file: str | None = None,
        private_key_passphrase: str | None = None,
        password: str | None = None,
        use_agent: bool = False,
        known_hosts_file: str | None = None,
        host_key: str | None = None,
        insecure_ignore_host_key: bool = False,
        connect_timeout: float = 15.0,
        sudo: bool = False,
        default_timeout: float | None = 300.0,
        keepalive_interval: int = 30,
    ) -> None:
        if not host:
            raise ValueError("host must not be empty")
        self.host = host
        self.port = port
        self.username = username or default_username()
        self._private_key = private_key
        self.private_key_file = private_key_file
        self._passphrase = private_key_passphrase
        self._password = password
        self.use_agent = use_agent
        self.known_hosts_file = known_hosts_file
        self.host_key = host_key
        self.insecure_ignore_host_key = insecure_ignore_host_key
        self.connect_timeout = connect_timeout
        self.sudo = sudo
        self.default_timeout = default_timeout
        self.keepalive_interval = keepalive_interval
        self.log_name = f"ssh {host}"
        self._connection: Lazy[paramiko.SSHClient] = Lazy(
            lambda: self._connect(), lambda client: client.close(), _is_active
        )
        if host_key:
            parse_host_key(host_key)  # fail early on a malformed key

    def __repr__(self) -> str:
        # No secrets here: this may end up in a log line or a traceback.
        return f"SSHTransport({self.username}@{self.host}:{self.port}, sudo={self.sudo})"

    # -- connection ---------------------------------------------------------------------

    @property
    def _host_key_name(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def _connect(self) -> paramiko.SSHClient:
        import paramiko

        client = paramiko.SSHClient()
        if self.host_key:
            key = parse_host_key(self.host_key)
            client.get_host_keys().add(self._host_key_name, key.get_name(), key)
        if self.known_hosts_file:
            try:
                client.load_system_host_keys(os.path.expanduser(self.known_hosts_file))
            except OSError as exc:
                raise HostKeyError(
                    f"cannot read known_hosts_file {self.known_hosts_file}: {exc}"
                ) from exc
        elif not self.host_key:
            default = os.path.expanduser("~/.ssh/known_hosts")
            if os.path.exists(default):
                client.load_system_host_keys(default)
        if self.insecure_ignore_host_key:
            client.set_missing_host_key_policy(_accept_any_policy())
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())

        pkey = _load_private_key(self._private_key, self._passphrase) if self._private_key else None
        where = f"{self.username}@{self.host}:{self.port}"
        try:
            client.connect(
                self.host,
                port=self.port,
                username=self.username,
                password=self._password,
                pkey=pkey,
                key_filename=self.private_key_file,
                passphrase=self._passphrase,
                allow_agent=self.use_agent,
                look_for_keys=False,
                timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout,
                auth_timeout=self.connect_timeout,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyError(
                f"host key of {self.host}:{self.port} does not match the expected key "
                f"(got {exc.key.get_name()} {exc.key.get_base64()[:16]}...). If the host was "
                "reinstalled, update host_key or known_hosts_file; otherwise this may be an "
                "attack"
            ) from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            raise AuthenticationFailed(
                f"SSH authentication as {where} failed: {exc}. Check username, private_key, "
                "password or the agent"
            ) from exc
        except paramiko.SSHException as exc:
            client.close()
            if "not found in known_hosts" in str(exc):
                raise HostKeyError(
                    f"host key of {self.host}:{self.port} is unknown. Set host_key (e.g. "
                    f"from `ssh-keyscan -p {self.port} {self.host}`) or known_hosts_file; "
                    "insecure_ignore_host_key = true skips the check"
                ) from exc
            raise TransportError(f"SSH connection to {where} failed: {exc}") from exc
        except (OSError, EOFError) as exc:
            client.close()
            raise TransportError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        transport = client.get_transport()
        if transport is not None and self.keepalive_interval:
            transport.set_keepalive(self.keepalive_interval)
        logger.debug("ssh: connected to %s", where)
        return client

    @property
    def _client(self) -> paramiko.SSHClient | None:
        """The open connection, if any."""
        return self._connection.current

    def _connected(self) -> paramiko.SSHClient:
        return self._connection.get()

    def _drop(self) -> None:
        self._connection.close()

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> SSHTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- commands -----------------------------------------------------------------------

    def command_line(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
        """The exact text given to the remote shell for ``argv``."""
        words = list(argv)
        if env:
            for name in env:
                if not _ENV_NAME.match(name):
                    raise ValueError(f"invalid environment variable name {name!r}")
            words = ["env", *(f"{k}={v}" for k, v in env.items()), *words]
        if self.sudo:
            words = ["sudo", "-n", "--", *words]
        return shlex.join(words)

    def _exec(self, call: Call) -> tuple[int, bytes, bytes]:
        import paramiko

        argv, stdin, timeout, env = call.argv, call.stdin, call.timeout, call.env

        line = self.command_line(argv, env)
        effective_timeout = timeout if timeout is not None else self.default_timeout
        for attempt in (1, 2):
            client = self._connected()
            transport = client.get_transport()
            try:
                if transport is None:
                    raise paramiko.SSHException("no transport")
                channel = transport.open_session(timeout=self.connect_timeout)
                channel.exec_command(line)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                # The command never started: reconnecting and trying again is always safe.
                self._drop()
                if attempt == 1:
                    logger.debug("ssh: %s: reconnecting after %s", argv[0], exc)
                    continue
                raise TransportError(
                    f"cannot run {argv[0]} on {self.host}: connection failed: {exc}"
                ) from exc
            try:
                return self._exchange(channel, argv, stdin, effective_timeout)
            except _ConnectionLost as exc:
                self._drop()
                if call.idempotent and attempt == 1:
                    logger.debug("ssh: %s: connection lost, re-running (idempotent)", argv[0])
                    continue
                raise TransportError(
                    f"connection to {self.host} lost while running {argv[0]}; it may or may "
                    "not have completed"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(
        self,
        channel: paramiko.Channel,
        argv: Sequence[str],
        stdin: bytes | None,
        timeout: float | None,
    ) -> tuple[int, bytes, bytes]:
        transport = channel.get_transport()

        def feed() -> None:
            try:
                if stdin:
                    channel.sendall(stdin)
                channel.shutdown_write()
            except (OSError, EOFError) as exc:  # the command exited without reading it all
                logger.debug("ssh: stdin of %s not fully sent: %s", argv[0], type(exc).__name__)

        sender = threading.Thread(target=feed, name="ssh-stdin", daemon=True)
        sender.start()
        out, err = bytearray(), bytearray()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                while channel.recv_ready():
                    out += channel.recv(65536)
                while channel.recv_stderr_ready():
                    err += channel.recv_stderr(65536)
                if channel.exit_status_ready():
                    break
                if channel.closed or not transport.is_active():
                    if channel.recv_ready() or channel.recv_stderr_ready():
                        continue
                    if channel.exit_status_ready():
                        break
                    raise _ConnectionLost()
                wait = 0.05
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise CommandTimeout(argv, timeout or 0.0)
                    wait = min(wait, remaining)
                select.select([channel], [], [], wait)
            status = channel.recv_exit_status()
            # Data sent before the exit status may still sit in the buffers.
            while channel.recv_ready():
                out += channel.recv(65536)
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
        finally:
            channel.close()
            sender.join(timeout=1.0)
        return status, bytes(out), bytes(err)

    def _execute(self, call: Call) -> CommandResult:
        return raw_result(call, self._exec(call))

    def _exec_idempotent(self, call: Call) -> tuple[int, bytes, bytes]:
        return self._exec(dataclasses.replace(call, idempotent=True))

    def read_file(self, path: str) -> bytes | None:
        return read_file_by_command(self._exec_idempotent, path)

    def write_file(self, path: str, data: bytes, mode: int | None = None) -> None:
        # Writing the same bytes twice is harmless, so the write is retried like a read.
        write_file_by_command(self._exec_idempotent, path, data, mode)
