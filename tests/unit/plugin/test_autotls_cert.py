"""The hand-written AutoMTLS certificate is the one x509.CertificateBuilder made before.

tfnimble.plugin._cert writes the DER itself to keep cryptography.x509 out of start-up; here
cryptography's own (strict DER) parser reads it back and every field is checked.
"""

from __future__ import annotations

import datetime
import ssl
import tempfile

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tfnimble.plugin import _cert, goplugin


def test_the_certificate_has_every_field_go_plugin_expects() -> None:
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    client_key = ec.generate_private_key(ec.SECP521R1())
    client = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .public_key(client_key.public_key())
        .serial_number(1)
        .not_valid_before(before)
        .not_valid_after(before + datetime.timedelta(hours=1))
        .sign(client_key, hashes.SHA512())
    )
    tls = goplugin.make_server_tls(client.public_bytes(serialization.Encoding.PEM).decode())
    cert = x509.load_der_x509_certificate(tls.cert_der)
    assert x509.load_pem_x509_certificate(tls._cert_pem) == cert
    assert cert.version is x509.Version.v3
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]
    )
    assert cert.subject == name and cert.issuer == name
    assert 0 < cert.serial_number < 2**159
    assert cert.not_valid_before_utc == before - datetime.timedelta(seconds=30) or (
        cert.not_valid_before_utc == before - datetime.timedelta(seconds=29)
    )
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(
        days=1, seconds=30
    )
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    ext = cert.extensions
    assert ext.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == ["localhost"]
    basic = ext.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length is None
    usage = ext.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value == x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=True,
        key_cert_sign=True,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    assert list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    assert len(ext) == 4
    with tempfile.TemporaryDirectory() as d:
        assert isinstance(tls.context(d), ssl.SSLContext)  # the key matches the certificate


def test_every_certificate_has_its_own_key_and_serial() -> None:
    a, b = _cert.self_signed(), _cert.self_signed()
    ca, cb = x509.load_der_x509_certificate(a[1]), x509.load_der_x509_certificate(b[1])
    assert a[0] != b[0] and ca.serial_number != cb.serial_number
    assert ca.public_key() != cb.public_key()


@pytest.mark.parametrize(
    ("when", "der"),
    [
        (datetime.datetime(2049, 12, 31, 23, 59, 59), b"\x17\x0d491231235959Z"),
        (datetime.datetime(2050, 1, 1), b"\x18\x0f20500101000000Z"),
    ],
)
def test_dates_after_2049_are_generalized_time(when: datetime.datetime, der: bytes) -> None:
    assert _cert._time(int(when.replace(tzinfo=datetime.UTC).timestamp())) == der


def test_long_values_get_a_long_form_length() -> None:
    assert _cert._tlv(0x04, b"x" * 200)[:3] == b"\x04\x81\xc8"
    assert _cert._tlv(0x04, b"x" * 300)[:4] == b"\x04\x82\x01\x2c"


@pytest.mark.parametrize(
    ("raw", "der"),
    [
        (b"\x00\x05\x01", b"\x02\x02\x05\x01"),  # a leading zero octet is dropped
        (b"\x00\x00\x85", b"\x02\x02\x00\x85"),  # kept only before a set top bit
        (b"\x85\x01", b"\x02\x03\x00\x85\x01"),
        (b"\x7f", b"\x02\x01\x7f"),
    ],
)
def test_serial_numbers_are_minimal_der(raw: bytes, der: bytes) -> None:
    """Go's x509 parser refuses a serial number with a needless leading zero octet (one
    certificate in 512 had one before this test)."""
    assert _cert._positive_integer(raw) == der
    with pytest.raises(ValueError):
        _cert._positive_integer(b"\x00\x00")
