"""Engines on a fresh PostgreSQL database or a SQLite file, migrated to head."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.migrate import upgrade_to_head
from betteruptime.db.session import create_engine
from tests.conftest import async_url


@pytest.fixture
async def pg_engine(fresh_postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """Return an engine on a fresh, migrated PostgreSQL database."""
    engine = create_engine(async_url(fresh_postgres_url))
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """Return an engine on a fresh, migrated SQLite file."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bu.db'}")
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(params=["pg_engine", "sqlite_engine"])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Return a migrated engine of each kind in turn."""
    value: AsyncEngine = request.getfixturevalue(request.param)
    return value
