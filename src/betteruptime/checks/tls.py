"""Certificate facts: read from a verified handshake, or fetched again to explain a refusal."""

from __future__ import annotations

import asyncio
import functools
import ssl
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from betteruptime.checks.connect import guarded_connect
from betteruptime.checks.result import TlsFacts
from betteruptime.checks.targets import TargetPolicy, parse_ip_literal

_ISSUER_MAX = 200


def facts_from_ssl(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> TlsFacts | None:
    """Return the facts of a verified connection's certificate, or None without one."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return _verified_facts(der)


# The same few thousand certificates come back check after check: parse each once.
@functools.lru_cache(maxsize=4096)
def _verified_facts(der: bytes) -> TlsFacts:
    return facts_from_der(der, hostname_ok=True)


def facts_from_der(
    der: bytes, *, hostname: str | None = None, hostname_ok: bool = False
) -> TlsFacts:
    """Return the facts of a DER certificate; hostname, when given, decides hostname_ok."""
    cert = x509.load_der_x509_certificate(der)
    if hostname is not None:
        hostname_ok = _matches(cert, hostname)
    return TlsFacts(
        expires_at=cert.not_valid_after_utc,
        issuer=_issuer(cert),
        hostname_ok=hostname_ok,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
    )


def _issuer(cert: x509.Certificate) -> str:
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        values = cert.issuer.get_attributes_for_oid(oid)
        if values:
            value = values[0].value
            text = value if isinstance(value, str) else value.decode("utf-8", "replace")
            return text[:_ISSUER_MAX]
    return "unknown"


def _matches(cert: x509.Certificate, hostname: str) -> bool:
    """Return True when the certificate names the host (SAN first, as browsers do)."""
    host = hostname.lower().rstrip(".")
    address = parse_ip_literal(host)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    if address is not None:
        return any(a == address for a in san.get_values_for_type(x509.IPAddress))
    for name in san.get_values_for_type(x509.DNSName):
        pattern = name.lower().rstrip(".")
        if pattern == host:
            return True
        # A wildcard covers exactly one leftmost label.
        if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def refusal_reason(facts: TlsFacts, now: datetime) -> str | None:
    """Return the short reason a certificate is refused for expiry or name, or None."""
    if facts.expires_at <= now:
        days = (now - facts.expires_at).days
        return (
            "tls: certificate expired today"
            if days == 0
            else (f"tls: certificate expired {days} day{'s' if days != 1 else ''} ago")
        )
    if not facts.hostname_ok:
        return "tls: certificate is not valid for this host name"
    return None


async def inspect(
    host: str, port: int, policy: TargetPolicy, timeout_seconds: float
) -> TlsFacts | None:
    """Return the facts of the certificate host:port presents, without verifying it.

    Only called after a verified handshake failed, to say why; the connection is made
    through the same guard as the check's own.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        async with asyncio.timeout(timeout_seconds):
            _, writer = await guarded_connect(
                host, port, policy, ssl_context=context, server_hostname=host
            )
    except (OSError, TimeoutError, ssl.SSLError):
        return None
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        return facts_from_der(der, hostname=host) if der else None
    except ValueError:
        return None
    finally:
        writer.close()


def days_left(facts: TlsFacts, now: datetime | None = None) -> int:
    """Return whole days until the certificate expires (negative once expired)."""
    delta = facts.expires_at - (now or datetime.now(UTC))
    return delta.days


__all__ = ["days_left", "facts_from_der", "facts_from_ssl", "inspect", "refusal_reason"]
