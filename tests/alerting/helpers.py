"""Rows for notifier tests: channels, incidents and the events an evaluator would write."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.alerting.notifier import Notifier, NotifierConfig
from betteruptime.checks.targets import TargetPolicy
from betteruptime.db.models import (
    Channel,
    DeliveryAttempt,
    Incident,
    IncidentEvent,
    NotificationDelivery,
    WebsiteChannel,
)
from betteruptime.notify.crypto import ChannelCipher
from betteruptime.notify.sender import Sender

CIPHER = ChannelCipher([Fernet.generate_key().decode()])
PUBLIC_URL = "https://uptime.example.com"


def notifier(
    engine: AsyncEngine,
    *,
    policy: TargetPolicy | None = None,
    max_attempts: int = 3,
    retry_seconds: float = 0.05,
    lease_seconds: float = 30.0,
    timeout: float = 5.0,
) -> Notifier:
    """Return a notifier allowed to reach loopback receivers unless told otherwise."""
    sender = Sender(policy or TargetPolicy(allow_private=True), timeout=timeout, concurrency=8)
    config = NotifierConfig(
        public_url=PUBLIC_URL,
        concurrency=8,
        poll_seconds=0.05,
        lease_seconds=lease_seconds,
        max_attempts=max_attempts,
        retry_seconds=retry_seconds,
    )
    return Notifier(engine, sender, CIPHER, config)


async def add_channel(
    engine: AsyncEngine, owner: uuid.UUID, url: str, websites: list[uuid.UUID]
) -> uuid.UUID:
    """Insert an encrypted channel notified by the given websites; return its id."""
    cid = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            insert(Channel).values(
                id=cid,
                owner_id=owner,
                name="ch",
                url_encrypted=CIPHER.encrypt(url),
                scheme=url.partition("://")[0],
                created_at=datetime.now(UTC),
            )
        )
        for wid in websites:
            await conn.execute(insert(WebsiteChannel).values(website_id=wid, channel_id=cid))
    return cid


CAUSE = {"error": "HTTP 503", "status_code": 503, "regions": ["eu-west-1", "us-east-1"]}


async def open_incident(
    engine: AsyncEngine, website_id: uuid.UUID, started_ago: timedelta = timedelta(minutes=2)
) -> uuid.UUID:
    """Open an incident and write its `opened` event in one transaction, as the evaluator does."""
    iid = uuid.uuid4()
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Incident).values(
                id=iid,
                website_id=website_id,
                state="open",
                started_at=now - started_ago,
                detected_at=now,
                cause=CAUSE,
                awaiting_recovery=False,
            )
        )
        await conn.execute(
            insert(IncidentEvent).values(incident_id=iid, kind="opened", at=now, detail={})
        )
    return iid


async def add_event(engine: AsyncEngine, incident_id: uuid.UUID, kind: str) -> None:
    """Write an event (resolving the incident first for `resolved`)."""
    from sqlalchemy import update

    now = datetime.now(UTC)
    async with engine.begin() as conn:
        if kind == "resolved":
            await conn.execute(
                update(Incident)
                .where(Incident.id == incident_id)
                .values(state="resolved", resolved_at=now)
            )
        await conn.execute(
            insert(IncidentEvent).values(incident_id=incident_id, kind=kind, at=now, detail={})
        )


async def deliveries(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Return every delivery with its attempts (oldest first)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(NotificationDelivery.__table__))).mappings().all()
        attempts = (
            (await conn.execute(select(DeliveryAttempt.__table__).order_by(DeliveryAttempt.id)))
            .mappings()
            .all()
        )
    out = []
    for row in sorted(rows, key=lambda r: r["id"]):
        item = dict(row)
        item["log"] = [dict(a) for a in attempts if a["delivery_id"] == row["id"]]
        out.append(item)
    return out


async def unfanned(engine: AsyncEngine) -> int:
    """Return how many events are not yet fanned out."""
    async with engine.connect() as conn:
        value = await conn.scalar(select(func.count()).where(IncidentEvent.fanned_out_at.is_(None)))
    return int(value or 0)
