"""Certificates of one test cluster, made fresh in its directory: a CA, the API server's serving
certificate (127.0.0.1 and localhost), client certificates (an X.509 user is its CN, its groups its
O's; ``system:masters`` is the API server's built-in superuser group) and the service-account
signing key.  Keys are EC P-256 (fast to make), files 0600, never outside the cluster's directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_FOR = datetime.timedelta(days=30)


@dataclass(frozen=True)
class CertFiles:
    cert: str
    key: str


def _write(path: str, data: bytes, mode: int = 0o600) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class ClusterPki:
    """The CA and everything it signs, under ``directory``."""

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self._ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("keep-cd-devcluster-ca"))
            .issuer_name(_name("keep-cd-devcluster-ca"))
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALID_FOR)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .sign(self._ca_key, hashes.SHA256())
        )
        self.ca_cert = _write(os.path.join(directory, "ca.crt"), self._ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
        sa_key = ec.generate_private_key(ec.SECP256R1())
        self.service_account_key = _write(os.path.join(directory, "sa.key"), _key_pem(sa_key))
        self.service_account_pub = _write(
            os.path.join(directory, "sa.pub"),
            sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
            0o644,
        )

    def _sign(self, file_name: str, subject: x509.Name, usage, sans=()) -> CertFiles:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALID_FOR)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        cert = builder.sign(self._ca_key, hashes.SHA256())
        return CertFiles(
            cert=_write(os.path.join(self.directory, f"{file_name}.crt"), cert.public_bytes(serialization.Encoding.PEM), 0o644),
            key=_write(os.path.join(self.directory, f"{file_name}.key"), _key_pem(key)),
        )

    def serving(self, name: str) -> CertFiles:
        """A serving certificate for 127.0.0.1 / localhost (and the in-cluster names of the API server)."""
        sans = [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes"),
            x509.DNSName("kubernetes.default.svc"),
        ]
        return self._sign(name, _name(name), ExtendedKeyUsageOID.SERVER_AUTH, sans)

    def client(self, user: str, groups: Sequence[str] = ()) -> CertFiles:
        """A client certificate: the API server authenticates it as ``user`` in ``groups``."""
        file_name = "user-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in user)
        return self._sign(file_name, _name(user, groups), ExtendedKeyUsageOID.CLIENT_AUTH)
