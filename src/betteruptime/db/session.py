"""Engine and session factory for PostgreSQL (asyncpg) or SQLite (aiosqlite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Return an async engine; on SQLite with WAL, a busy timeout and foreign keys on."""
    # hide_parameters: a database error quotes its statement in logs, never the values
    # bound to it (password hashes, e-mail addresses, target URLs).
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # NullPool: aiosqlite connections are cheap and a pool would pin them to one loop.
        # No insertmanyvalues: rows of one multi-row VALUES list would all read the same
        # max(ref) when allocating website and region refs (see models.NextRef).
        engine = create_async_engine(
            url,
            poolclass=NullPool,
            connect_args={"timeout": 30},
            hide_parameters=True,
            use_insertmanyvalues=False,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
        # A server that stops answering must not hang a request forever.
        connect_args={"timeout": 10, "command_timeout": 60},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the worker writes; busy_timeout makes writers wait, not fail.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # SQLite ignores ON DELETE CASCADE unless asked per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory used by the API and the background components."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Return once the database answers a trivial query; raise when it does not."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
