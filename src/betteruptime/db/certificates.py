"""Certificates seen by checks: the latest per website, written beside the tick batches."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, String, Uuid, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from betteruptime.db.models import UTCDateTime, WebsiteCertificate


@dataclass(frozen=True, slots=True)
class CertificateRow:
    """One website's certificate as a check saw it."""

    website_id: uuid.UUID
    expires_at: datetime
    issuer: str
    hostname_ok: bool
    fingerprint: str
    checked_at: datetime


# INSERT … SELECT … WHERE EXISTS: a website deleted meanwhile is skipped instead of failing
# the statement on its foreign key. A new certificate (another fingerprint) starts its
# expiry announcements afresh; an older observation never overwrites a newer one.
_UPSERT = text(
    """
    INSERT INTO website_certificate (website_id, expires_at, issuer, hostname_ok, fingerprint,
                                     checked_at, notified_days)
    SELECT :website_id, :expires_at, :issuer, :hostname_ok, :fingerprint, :checked_at, NULL
    WHERE EXISTS (SELECT 1 FROM website WHERE id = :website_id)
    ON CONFLICT (website_id) DO UPDATE SET
        expires_at = excluded.expires_at,
        issuer = excluded.issuer,
        hostname_ok = excluded.hostname_ok,
        notified_days = CASE WHEN website_certificate.fingerprint = excluded.fingerprint
                             THEN website_certificate.notified_days ELSE NULL END,
        fingerprint = excluded.fingerprint,
        checked_at = excluded.checked_at
    WHERE website_certificate.checked_at < excluded.checked_at
    """
).bindparams(
    bindparam("website_id", type_=Uuid()),
    bindparam("expires_at", type_=UTCDateTime()),
    bindparam("issuer", type_=String()),
    bindparam("hostname_ok", type_=Boolean()),
    bindparam("checked_at", type_=UTCDateTime()),
)


async def record_certificates(engine: AsyncEngine, rows: Sequence[CertificateRow]) -> None:
    """Store the latest certificate of each website in one transaction."""
    if not rows:
        return
    params = [
        {
            "website_id": r.website_id,
            "expires_at": r.expires_at,
            "issuer": r.issuer,
            "hostname_ok": r.hostname_ok,
            "fingerprint": r.fingerprint,
            "checked_at": r.checked_at,
        }
        # Sorted by website: two workers lock rows in the same order (no deadlock).
        for r in sorted(rows, key=lambda r: str(r.website_id))
    ]
    async with engine.begin() as conn:
        await conn.execute(_UPSERT, params)


async def get_certificate(
    session: AsyncSession, website_id: uuid.UUID
) -> WebsiteCertificate | None:
    """Return the latest certificate seen for the website, or None."""
    return await session.scalar(
        select(WebsiteCertificate).where(WebsiteCertificate.website_id == website_id)
    )
