"""A private CA and a server certificate for the simulator, kept in the state directory.

The CA is made once (``ca.pem``, ``ca-key.pem``) so clients can keep trusting ``ca.pem`` across
restarts; the server certificate is re-issued whenever the names it must cover change.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest lifetime public clients accept for a leaf certificate


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _names(host: str, extra: list[str]) -> tuple[set[str], set[str]]:
    dns: set[str] = set()
    ips: set[str] = set()
    wildcard = host in ("", "0.0.0.0", "::")
    candidates = [host, *extra] + (
        ["localhost", "127.0.0.1", "::1", socket.gethostname()] if wildcard else []
    )
    for name in candidates:
        if not name or name in ("0.0.0.0", "::"):
            continue
        try:
            ips.add(str(ipaddress.ip_address(name)))
        except ValueError:
            dns.add(name.lower())
    return dns, ips


def ensure_certificates(
    state_dir: Path, host: str, extra_names: list[str] | None = None
) -> tuple[Path, Path, Path]:
    """Return ``(ca.pem, server.pem, server-key.pem)``, creating or renewing what is needed."""
    state_dir.mkdir(parents=True, exist_ok=True)
    ca_file, ca_key_file = state_dir / "ca.pem", state_dir / "ca-key.pem"
    cert_file, key_file = state_dir / "server.pem", state_dir / "server-key.pem"
    now = datetime.datetime.now(datetime.UTC)

    ca_cert: x509.Certificate | None = None
    ca_key = None
    if ca_file.exists() and ca_key_file.exists():
        ca_cert = x509.load_pem_x509_certificate(ca_file.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), None)
        if ca_cert.not_valid_after_utc < now + datetime.timedelta(days=30):
            ca_cert = None
    if ca_cert is None or not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nimble-sim"),
                x509.NameAttribute(NameOID.COMMON_NAME, "nimble-sim local CA"),
            ]
        )
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(ca_key_file, _key_pem(ca_key))
        _write_public(ca_file, ca_cert.public_bytes(serialization.Encoding.PEM))
        cert_file.unlink(missing_ok=True)

    dns, ips = _names(host, extra_names or [])
    if cert_file.exists() and key_file.exists():
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            have_dns = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
            have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
        except x509.ExtensionNotFound:
            have_dns, have_ips = set(), set()
        fresh = cert.not_valid_after_utc > now + datetime.timedelta(days=30)
        if fresh and dns <= have_dns and ips <= have_ips and cert.issuer == ca_cert.subject:
            return ca_file, cert_file, key_file

    key = ec.generate_private_key(ec.SECP256R1())
    common = host if host and host not in ("0.0.0.0", "::") else "localhost"
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in sorted(dns)]
    alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in sorted(ips)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common[:64])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_file, _key_pem(key))
    _write_public(cert_file, cert.public_bytes(serialization.Encoding.PEM))
    return ca_file, cert_file, key_file
