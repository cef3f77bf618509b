"""The AutoMTLS certificate, made in a forked child while the parent imports the gRPC stack.

Loading `cryptography` (its Rust extension) and the gRPC stack (asyncio, grpclib, protobuf)
are the two big start-up costs, and neither needs the other: the process forks before any
thread exists, the child imports `cryptography`, makes the key and the self-signed
certificate, prints the handshake line (the first and only line it writes to stdout) and hands
the PEMs to the parent over a pipe; meanwhile the parent imports everything else, on the
other core. The key only ever travels through that pipe: never a file, an argument or a log.

The child dies with its parent (PR_SET_PDEATHSIG) and ignores SIGINT (a Ctrl-C in Terraform
reaches the whole process group; the parent decides what it means), so a start that is
interrupted or killed leaves no process behind. Where os.fork does not exist the certificate
is made in-process, as before.
"""

from __future__ import annotations

import os
import signal
import sys

from . import goplugin

_OK, _ERROR = b"ok\n", b"error\n"
_PR_SET_PDEATHSIG = 1


class CertificateError(Exception):
    """The AutoMTLS certificate could not be made; the message says why (never the key)."""


class PendingTLS:
    """The certificate the child is making: :meth:`result` waits for it."""

    def __init__(self, pid: int, fd: int, client_pem: str) -> None:
        self._pid, self._fd, self._client_pem = pid, fd, client_pem

    @property
    def pid(self) -> int:
        """The child's process ID; 0 once it has been reaped (or when there is none)."""
        return self._pid

    def result(self) -> goplugin.ServerTLS:
        """The server TLS material, once the child has sent it (and exited)."""
        chunks = []
        while chunk := os.read(self._fd, 65536):
            chunks.append(chunk)
        os.close(self._fd)
        self._fd = -1
        _, status = os.waitpid(self._pid, 0)
        self._pid = 0
        data = b"".join(chunks)
        if data.startswith(_OK):
            try:
                key_pem, cert_pem, cert_der = _unframe(data[len(_OK) :])
            except ValueError:
                raise CertificateError("the certificate process sent a truncated reply") from None
            return goplugin.ServerTLS(key_pem, cert_pem, cert_der, self._client_pem)
        if data.startswith(_ERROR):
            raise CertificateError(data[len(_ERROR) :].decode(errors="replace"))
        how = (
            f"was killed by signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else f"exited with status {os.waitstatus_to_exitcode(status)}"
        )
        raise CertificateError(f"the process making it {how} before it finished")

    def abandon(self) -> None:
        """Stop and reap the child if :meth:`result` was never called (start-up failed)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._pid:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self._pid, 0)
            self._pid = 0


class ReadyTLS(PendingTLS):
    """Made in this process (no os.fork on this platform)."""

    def __init__(self, tls: goplugin.ServerTLS) -> None:
        super().__init__(0, -1, "")
        self._tls = tls

    def result(self) -> goplugin.ServerTLS:
        return self._tls


def start(socket_path: str, client_pem: str, stdout_fd: int = 1) -> PendingTLS:
    """Fork the child that makes the certificate and writes the handshake line to
    `stdout_fd`. Call before any thread is started."""
    if not hasattr(os, "fork"):
        tls = goplugin.make_server_tls(client_pem)
        _write_all(stdout_fd, _handshake(socket_path, tls))
        return ReadyTLS(tls)
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, never runs the parent's cleanup
        code = 1
        try:
            os.close(read_fd)
            code = _child(write_fd, parent, socket_path, client_pem, stdout_fd)
        finally:
            os._exit(code)
    os.close(write_fd)
    return PendingTLS(pid, read_fd, client_pem)


def _child(write_fd: int, parent: int, socket_path: str, client_pem: str, stdout_fd: int) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above took effect
        return 1
    try:
        tls = goplugin.make_server_tls(client_pem)
    except Exception as exc:  # reported by the parent, which owns stderr's wording
        _write_all(write_fd, _ERROR + f"{type(exc).__name__}: {exc}".encode())
        return 1
    _write_all(stdout_fd, _handshake(socket_path, tls))
    key_pem, cert_pem = tls.take_pems()
    _write_all(write_fd, _OK + _frame(key_pem, cert_pem, tls.cert_der))
    return 0


def _die_with_parent() -> None:
    """Linux: the kernel kills this process when its parent dies (elsewhere: best effort,
    the child exits on its own once the certificate is made)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        pass


def _handshake(socket_path: str, tls: goplugin.ServerTLS) -> bytes:
    return (goplugin.handshake_line(socket_path, tls) + "\n").encode()


def _frame(*parts: bytes) -> bytes:
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def _unframe(data: bytes) -> tuple[bytes, bytes, bytes]:
    parts = []
    while data:
        size = int.from_bytes(data[:4], "big")
        if len(data) < 4 + size:
            raise ValueError("truncated")
        parts.append(data[4 : 4 + size])
        data = data[4 + size :]
    if len(parts) != 3:
        raise ValueError("expected three parts")
    return parts[0], parts[1], parts[2]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
