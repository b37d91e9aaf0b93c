"""Alembic upgrades an empty database of each kind to head, and models match migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from betteruptime.db.migrate import upgrade_to_head
from betteruptime.db.models import Base
from betteruptime.db.session import create_engine
from tests.conftest import async_url

TABLES = {
    "users",
    "website",
    "region",
    "website_tick",
    "website_status",
    "status_page",
    "status_page_website",
    "alembic_version",
}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _upgrade_and_compare(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        await upgrade_to_head(engine)  # a second run is a no-op, not an error
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_sqlite_upgrades_to_head_and_matches_models(tmp_path: Path) -> None:
    await _upgrade_and_compare(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.postgres
async def test_postgres_upgrades_to_head_and_matches_models(fresh_postgres_url: str) -> None:
    await _upgrade_and_compare(async_url(fresh_postgres_url))
