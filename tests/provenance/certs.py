"""Certificate chains built by the tests: a user's own (a CA and a signing certificate it issued, like a company's
PKI would give), or one whose signing certificate has expired, which C2PA refuses to sign with."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ORGANISATION = "Example Newsroom"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION)])  # fmt: skip


def _usage(sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(sign, False, False, False, False, not sign, not sign, False, False)


def write_chain(folder: Path, expired: bool = False) -> tuple[Path, Path]:
    """(chain.pem, key.pem) in ``folder``: a P-384 signing certificate issued by a CA of the test's, valid for a
    month, or with ``expired`` one that expired yesterday."""
    now = datetime.datetime.now(datetime.UTC)
    key, ca_key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Example CA")
    start, end = (now - datetime.timedelta(days=60), now - datetime.timedelta(days=1)) if expired else (
        now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))  # fmt: skip
    signer = (
        x509.CertificateBuilder().subject_name(_name("Example signer")).issuer_name(ca_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=90)).not_valid_after(now + datetime.timedelta(days=60))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = [cert.public_bytes(serialization.Encoding.PEM) for cert in (signer, ca)]
    chain, key_path = folder / "chain.pem", folder / "key.pem"
    chain.write_bytes(b"".join(pem))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return chain, key_path
