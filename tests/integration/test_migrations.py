"""Alembic upgrades an empty database of each kind to head, and models match migrations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from betteruptime.db.migrate import include_name, upgrade_to_head
from betteruptime.db.models import Base
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
    "tick_rollup_hourly",
    "tick_rollup_daily",
    "rollup_progress",
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
