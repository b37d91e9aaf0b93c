"""Certificate expiry notices: the evaluator's time rule, the outbox, a real webhook receiver."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.alerting.evaluator import Evaluator, EvaluatorConfig
from betteruptime.alerting.metrics import EvaluatorMetrics
from betteruptime.db.certificates import CertificateRow, record_certificates
from betteruptime.db.models import IncidentEvent, Website, WebsiteCertificate
from betteruptime.rules.certificates import due_threshold
from tests.alerting.helpers import add_channel, deliveries, notifier, unfanned
from tests.notify.receivers import webhooks
from tests.pipeline.helpers import create_user, create_websites


def _evaluator(engine: AsyncEngine) -> Evaluator:
    return Evaluator(engine, EvaluatorConfig(), EvaluatorMetrics(CollectorRegistry()))


async def _certificate(
    engine: AsyncEngine, site: uuid.UUID, fingerprint: str, expires_at: datetime
) -> None:
    await record_certificates(
        engine,
        [
            CertificateRow(
                website_id=site,
                expires_at=expires_at,
                issuer="Test CA",
                hostname_ok=True,
                fingerprint=fingerprint,
                checked_at=datetime.now(UTC),
            )
        ],
    )


async def _notified(engine: AsyncEngine, site: uuid.UUID) -> int | None:
    async with engine.connect() as conn:
        return await conn.scalar(
            select(WebsiteCertificate.notified_days).where(WebsiteCertificate.website_id == site)
        )


async def test_one_notice_per_threshold_per_certificate(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    [site, other] = await create_websites(
        engine, owner, ["https://shop.example.com/", "https://blog.example.com/"]
    )
    async with engine.begin() as conn:
        await conn.execute(update(Website).where(Website.id == site).values(name="Shop"))
    now = datetime.now(UTC)
    expires = now + timedelta(days=10)
    evaluator = _evaluator(engine)
    async with webhooks() as hooks:
        await add_channel(engine, owner, hooks.url("json", "/json"), [site])
        await _certificate(engine, site, "a" * 64, expires)
        # Far from expiry: the other website's certificate says nothing.
        await _certificate(engine, other, "c" * 64, now + timedelta(days=90))
        await evaluator.run_time_rules(now)
        await notifier(engine).drain()
        [notice] = hooks.on("/json")
        # A second evaluation (and a later one, still above 7 days) sends nothing more.
        await evaluator.run_time_rules(now + timedelta(seconds=5))
        assert await _evaluator(engine).announce_certificates(now + timedelta(days=2)) == 0
        await notifier(engine).drain()
        assert len(hooks.on("/json")) == 1
        assert await _notified(engine, site) == 14
        assert await _notified(engine, other) is None
        # Under 7 days: one more notice, for 7.
        assert await evaluator.announce_certificates(now + timedelta(days=3, hours=1)) == 1
        assert await evaluator.announce_certificates(now + timedelta(days=3, hours=2)) == 0
        await notifier(engine).drain()
        assert len(hooks.on("/json")) == 2
        # A renewed certificate (another fingerprint) starts afresh: 10 days left is 14 again.
        await _certificate(engine, site, "b" * 64, expires)
        assert await _notified(engine, site) is None
        assert await evaluator.announce_certificates(now + timedelta(seconds=10)) == 1
        await notifier(engine).drain()
        assert len(hooks.on("/json")) == 3
        assert await _notified(engine, site) == 14
    assert notice.json["title"] == "CERTIFICATE EXPIRES IN 10 DAYS: Shop"
    assert notice.json["type"] == "warning"
    text = notice.json["message"]
    assert "Shop (https://shop.example.com/)" in text
    assert "expires in 10 days" in text
    assert f"Expires: {expires.strftime('%Y-%m-%d %H:%M UTC')}" in text
    assert "Issuer: Test CA" in text
    assert "Threshold: 14 days" in text
    rows = await deliveries(engine)
    assert [r["state"] for r in rows] == ["delivered"] * 3
    assert await unfanned(engine) == 0
    async with engine.connect() as conn:
        events = (await conn.execute(select(IncidentEvent.kind, IncidentEvent.website_id))).all()
    assert [tuple(e) for e in events] == [("certificate", site)] * 3


async def test_own_thresholds_and_deleted_websites(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    [site] = await create_websites(engine, owner, ["https://shop.example.com/"])
    async with engine.begin() as conn:
        await conn.execute(
            update(Website)
            .where(Website.id == site)
            .values(options='{"certificate_expiry_days": [60]}')
        )
    now = datetime.now(UTC)
    await _certificate(engine, site, "a" * 64, now + timedelta(days=45))
    evaluator = _evaluator(engine)
    assert await evaluator.announce_certificates(now) == 1
    assert await _notified(engine, site) == 60
    async with engine.begin() as conn:
        await conn.execute(delete(Website).where(Website.id == site))
        remaining = await conn.scalar(select(IncidentEvent.id))
    assert remaining is None  # the website's events go with it


def test_crossing_several_thresholds_announces_the_lowest() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    days = (30, 14, 7, 1)
    assert due_threshold(now + timedelta(days=31), now, days, None) is None
    assert due_threshold(now + timedelta(days=30), now, days, None) == 30
    assert due_threshold(now + timedelta(days=10), now, days, None) == 14
    assert due_threshold(now + timedelta(days=10), now, days, 30) == 14
    assert due_threshold(now + timedelta(days=10), now, days, 14) is None
    assert due_threshold(now + timedelta(hours=2), now, days, 14) == 1
    assert due_threshold(now - timedelta(hours=2), now, days, None) is None
