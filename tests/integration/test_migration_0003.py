"""Migration 0003 moves ticks written by the previous schema into the compact layout."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.migrate import alembic_config, upgrade_to_head
from betteruptime.db.models import UTCDateTime, Website
from betteruptime.db.session import create_engine
from betteruptime.db.ticks import TickRow, all_ticks, write_ticks
from betteruptime.rules.status import Status
from tests.conftest import async_url

# The tables as the revision before 0003 left them, for writing rows the way the old code did.
OLD = sa.MetaData()
OLD_USERS = sa.Table(
    "users",
    OLD,
    sa.Column("id", sa.Uuid),
    sa.Column("username", sa.String),
    sa.Column("email", sa.String),
    sa.Column("password_hash", sa.String),
    sa.Column("tokens_valid_after", UTCDateTime),
    sa.Column("created_at", UTCDateTime),
)
OLD_WEBSITE = sa.Table(
    "website",
    OLD,
    sa.Column("id", sa.Uuid),
    sa.Column("owner_id", sa.Uuid),
    sa.Column("url", sa.String),
    sa.Column("name", sa.String),
    sa.Column("interval_seconds", sa.Integer),
    sa.Column("timeout_seconds", sa.Integer),
    sa.Column("enabled", sa.Boolean),
    sa.Column("created_at", UTCDateTime),
    sa.Column("next_check_at", UTCDateTime),
)
OLD_REGION = sa.Table("region", OLD, sa.Column("id", sa.String), sa.Column("name", sa.String))
OLD_TICK = sa.Table(
    "website_tick",
    OLD,
    sa.Column("website_id", sa.Uuid),
    sa.Column("region_id", sa.String),
    sa.Column("status", sa.String),
    sa.Column("response_time_ms", sa.Integer),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.String),
    sa.Column("scheduled_at", UTCDateTime),
    sa.Column("checked_at", UTCDateTime),
    sa.Column("message_id", sa.String),
)

NOW = datetime.now(UTC).replace(microsecond=0)
# The head before compact ticks: what a database holding old-layout ticks is at.
PREVIOUS = ScriptDirectory.from_config(alembic_config()).get_revision("0003_compact_ticks")
PREVIOUS_REVISION = str(PREVIOUS.down_revision) if PREVIOUS is not None else ""


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _downgrade_to(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "sqlite":
        # As upgrade_to_head does: table rebuilds must not cascade into other tables.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def _old_ticks(sites: list[uuid.UUID]) -> list[dict[str, Any]]:
    """Return old-schema ticks over three days, with a duplicate and NULL scheduled times."""
    rows: list[dict[str, Any]] = []
    n = 0
    for day in (2, 1, 0):
        for minute in range(3):
            for site in sites:
                for region in ("eu", "us"):
                    n += 1
                    slot = NOW - timedelta(days=day, minutes=minute)
                    down = n % 4 == 0
                    rows.append(
                        {
                            "website_id": site,
                            "region_id": region,
                            "status": "DOWN" if down else "UP",
                            "response_time_ms": None if down else n,
                            "status_code": (503 if n % 8 == 0 else None) if down else 200,
                            "error": ("status 503" if n % 8 == 0 else "timeout") if down else None,
                            "scheduled_at": slot,
                            "checked_at": slot + timedelta(milliseconds=120 + n),
                            "message_id": f"{n}-0",
                        }
                    )
    # One check pushed twice (a pusher died between XADD and COMMIT): same website,
    # region and slot under two message ids. The first one written is kept.
    twin = dict(
        rows[0], message_id="twin-0", checked_at=rows[0]["checked_at"] + timedelta(seconds=1)
    )
    # Ticks written before jobs carried a scheduled time.
    legacy = [
        {
            **rows[1],
            "scheduled_at": None,
            "checked_at": NOW - timedelta(hours=5, microseconds=k * 1000),
            "message_id": f"legacy-{k}",
        }
        for k in range(3)
    ]
    return [*rows, twin, *legacy]


async def _migrate_with_ticks(engine: AsyncEngine) -> tuple[list[dict[str, Any]], list[uuid.UUID]]:
    async with engine.connect() as conn:
        await conn.run_sync(_upgrade_to, PREVIOUS_REVISION)
        await conn.commit()
    owner = uuid.uuid4()
    sites = [uuid.uuid4() for _ in range(3)]
    old = _old_ticks(sites)
    async with engine.begin() as conn:
        await conn.execute(
            OLD_USERS.insert(),
            [
                {
                    "id": owner,
                    "username": "old",
                    "email": "old@example.com",
                    "password_hash": "x",
                    "tokens_valid_after": NOW,
                    "created_at": NOW,
                }
            ],
        )
        await conn.execute(
            OLD_WEBSITE.insert(),
            [
                {
                    "id": site,
                    "owner_id": owner,
                    "url": f"https://{i}.example.com",
                    "name": None,
                    "interval_seconds": 60,
                    "timeout_seconds": 10,
                    "enabled": True,
                    "created_at": NOW - timedelta(days=3, seconds=-i),
                    "next_check_at": NOW,
                }
                for i, site in enumerate(sites)
            ],
        )
        await conn.execute(OLD_REGION.insert(), [{"id": r, "name": r} for r in ("us", "eu")])
        await conn.execute(OLD_TICK.insert(), old)
    await upgrade_to_head(engine)
    return old, sites


async def _check(engine: AsyncEngine) -> None:
    old, sites = await _migrate_with_ticks(engine)
    async with engine.connect() as conn:
        stored = await all_ticks(conn)
        refs = {r.id: r.ref for r in await conn.execute(sa.select(Website.id, Website.ref))}

    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in old:  # in insertion order: the first of two twins wins
        slot = row["scheduled_at"] or row["checked_at"]
        expected.setdefault((row["website_id"], row["region_id"], slot), row)
    assert len(old) == 3 * 3 * 3 * 2 + 1 + 3
    assert len(stored) == len(expected) == len(old) - 1
    for website_id, tick in stored:
        row = expected[(website_id, tick.region_id, tick.scheduled_at)]
        assert (tick.status.value, tick.status_code, tick.response_time_ms, tick.error) == (
            row["status"],
            row["status_code"],
            row["response_time_ms"],
            row["error"],
        )
        assert tick.checked_at == row["checked_at"]

    # Refs follow creation order and new websites continue after them.
    assert [refs[s] for s in sites] == sorted(refs[s] for s in sites)
    assert len(set(refs.values())) == 3
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(Website).values(
                owner_id=(await conn.scalar(sa.select(OLD_USERS.c.id))),
                url="https://new.example.com",
            )
        )
        new_ref = await conn.scalar(
            sa.select(Website.ref).where(Website.url == "https://new.example.com")
        )
    assert new_ref is not None and new_ref > max(refs.values())

    # The writer works on migrated rows: a redelivery of a migrated tick is a no-op.
    first = old[0]
    again = TickRow(
        website_id=first["website_id"],
        status=Status.UP,
        status_code=200,
        response_time_ms=1,
        error=None,
        scheduled_at=first["scheduled_at"],
        checked_at=first["checked_at"],
    )
    assert (await write_ticks(engine, first["region_id"], [again])).inserted == 0

    # Down to the old layout and up again: every tick survives both ways.
    async with engine.connect() as conn:
        await conn.run_sync(_downgrade_to, PREVIOUS_REVISION)
        await conn.commit()
    async with engine.connect() as conn:
        old_count = await conn.scalar(sa.text("SELECT count(*) FROM website_tick"))
    assert old_count == len(stored)
    await upgrade_to_head(engine)
    async with engine.connect() as conn:
        assert sorted((w, t.region_id, t.scheduled_at) for w, t in await all_ticks(conn)) == sorted(
            (w, t.region_id, t.scheduled_at) for w, t in stored
        )


async def test_sqlite_migration_keeps_ticks(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await _check(engine)
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgres_migration_keeps_ticks(fresh_postgres_url: str) -> None:
    engine = create_engine(async_url(fresh_postgres_url))
    try:
        await _check(engine)
    finally:
        await engine.dispose()
