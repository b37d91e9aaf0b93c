"""What every benchmark runs against: loopback PostgreSQL, Redis and the component commands."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.config import normalize_database_url
from betteruptime.db.migrate import upgrade_to_head
from betteruptime.db.session import create_engine

# The same servers the tests use unless told otherwise.
ADMIN_POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
)
REDIS_URL = os.environ.get(
    "BENCH_REDIS_URL", os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
)
# The commands of the installed package, run as real processes like in production.
BETTERUPTIME = str(Path(sys.executable).with_name("betteruptime"))
JWT_SECRET = "bench-secret-" + "x" * 40
# (database, Redis key prefix) of every backends() of this process, for cleanup checks.
CREATED: list[tuple[str, str]] = []


@dataclass(frozen=True)
class Backends:
    """A database made for one benchmark and a Redis stream key nobody else uses."""

    database_url: str  # plain postgresql:// (asyncpg and the commands take it)
    engine: AsyncEngine
    redis: aioredis.Redis
    stream_key: str

    def component_env(self, **extra: str | int | float | bool) -> dict[str, str]:
        """Return the environment of a pusher/worker/api process on these backends."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_URL,
            "STREAM_KEY": self.stream_key,
            # The target is nginx on loopback, which the SSRF guard refuses by default.
            "ALLOW_PRIVATE_TARGETS": "true",
            "JWT_SECRET": JWT_SECRET,
            "LOG_LEVEL": "WARNING",
            "DATA_DIR": "/tmp/bu-bench-data",
        }
        env.update(
            {k.upper(): str(v).lower() if isinstance(v, bool) else str(v) for k, v in extra.items()}
        )
        return env

    async def pg(self) -> asyncpg.Connection:
        """Return a new asyncpg connection to the benchmark database (caller closes it)."""
        return await asyncpg.connect(self.database_url)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_POSTGRES_URL, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def backends(tag: str) -> AsyncIterator[Backends]:
    """Yield a fresh migrated database and a unique stream key; drop and delete them after."""
    name = f"bu_bench_{tag}_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    base, _, _ = ADMIN_POSTGRES_URL.rpartition("/")
    url = f"{base}/{name}"
    engine = create_engine(normalize_database_url(url), pool_size=4)
    prefix = f"bu-bench-{uuid.uuid4().hex[:8]}:"
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    CREATED.append((name, prefix))
    try:
        await upgrade_to_head(engine)
        yield Backends(url, engine, client, f"{prefix}Betteruptime:Websites")
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await engine.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
