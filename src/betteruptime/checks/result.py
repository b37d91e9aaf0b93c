"""What one check of one website produced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from betteruptime.rules.status import Status


@dataclass(frozen=True, slots=True)
class TlsFacts:
    """The certificate a TLS handshake presented (verified or not)."""

    expires_at: datetime
    # The issuer's organisation (or common name), at most 200 characters.
    issuer: str
    hostname_ok: bool
    # Hex SHA-256 of the certificate: "once per threshold per certificate" keys on it.
    fingerprint: str


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check: UP or DOWN, with the evidence."""

    status: Status
    checked_at: datetime
    status_code: int | None = None
    response_time_ms: int | None = None
    # Short and human: "timeout", "connection refused", "dns: …", "tls: …", "status 503",
    # "blocked: …". Never contains URL credentials.
    error: str | None = None
    # UP but slower than the website's degraded_after_ms.
    degraded: bool = False
    tls: TlsFacts | None = None
