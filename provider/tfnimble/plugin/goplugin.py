"""go-plugin's side of the contract: handshake, AutoMTLS, controller, stdio and health.

Terraform starts the provider with a magic cookie and PLUGIN_PROTOCOL_VERSIONS in
the environment, and (AutoMTLS) its client certificate in PLUGIN_CLIENT_CERT. We
answer on stdout with one line, `1|6|unix|PATH|grpc|CERT`, where CERT is our
freshly generated server certificate (base64 DER, unpadded), and then only accept
TLS clients whose certificate Terraform's certificate verifies: Terraform's own (it is
self-signed, and only Terraform holds its key). grpcio cannot do that
(Terraform's P-521 client certificate is never requested by BoringSSL), which is
why the server is grpclib on the standard `ssl` module.
"""

from __future__ import annotations

import base64
import datetime
import os
import socket
import sys
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

# Only the standard library at import time: the handshake line goes out before the gRPC
# stack (grpclib, protobuf) is imported, so Terraform sets up its client meanwhile.
if TYPE_CHECKING:
    import asyncio
    import ssl
    from collections.abc import Awaitable, Callable

    import grpclib.const
    from google.protobuf.message import Message
    from grpclib.server import Stream

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
CORE_PROTOCOL_VERSION = 1
APP_PROTOCOL_VERSION = 6


class HandshakeError(Exception):
    """The process was not started the way Terraform starts plugins."""


def check_magic_cookie(env: Mapping[str, str], program: str) -> None:
    if env.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        raise HandshakeError(
            f"{program} is a Terraform plugin: Terraform starts it for you, so there is "
            "nothing to run by hand.\n\n"
            "To use it, install it (make install) and write a configuration with\n"
            '  terraform { required_providers { ... source = "ito/..." } }\n'
            "then run terraform init and terraform apply.\n"
            "To debug it, run it with --debug and export the TF_REATTACH_PROVIDERS line it prints."
        )


def negotiate_protocol(env: Mapping[str, str]) -> int:
    raw = env.get("PLUGIN_PROTOCOL_VERSIONS", "")
    offered = {v.strip() for v in raw.split(",") if v.strip()}
    if offered and str(APP_PROTOCOL_VERSION) not in offered:
        raise HandshakeError(
            f"Terraform offered plugin protocol version(s) {raw}, but this provider speaks "
            f"version {APP_PROTOCOL_VERSION} only (Terraform 1.0 or newer)."
        )
    return APP_PROTOCOL_VERSION


class ServerTLS:
    """Our certificate for the handshake line, and (built after it) the server context."""

    def __init__(self, key_pem: bytes, cert_pem: bytes, cert_der: bytes, client_pem: str) -> None:
        self._key_pem = key_pem
        self._cert_pem = cert_pem
        self.cert_der = cert_der
        self._client_pem = client_pem

    def take_pems(self) -> tuple[bytes, bytes]:
        """The key and certificate PEMs, handed to the process that serves (this copy of the key
        is dropped)."""
        key, self._key_pem = self._key_pem, b""
        return key, self._cert_pem

    @property
    def handshake_cert(self) -> str:
        return base64.b64encode(self.cert_der).decode().rstrip("=")

    def context(self, workdir: str) -> ssl.SSLContext:
        """TLS 1.2+, ALPN h2; a client must present a certificate that Terraform's verifies."""
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        # ssl loads a key only from a file: write it into the private 0700 dir, load, remove.
        fd, key_path = tempfile.mkstemp(dir=workdir, suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(self._key_pem + self._cert_pem)
            ctx.load_cert_chain(key_path)
        finally:
            os.unlink(key_path)
        self._key_pem = b""
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=self._client_pem)
        ctx.set_alpn_protocols(["h2"])
        return ctx


def make_server_tls(client_cert_pem: str) -> ServerTLS:
    """A fresh self-signed server certificate (its context is built after the handshake)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return ServerTLS(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.DER),
        client_cert_pem,
    )


def private_socket_path() -> tuple[str, str]:
    """A unix socket path inside a fresh 0700 directory (go-plugin's layout)."""
    base = os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or None
    d = tempfile.mkdtemp(prefix="plugin", dir=base)
    os.chmod(d, 0o700)
    return d, os.path.join(d, "plugin.sock")


def bind_unix_socket(path: str) -> socket.socket:
    """Listen now: connections wait in the backlog until the gRPC server takes the socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(128)
    return sock


def handshake_line(socket_path: str, tls: ServerTLS | None) -> str:
    cert = tls.handshake_cert if tls else ""
    return f"{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|unix|{socket_path}|grpc|{cert}"


def _one_handler(
    path: str,
    method: Callable[[Stream[Any, Any]], Awaitable[None]],
    request_type: type[Message],
    response_type: type[Message],
    *,
    streaming: bool = False,
) -> dict[str, grpclib.const.Handler]:
    """A grpclib service mapping with one method (unary, or unary request to a stream)."""
    import grpclib.const

    c = grpclib.const.Cardinality
    cardinality = c.UNARY_STREAM if streaming else c.UNARY_UNARY
    return {path: grpclib.const.Handler(method, cardinality, request_type, response_type)}


class Controller:
    """plugin.GRPCController: Shutdown ends the process once the reply is sent."""

    def __init__(self, shutdown: asyncio.Event) -> None:
        self._shutdown = shutdown

    async def Shutdown(self, stream: Stream[Any, Any]) -> None:
        from ._gen import grpc_controller_pb2

        await stream.recv_message()
        await stream.send_message(grpc_controller_pb2.Empty())
        self._shutdown.set()

    def __mapping__(self) -> dict[str, grpclib.const.Handler]:
        from ._gen.grpc_controller_pb2 import Empty

        return _one_handler("/plugin.GRPCController/Shutdown", self.Shutdown, Empty, Empty)


class Stdio:
    """plugin.GRPCStdio: our logs go straight to stderr, so the stream stays open and idle."""

    def __init__(self, shutdown: asyncio.Event) -> None:
        self._shutdown = shutdown

    async def StreamStdio(self, stream: Stream[Any, Any]) -> None:
        await stream.recv_message()
        await self._shutdown.wait()

    def __mapping__(self) -> dict[str, grpclib.const.Handler]:
        from google.protobuf.empty_pb2 import Empty

        from ._gen.grpc_stdio_pb2 import StdioData

        path = "/plugin.GRPCStdio/StreamStdio"
        return _one_handler(path, self.StreamStdio, Empty, StdioData, streaming=True)


class Health:
    """grpc.health.v1.Health: go-plugin pings service "plugin"."""

    SERVICES = ("", "plugin")

    async def Check(self, stream: Stream[Any, Any]) -> None:
        import grpclib.const
        from grpclib.health.v1.health_pb2 import HealthCheckResponse

        req = await stream.recv_message()
        if req is not None and req.service not in self.SERVICES:
            await stream.send_trailing_metadata(status=grpclib.const.Status.NOT_FOUND)
            return
        await stream.send_message(HealthCheckResponse(status=HealthCheckResponse.SERVING))

    def __mapping__(self) -> dict[str, grpclib.const.Handler]:
        from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

        path = "/grpc.health.v1.Health/Check"
        return _one_handler(path, self.Check, HealthCheckRequest, HealthCheckResponse)


def write_handshake(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
