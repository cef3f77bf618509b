"""The AutoMTLS server certificate has every field go-plugin's client expects.

cryptography's own (strict DER) parser reads it back and every field is checked.
"""

from __future__ import annotations

import datetime
import ssl
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tfnimble.plugin import goplugin


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
    a, b = goplugin.make_server_tls(""), goplugin.make_server_tls("")
    ca, cb = x509.load_der_x509_certificate(a.cert_der), x509.load_der_x509_certificate(b.cert_der)
    assert a.cert_der != b.cert_der and ca.serial_number != cb.serial_number
    assert ca.public_key() != cb.public_key()
