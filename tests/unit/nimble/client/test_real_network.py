"""The client over real sockets: real TLS verification and real urllib3 failure shapes.

A tiny TLS server (self-signed certificate made here) answers login and drops the connection
on chosen paths after reading the request, so the exceptions are the ones requests really
raises, not hand-built ones.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tfnimble.nimble.client import (
    ConnectionFailed,
    NimbleClient,
    ResponseLost,
    TLSVerificationFailed,
)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class DroppingServer:
    """Answers POST /v1/tokens; for any other request reads it fully, then closes."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw: socket.socket) -> None:
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        with conn:
            while True:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                length = next(
                    (
                        int(h.split(":")[1])
                        for h in lines[1:]
                        if h.lower().startswith("content-length")
                    ),
                    0,
                )
                while len(body) < length:
                    body += conn.recv(65536)
                request_line = lines[0]
                self.received.append(request_line)
                if not request_line.startswith("POST /v1/tokens"):
                    return  # the request arrived; the response never will
                payload = json.dumps({"data": {"id": "t1", "session_token": "abc"}}).encode()
                conn.sendall(
                    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
                )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[DroppingServer, Path]]:
    cert, key = _self_signed(tmp_path)
    srv = DroppingServer(cert, key)
    yield srv, cert
    srv.close()


def test_real_lost_response_on_post_raises_response_lost(tls: tuple[DroppingServer, Path]) -> None:
    srv, cert = tls
    with (
        NimbleClient(
            "127.0.0.1", srv.port, "admin", "pw", ca_file=str(cert), retries=2, sleep=lambda _: None
        ) as c,
        pytest.raises(ResponseLost),
    ):
        c.request("POST", "/volumes", body={"data": {"name": "v"}}, idempotent=False)
    assert sum(line.startswith("POST /v1/volumes") for line in srv.received) == 1


def test_real_lost_response_on_get_is_retried_then_fails(tls: tuple[DroppingServer, Path]) -> None:
    srv, cert = tls
    c = NimbleClient(
        "127.0.0.1", srv.port, "admin", "pw", ca_file=str(cert), retries=2, sleep=lambda _: None
    )
    with pytest.raises(ConnectionFailed) as info:
        c.request("GET", "/volumes")
    assert not isinstance(info.value, ResponseLost)
    assert sum(line.startswith("GET /v1/volumes") for line in srv.received) == 3


def test_real_untrusted_certificate(tls: tuple[DroppingServer, Path]) -> None:
    srv, _ = tls
    c = NimbleClient("127.0.0.1", srv.port, "admin", "pw", retries=0)
    with pytest.raises(TLSVerificationFailed) as info:
        c.login()
    assert "certificate verify failed" in str(info.value)
    assert "127.0.0.1:" in str(info.value)


def test_real_insecure_skips_verification(tls: tuple[DroppingServer, Path]) -> None:
    srv, _ = tls
    c = NimbleClient("127.0.0.1", srv.port, "admin", "pw", insecure=True, retries=0)
    c.login()
    assert c.login_count == 1


def test_real_connection_refused_is_retried_even_for_post() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    c = NimbleClient("127.0.0.1", port, "admin", "pw", retries=2, sleep=sleeps.append)
    with pytest.raises(ConnectionFailed) as info:
        c.request("POST", "/volumes", body={}, idempotent=False)
    assert not isinstance(info.value, ResponseLost)  # never sent, so safe to retry
    assert len(sleeps) == 2
    assert f"127.0.0.1:{port}" in str(info.value) and "firewall" in str(info.value)
