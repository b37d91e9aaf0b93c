"""What one check of one website produced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from betteruptime.rules.status import Status


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
