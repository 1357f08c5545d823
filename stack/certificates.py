"""Certificates for the secured local stack: a private CA and server (and client) certificates it signs.

Guarantee: everything is generated on this machine with ``cryptography`` into the stack's own
folder; private keys are written 0600 in a 0700 folder and never leave it. Made once and reused
(a restarted stack keeps its CA, so clients configured with ``ca.pem`` keep working). The
certificates name 127.0.0.1, localhost and their own name (``kafka``, ``elasticsearch``: the
host names in docker-compose.yml), so hostname verification stays on.

``python -m agent_audit.stack.certificates <folder> <name>...`` makes them (docker-compose's
``certs`` job).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertificateFiles", "ensure_certificates", "issue_certificate"]

_VALID_DAYS = 825
_HOSTS = ("localhost",)
_IPS = ("127.0.0.1",)


@dataclass(frozen=True)
class CertificateFiles:
    ca: Path  # the CA certificate clients trust
    cert: Path  # a certificate the CA signed
    key: Path  # its private key (PKCS#8 PEM, unencrypted, 0600)
    bundle: Path  # key + certificate in one PEM file (Kafka's PEM keystore)


def ensure_certificates(folder: Path, name: str = "server") -> CertificateFiles:
    """The CA of ``folder`` (made if absent) and a certificate ``name`` it signed (made if absent)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    ca_cert, ca_key = folder / "ca.pem", folder / "ca-key.pem"
    if not (ca_cert.exists() and ca_key.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agent-audit local CA")])
        cert = (_builder(subject, subject, key.public_key())
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        _write_private(ca_key, _key_pem(key))
        ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files = CertificateFiles(ca_cert, folder / f"{name}.pem", folder / f"{name}-key.pem",
                             folder / f"{name}-bundle.pem")
    if not (files.cert.exists() and files.key.exists() and files.bundle.exists()):
        issue_certificate(files, name)
    return files


def issue_certificate(files: CertificateFiles, name: str) -> None:
    """Sign a certificate for ``name`` valid for the local hosts and ``name``, as server and client (mTLS)."""
    ca_key = serialization.load_pem_private_key(files.ca.with_name("ca-key.pem").read_bytes(), None)
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError("the local CA key is not the EC key this module makes")
    key = ec.generate_private_key(ec.SECP256R1())
    hosts = dict.fromkeys((*_HOSTS, name))  # ordered, without a duplicate
    names = [x509.DNSName(h) for h in hosts] + [x509.IPAddress(ipaddress.ip_address(i)) for i in _IPS]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (_builder(subject, ca.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    _write_private(files.key, _key_pem(key))
    _write_private(files.bundle, _key_pem(key) + cert_pem + files.ca.read_bytes())
    files.cert.write_bytes(cert_pem + files.ca.read_bytes())


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m agent_audit.stack.certificates <folder> <name>...", file=sys.stderr)
        return 2
    for name in argv[1:]:
        files = ensure_certificates(Path(argv[0]), name)
        print(f"{name:16} {files.cert} (key {files.key}, CA {files.ca})")
    return 0


def _builder(subject: x509.Name, issuer: x509.Name,
             public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=_VALID_DAYS)))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
