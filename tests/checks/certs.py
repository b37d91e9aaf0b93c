"""Certificates made in the test: a CA, and server certificates valid, expired or misnamed."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Authority:
    """A throwaway CA: a client context trusting it, and server contexts it signs."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    folder: Path

    def client_context(self) -> ssl.SSLContext:
        """Return a client context that trusts only this CA."""
        context = ssl.create_default_context(cafile=str(self._write("ca.pem", self.cert)))
        return context

    def server_context(
        self,
        names: tuple[str, ...] = ("127.0.0.1",),
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        tag: str = "server",
    ) -> ssl.SSLContext:
        """Return a server context with a certificate for names (IPs or DNS names)."""
        now = datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        alt: list[x509.GeneralName] = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - timedelta(days=1))
            .not_valid_after(not_after or now + timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path = self._write(f"{tag}.pem", cert)
        key_path = self.folder / f"{tag}.key"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_path, key_path)
        return context

    def _write(self, name: str, cert: x509.Certificate) -> Path:
        path = self.folder / name
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path


def make_authority(folder: Path) -> Authority:
    """Return a new CA named "Test Authority" whose files live in folder."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Authority"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Test Root"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=400))
        .not_valid_after(now + timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert, folder)
