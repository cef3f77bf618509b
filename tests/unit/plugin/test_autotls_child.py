"""The AutoMTLS certificate child (autotls.py): what it prints, what it hands over, and how
its failures and an abandoned start end."""

from __future__ import annotations

import base64
import os
import signal
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from protocol.plugin_process import make_client_cert
from tfnimble.plugin import autotls, goplugin


@pytest.fixture
def stdout_pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def read_available(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


def gone(pid: int) -> bool:
    """Neither running nor a zombie waiting to be reaped."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_child_prints_the_handshake_and_hands_over_a_matching_key(
    stdout_pipe: tuple[int, int],
) -> None:
    r, w = stdout_pipe
    client = make_client_cert()
    pending = autotls.start("/run/x/plugin.sock", client.cert_pem.decode(), stdout_fd=w)
    pid = pending.pid
    tls = pending.result()
    assert pending.pid == 0 and gone(pid), "the child is reaped once it has handed over"
    line = read_available(r).decode()
    assert line.endswith("\n") and line.count("\n") == 1
    assert line.rstrip("\n") == goplugin.handshake_line("/run/x/plugin.sock", tls)
    der_b64 = line.rstrip("\n").split("|")[5]
    cert = x509.load_der_x509_certificate(base64.b64decode(der_b64 + "=" * (-len(der_b64) % 4)))
    assert cert.public_bytes(serialization.Encoding.DER) == tls.cert_der
    key_pem, cert_pem = tls.take_pems()
    key = serialization.load_pem_private_key(key_pem, None)
    assert key.public_key() == cert.public_key()
    assert x509.load_pem_x509_certificate(cert_pem) == cert
    # the context the parent serves with loads the handed-over key and certificate
    tls2 = goplugin.ServerTLS(key_pem, cert_pem, tls.cert_der, client.cert_pem.decode())
    with tempfile.TemporaryDirectory() as d:
        ctx = tls2.context(d)
        assert ctx.verify_mode == ssl.CERT_REQUIRED
        assert os.listdir(d) == [], "the key file must not outlive the context"


def test_each_start_makes_a_new_key(stdout_pipe: tuple[int, int]) -> None:
    _, w = stdout_pipe
    pem = make_client_cert().cert_pem.decode()
    a = autotls.start("/s", pem, stdout_fd=w).result()
    b = autotls.start("/s", pem, stdout_fd=w).result()
    assert a.take_pems()[0] != b.take_pems()[0]
    assert a.cert_der != b.cert_der


def test_a_failing_child_is_reported_with_its_reason_and_prints_nothing(
    stdout_pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    r, w = stdout_pipe

    def broken(_pem: str) -> goplugin.ServerTLS:
        raise RuntimeError("no entropy source")

    monkeypatch.setattr(goplugin, "make_server_tls", broken)
    pending = autotls.start("/s", "pem", stdout_fd=w)
    with pytest.raises(autotls.CertificateError, match=r"^RuntimeError: no entropy source$"):
        pending.result()
    assert read_available(r) == b"", "no handshake line without a certificate"


def test_a_child_that_dies_midway_is_reported(
    stdout_pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, w = stdout_pipe

    def killed(_pem: str) -> goplugin.ServerTLS:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    monkeypatch.setattr(goplugin, "make_server_tls", killed)
    pending = autotls.start("/s", "pem", stdout_fd=w)
    with pytest.raises(autotls.CertificateError, match="killed by signal 9 before it finished"):
        pending.result()


def test_the_child_ignores_ctrl_c_and_abandon_stops_and_reaps_it(
    stdout_pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, w = stdout_pipe
    started_r, started_w = os.pipe()

    def stuck(_pem: str) -> goplugin.ServerTLS:
        os.write(started_w, b"x")
        while True:
            signal.pause()

    monkeypatch.setattr(goplugin, "make_server_tls", stuck)
    pending = autotls.start("/s", "pem", stdout_fd=w)
    try:
        assert os.read(started_r, 1) == b"x"
        pid = pending.pid
        status = Path(f"/proc/{pid}/status").read_text()
        ignored = int(next(v for k, v in _fields(status) if k == "SigIgn"), 16)
        assert ignored & (1 << (signal.SIGINT - 1)), "the child must leave Ctrl-C to its parent"
        pending.abandon()
        assert gone(pid)
        pending.abandon()  # idempotent
    finally:
        os.close(started_r)
        os.close(started_w)


def _fields(status: str) -> Iterator[tuple[str, str]]:
    for line in status.splitlines():
        key, _, value = line.partition(":")
        yield key, value.strip()


def test_without_fork_the_certificate_is_made_in_process(
    stdout_pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    r, w = stdout_pipe
    monkeypatch.delattr(os, "fork")
    pending = autotls.start("/s", make_client_cert().cert_pem.decode(), stdout_fd=w)
    assert pending.pid == 0
    tls = pending.result()
    assert read_available(r).decode() == goplugin.handshake_line("/s", tls) + "\n"
    pending.abandon()  # nothing to stop
