"""The certificate chain and private key that sign Content Credentials.

A user's own chain comes from ``--c2pa-cert CHAIN.pem --c2pa-key KEY.pem`` (or ``$REALTIME_C2PA_CERT`` and
``$REALTIME_C2PA_KEY``). Without them a local chain is made once under ``$REALTIME_HOME/c2pa``: a CA of its own
and a signing certificate it issued (the shape C2PA's certificate profile expects: an end-entity certificate with
its issuer's key identifier), an ECDSA P-256 key in a file of mode 0600. No network is needed; readers report such
a signature as valid but untrusted, since no trust list knows the local CA.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from realtime.errors import InputError, UsageError

__all__ = [
    "CERT_ENV",
    "KEY_ENV",
    "LOCAL_ISSUER",
    "SigningCredentials",
    "load_credentials",
    "local_credentials",
    "resolve_credentials",
]

CERT_ENV, KEY_ENV = "REALTIME_C2PA_CERT", "REALTIME_C2PA_KEY"
LOCAL_ISSUER = "realtime local signing (untrusted)"  # the organisation name of the local CA and signer
_LOCAL_FOLDER = "c2pa"
_CHAIN_FILE, _KEY_FILE = "local-chain.pem", "local-key.pem"
_VALID_YEARS = 10


@dataclass(frozen=True)
class SigningCredentials:
    """A PEM certificate chain (signing certificate first, then its issuers), its PEM private key and the C2PA
    algorithm name the key signs with (``es256``, ``es384``, ``es512``, ``ps256``, ``ed25519``). Plain bytes, so
    it pickles to batch workers. (Whether a signature is the local chain's is read from the file, by its issuer:
    see :data:`LOCAL_ISSUER`.)"""

    chain_pem: bytes
    key_pem: bytes
    alg: str
    origin: str  # where it came from, for messages


def _algorithm(key: object, origin: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey):
        names = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in names:
            return names[key.curve.name]
        raise InputError(f"{origin}: the EC curve {key.curve.name} cannot sign C2PA manifests (P-256/384/521 can)")
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise InputError(f"{origin}: a {type(key).__name__} cannot sign C2PA manifests (EC, RSA or Ed25519 can)")


def load_credentials(cert: Path, key: Path) -> SigningCredentials:
    """The chain in ``cert`` and the key in ``key``, checked to belong together; InputError (one line) when a file
    is missing, is not PEM, or the key is not the signing certificate's."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    for path, what in ((cert, "certificate chain"), (key, "private key")):
        if not path.is_file():
            raise InputError(f"C2PA {what} not found: {path}")
    chain_pem, key_pem = cert.read_bytes(), key.read_bytes()
    try:
        certificates = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise InputError(f"{cert} is not a PEM certificate chain: {exc}") from exc
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        reason = "it is encrypted (give an unencrypted key)" if isinstance(exc, TypeError) else str(exc)
        raise InputError(f"{key} is not a usable PEM private key: {reason}") from exc
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(serialization.Encoding.DER, public) != certificates[0].public_key(
    ).public_bytes(serialization.Encoding.DER, public):  # fmt: skip
        raise InputError(f"the key {key} does not belong to the first certificate in {cert}")
    return SigningCredentials(chain_pem, key_pem, _algorithm(private, str(key)), f"{cert} + {key}")


def _new_local_chain(folder: Path) -> None:
    """Write a CA and a signing certificate it issued (ECDSA P-256, ten years) into ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        organisation = x509.NameAttribute(NameOID.ORGANIZATION_NAME, LOCAL_ISSUER)
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common), organisation])

    def usage(sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(sign, False, False, False, False, not sign, not sign, False, False)

    ca_name = name(f"realtime local CA on {os.uname().nodename}")

    def certificate(subject: x509.Name, key: ec.EllipticCurvePrivateKey, ca: bool) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365 * _VALID_YEARS))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
            .add_extension(usage(sign=not ca), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate(ca_name, ca_key, ca=True).sign(ca_key, hashes.SHA256())
    signer = (
        certificate(name("realtime local signer"), key, ca=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / _CHAIN_FILE).write_bytes(signer.public_bytes(pem) + ca.public_bytes(pem))
    key_path = folder / _KEY_FILE
    key_path.touch(mode=0o600)
    os.chmod(key_path, 0o600)  # whatever the umask said
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def local_credentials(home: Path) -> SigningCredentials:
    """The local chain under ``home/c2pa``, made on first use. Two processes starting at once each build one in
    a private folder and rename it into place; the loser's is dropped, so a chain and its key always match."""
    folder = home / _LOCAL_FOLDER
    if not (folder / _KEY_FILE).is_file():
        try:
            home.mkdir(parents=True, exist_ok=True)
            draft = Path(tempfile.mkdtemp(prefix=".c2pa.", dir=home))
        except OSError as exc:
            raise InputError(f"cannot create the local signing certificate in {home}: {exc.strerror or exc}") from exc
        try:
            _new_local_chain(draft)
            os.rename(draft, folder)
        except OSError:
            if not (folder / _KEY_FILE).is_file():
                raise
        finally:
            shutil.rmtree(draft, ignore_errors=True)
    return load_credentials(folder / _CHAIN_FILE, folder / _KEY_FILE)


def resolve_credentials(cert: Path | None, key: Path | None, home: Path) -> SigningCredentials:
    """The user's chain (options first, then ``$REALTIME_C2PA_CERT``/``$REALTIME_C2PA_KEY``), else the local one;
    UsageError when only one of the pair is given."""
    cert = cert or (Path(os.environ[CERT_ENV]) if os.environ.get(CERT_ENV) else None)
    key = key or (Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else None)
    if (cert is None) != (key is None):
        raise UsageError(f"--c2pa-cert and --c2pa-key go together (or {CERT_ENV} and {KEY_ENV})")
    if cert is not None and key is not None:
        return load_credentials(cert.expanduser(), key.expanduser())
    return local_credentials(home)
