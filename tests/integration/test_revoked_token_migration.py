"""Migration 0009_revoked_tokens adds the logout table and removes it again, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, inspect

from betteruptime.db.migrate import alembic_config, upgrade_to_head
from betteruptime.db.session import create_engine
from tests.conftest import async_url


def _run(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _indexes(connection: Connection) -> set[str]:
    return {i["name"] or "" for i in inspect(connection).get_indexes("revoked_token")}


async def _up_and_down(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run, "upgrade", "0008_web")
            assert "revoked_token" not in await conn.run_sync(_tables)
        await upgrade_to_head(engine)
        async with engine.begin() as conn:
            assert "revoked_token" in await conn.run_sync(_tables)
            assert "ix_revoked_token_expires_at" in await conn.run_sync(_indexes)
            await conn.run_sync(_run, "downgrade", "0008_web")
            assert "revoked_token" not in await conn.run_sync(_tables)
    finally:
        await engine.dispose()


async def test_sqlite_revoked_token_table_up_and_down(tmp_path: Path) -> None:
    await _up_and_down(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.postgres
async def test_postgres_revoked_token_table_up_and_down(fresh_postgres_url: str) -> None:
    await _up_and_down(async_url(fresh_postgres_url))
