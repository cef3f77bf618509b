"""The AutoMTLS server certificate, written as DER by hand: start-up time, not a shortcut.

Every provider process makes a fresh key and a self-signed certificate before it can print
its handshake line, and Terraform starts a provider 3-5 times per command. Importing
``cryptography.x509`` (its certificate builder, name, extension and verification modules)
and ``cryptography...serialization`` (with its SSH formats) cost more than everything else
before the handshake; the key and the signature need only ``asymmetric.ec``, which loads
the same native library. So the certificate (RFC 5280) is assembled here from a fixed
template, and the key and signature still come from ``cryptography``. The certificate is
what ``x509.CertificateBuilder`` made before: O=HashiCorp, CN=localhost, SAN localhost,
a CA (critical basic constraints), critical key usage (digital signature, key
encipherment, key agreement, certificate signing), extended key usage server and client
auth, valid from 30 s ago for a day, ECDSA P-256 with SHA-256 (tests/unit/plugin pin it).
"""

from __future__ import annotations

import os
import time

# object identifiers, DER-encoded (tag 06, length, body)
_OID_ECDSA_SHA256 = bytes.fromhex("06082a8648ce3d040302")  # 1.2.840.10045.4.3.2
_OID_ORGANIZATION = bytes.fromhex("060355040a")  # 2.5.4.10
_OID_COMMON_NAME = bytes.fromhex("0603550403")  # 2.5.4.3
_OID_SAN = bytes.fromhex("0603551d11")  # 2.5.29.17
_OID_BASIC_CONSTRAINTS = bytes.fromhex("0603551d13")  # 2.5.29.19
_OID_KEY_USAGE = bytes.fromhex("0603551d0f")  # 2.5.29.15
_OID_EXT_KEY_USAGE = bytes.fromhex("0603551d25")  # 2.5.29.37
_OID_SERVER_AUTH = bytes.fromhex("06082b06010505070301")  # 1.3.6.1.5.5.7.3.1
_OID_CLIENT_AUTH = bytes.fromhex("06082b06010505070302")  # 1.3.6.1.5.5.7.3.2
_TRUE = b"\x01\x01\xff"


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _name(organization: str, common_name: str) -> bytes:
    def rdn(oid: bytes, value: str) -> bytes:
        return _tlv(0x31, _seq(oid, _tlv(0x0C, value.encode())))  # SET { type, UTF8String }

    return _seq(rdn(_OID_ORGANIZATION, organization), rdn(_OID_COMMON_NAME, common_name))


def _time(epoch: int) -> bytes:
    """UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5)."""
    t = time.gmtime(epoch)
    if t.tm_year < 2050:
        return _tlv(0x17, time.strftime("%y%m%d%H%M%SZ", t).encode())
    return _tlv(0x18, time.strftime("%Y%m%d%H%M%SZ", t).encode())


def _extension(oid: bytes, value: bytes, critical: bool = False) -> bytes:
    return _seq(oid, _TRUE if critical else b"", _tlv(0x04, value))


def _positive_integer(raw: bytes) -> bytes:
    """DER INTEGER of the positive number `raw` holds: minimal (no leading zero octet unless
    the next one's top bit is set; Go refuses a serial number encoded any other way)."""
    raw = raw.lstrip(b"\x00")
    if not raw:
        raise ValueError("a serial number must be positive")
    return _tlv(0x02, raw if raw[0] < 0x80 else b"\x00" + raw)


def _serial() -> bytes:
    """A positive random serial number of at most 20 octets (RFC 5280 4.1.2.2)."""
    while True:
        raw = os.urandom(19)  # what secrets.token_bytes reads, without importing hashlib
        if raw.strip(b"\x00"):
            return _positive_integer(raw)


def tbs_certificate(spki_der: bytes, now: int) -> bytes:
    """The to-be-signed part: everything but the signature."""
    name = _name("HashiCorp", "localhost")
    # digitalSignature(0), keyEncipherment(2), keyAgreement(4), keyCertSign(5): 101011, 2 unused
    key_usage = _tlv(0x03, b"\x02\xac")
    extensions = _seq(
        _extension(_OID_SAN, _seq(_tlv(0x82, b"localhost"))),
        _extension(_OID_BASIC_CONSTRAINTS, _seq(_TRUE), critical=True),
        _extension(_OID_KEY_USAGE, key_usage, critical=True),
        _extension(_OID_EXT_KEY_USAGE, _seq(_OID_SERVER_AUTH, _OID_CLIENT_AUTH)),
    )
    return _seq(
        _tlv(0xA0, _tlv(0x02, b"\x02")),  # [0] EXPLICIT version: v3
        _serial(),
        _seq(_OID_ECDSA_SHA256),
        name,
        _seq(_time(now - 30), _time(now + 24 * 3600)),
        name,
        spki_der,
        _tlv(0xA3, extensions),  # [3] EXPLICIT extensions
    )


def self_signed() -> tuple[bytes, bytes]:
    """A fresh P-256 key and its self-signed certificate: (key PKCS#8 PEM, certificate DER)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives._serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    tbs = tbs_certificate(spki, int(time.time()))
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    cert = _seq(tbs, _seq(_OID_ECDSA_SHA256), _tlv(0x03, b"\x00" + signature))
    key_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return key_pem, cert
