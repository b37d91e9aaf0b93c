"""Migration 0010_status_page_index: the status pages' two indexes, up and down, both kinds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text

from betteruptime.db.migrate import alembic_config, upgrade_to_head
from betteruptime.db.session import create_engine
from tests.conftest import async_url

INDEX = "ix_tick_rollup_daily_uptime"
INCIDENTS = "ix_incident_website_resolved"


def _downgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def _index(connection: Connection, table: str = "tick_rollup_daily") -> dict[str, Any] | None:
    name = INDEX if table == "tick_rollup_daily" else INCIDENTS
    for index in inspect(connection).get_indexes(table):
        if index["name"] == name:
            return dict(index)
    return None


def _incident_index(connection: Connection) -> dict[str, Any] | None:
    return _index(connection, "incident")


async def _up_down_up(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            index = await conn.run_sync(_index)
            assert index is not None and index["column_names"] == ["website_ref", "day"]
            incidents = await conn.run_sync(_incident_index)
            assert incidents is not None
            assert incidents["column_names"] == ["website_id", "resolved_at"]
            if engine.dialect.name == "postgresql":
                # The two counts ride along in the index: status pages read only it.
                definition = await conn.scalar(
                    text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                    {"name": INDEX},
                )
                assert "INCLUDE (checks, failures)" in str(definition)
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade_to, "0009_revoked_tokens")
        async with engine.connect() as conn:
            assert await conn.run_sync(_index) is None
            assert await conn.run_sync(_incident_index) is None
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_index) is not None
            assert await conn.run_sync(_incident_index) is not None
    finally:
        await engine.dispose()


async def test_sqlite_gets_and_drops_the_status_page_indexes(tmp_path: Path) -> None:
    await _up_down_up(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.postgres
async def test_postgres_gets_and_drops_the_status_page_indexes(fresh_postgres_url: str) -> None:
    await _up_down_up(async_url(fresh_postgres_url))
