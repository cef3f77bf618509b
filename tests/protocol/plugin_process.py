"""Protocol fixtures: start a provider process the way Terraform does and talk gRPC to it."""

from __future__ import annotations

import base64
import datetime
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_MAIN = ROOT / "tests/testprovider/main.py"
COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"


@dataclass
class ClientCert:
    cert_pem: bytes
    key_pem: bytes


def make_client_cert() -> ClientCert:
    """A self-signed ECDSA P-521 certificate, like the one Terraform's go-plugin makes."""
    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA512())
    )
    return ClientCert(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


@dataclass
class PluginProcess:
    proc: subprocess.Popen[bytes]
    handshake: list[str]

    @property
    def socket_path(self) -> str:
        return self.handshake[3]

    def server_cert_pem(self) -> bytes:
        der_b64 = self.handshake[5]
        der = base64.b64decode(der_b64 + "=" * (-len(der_b64) % 4))
        return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def start_plugin(
    env_extra: dict[str, str], script: Path = EXAMPLE_MAIN, stderr: Any = subprocess.PIPE
) -> PluginProcess:
    """Start a provider as Terraform does. ``stderr`` may be a file (a long-running test must
    not let the pipe fill up)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLUGIN_", "TF_"))}
    env.update({"TF_PLUGIN_MAGIC_COOKIE": COOKIE, "PLUGIN_PROTOCOL_VERSIONS": "5,6", **env_extra})
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line:
        err = proc.stderr.read().decode() if proc.stderr else ""
        proc.kill()
        raise AssertionError(f"no handshake line; stderr:\n{err}")
    return PluginProcess(proc, line.split("|"))


@pytest.fixture
def client_cert() -> ClientCert:
    return make_client_cert()


@pytest.fixture
def plugin(client_cert: ClientCert, tmp_path: Path) -> Iterator[PluginProcess]:
    p = start_plugin(
        {"PLUGIN_CLIENT_CERT": client_cert.cert_pem.decode(), "EXAMPLE_STORE_DIR": str(tmp_path)}
    )
    yield p
    if p.proc.poll() is None:
        p.proc.kill()
    p.proc.wait(timeout=10)
