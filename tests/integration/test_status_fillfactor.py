"""Migration 0011_status_fillfactor: status rows are updated in place on PostgreSQL, and the
migration is a no-op that upgrades and downgrades on SQLite."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.migrate import alembic_config, upgrade_to_head
from betteruptime.db.session import create_engine
from betteruptime.db.ticks import TickRow, register_region, write_ticks
from betteruptime.rules.status import Status
from tests.conftest import async_url
from tests.pipeline.helpers import create_user, create_websites

# Enough rows to fill several pages of website_status (about 75 rows fit in a full page).
WEBSITES = 300


def _downgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def _batch(sites: list[uuid.UUID], at: datetime) -> list[TickRow]:
    return [
        TickRow(
            website_id=site,
            status=Status.UP,
            status_code=200,
            response_time_ms=20,
            error=None,
            scheduled_at=at,
            checked_at=at + timedelta(milliseconds=30),
        )
        for site in sites
    ]


async def _pages(engine: AsyncEngine) -> dict[uuid.UUID, int]:
    """Return the heap page of each status row."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT website_id, (ctid::text::point)[0]::int FROM website_status")
        )
        return {row[0]: row[1] for row in rows}


async def _rows_moved_by_one_round(engine: AsyncEngine) -> int:
    """Return how many of WEBSITES status rows left their page when each got one new tick."""
    owner = await create_user(engine)
    sites = await create_websites(
        engine, owner, [f"http://127.0.0.1:1/{i}" for i in range(WEBSITES)]
    )
    region = f"r{uuid.uuid4().hex[:8]}"
    await register_region(engine, region)
    t0 = datetime.now(UTC).replace(microsecond=0)
    await write_ticks(engine, region, _batch(sites, t0))
    before = await _pages(engine)
    await write_ticks(engine, region, _batch(sites, t0 + timedelta(minutes=1)))
    after = await _pages(engine)
    assert after.keys() == before.keys()
    return sum(after[site] != before[site] for site in sites)


async def _fillfactor(engine: AsyncEngine) -> list[str] | None:
    async with engine.connect() as conn:
        options: list[str] | None = await conn.scalar(
            text("SELECT reloptions FROM pg_class WHERE relname = 'website_status'")
        )
        return options


@pytest.mark.postgres
async def test_status_rows_stay_on_their_page_when_updated(fresh_postgres_url: str) -> None:
    engine = create_engine(async_url(fresh_postgres_url))
    try:
        await upgrade_to_head(engine)
        assert await _fillfactor(engine) == ["fillfactor=50"]
        # A row updated on its own page needs no new index entry (a HOT update).
        assert await _rows_moved_by_one_round(engine) == 0
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_full_pages_move_updated_rows_without_the_migration(
    fresh_postgres_url: str,
) -> None:
    engine = create_engine(async_url(fresh_postgres_url))
    try:
        await upgrade_to_head(engine)
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade_to, "0010_status_page_index")
        assert await _fillfactor(engine) is None
        assert await _rows_moved_by_one_round(engine) > WEBSITES // 2
        await upgrade_to_head(engine)
        assert await _fillfactor(engine) == ["fillfactor=50"]
    finally:
        await engine.dispose()


async def test_sqlite_upgrades_and_downgrades_through_the_migration(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        await upgrade_to_head(engine)
        owner = await create_user(engine)
        (site,) = await create_websites(engine, owner, ["http://127.0.0.1:1/"])
        await register_region(engine, "eu")
        t0 = datetime.now(UTC).replace(microsecond=0)
        await write_ticks(engine, "eu", _batch([site], t0))
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade_to, "0010_status_page_index")
        await upgrade_to_head(engine)
        await write_ticks(engine, "eu", _batch([site], t0 + timedelta(minutes=1)))
        async with engine.connect() as conn:
            streak = await conn.scalar(text("SELECT streak FROM website_status"))
        assert streak == 2
    finally:
        await engine.dispose()
