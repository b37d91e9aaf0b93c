"""Alembic upgrades an empty database of each kind to head, and models match migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Uuid, bindparam, inspect, text

from betteruptime.db.migrate import alembic_config, include_name, upgrade_to_head
from betteruptime.db.models import Base, UTCDateTime
from betteruptime.db.partitions import is_partition_name, partition_name
from betteruptime.db.session import create_engine
from tests.conftest import async_url

TABLES = {
    "users",
    "website",
    "region",
    "website_tick",
    "tick_error",
    "website_status",
    "status_page",
    "status_page_website",
    "evaluation",
    "incident",
    "incident_event",
    "channel",
    "website_channel",
    "notification_delivery",
    "delivery_attempt",
    "tick_rollup_hourly",
    "tick_rollup_daily",
    "rollup_progress",
    "website_certificate",
    "heartbeat",
    "revoked_token",
    "alembic_version",
}


def _diff(connection: Connection) -> list[Any]:
    opts = {"compare_type": True, "include_name": include_name}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    """Return the tables, daily tick partitions (made by SQL, not models) left out."""
    return {t for t in inspect(connection).get_table_names() if not is_partition_name(t)}


def _partitions(connection: Connection) -> set[str]:
    return {t for t in inspect(connection).get_table_names() if is_partition_name(t)}


async def _upgrade_and_compare(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        await upgrade_to_head(engine)  # a second run is a no-op, not an error
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES
            assert await conn.run_sync(_diff) == []
            # PostgreSQL: today's partition and the next ones exist; SQLite has none.
            today = datetime.now(UTC).date()
            expected = (
                {partition_name(today + timedelta(days=n)) for n in range(4)}
                if engine.dialect.name == "postgresql"
                else set()
            )
            assert expected <= await conn.run_sync(_partitions)
            if not expected:
                assert await conn.run_sync(_partitions) == set()
    finally:
        await engine.dispose()


async def test_sqlite_upgrades_to_head_and_matches_models(tmp_path: Path) -> None:
    await _upgrade_and_compare(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.postgres
async def test_postgres_upgrades_to_head_and_matches_models(fresh_postgres_url: str) -> None:
    await _upgrade_and_compare(async_url(fresh_postgres_url))


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def _websites_of_0001_become_http_checks(url: str) -> None:
    # Raw SQL with typed parameters: the models describe head, not revision 0001.
    insert_user = text(
        "INSERT INTO users (id, username, email, password_hash, tokens_valid_after, created_at)"
        " VALUES (:user_id, 'u', 'u@example.com', 'x', :now, :now)"
    )
    insert_website = text(
        "INSERT INTO website (id, owner_id, url, interval_seconds, timeout_seconds, enabled,"
        " created_at, next_check_at)"
        " VALUES (:website_id, :user_id, 'https://example.com/', 60, 10, true, :now, :now)"
    )
    user_id = bindparam("user_id", type_=Uuid())
    website_id = bindparam("website_id", type_=Uuid())
    now = bindparam("now", type_=UTCDateTime())
    values = {"user_id": uuid.uuid4(), "website_id": uuid.uuid4(), "now": datetime.now(UTC)}
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, "0001")
            await conn.execute(insert_user.bindparams(user_id, now), values)
            await conn.execute(insert_website.bindparams(user_id, website_id, now), values)
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            kinds = (await conn.execute(text("SELECT kind FROM website"))).scalars().all()
        assert kinds == ["http"]
    finally:
        await engine.dispose()


async def test_sqlite_websites_from_before_kinds_are_http_checks(tmp_path: Path) -> None:
    await _websites_of_0001_become_http_checks(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.postgres
async def test_postgres_websites_from_before_kinds_are_http_checks(fresh_postgres_url: str) -> None:
    await _websites_of_0001_become_http_checks(async_url(fresh_postgres_url))
