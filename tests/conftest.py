"""Shared fixtures: a fresh PostgreSQL database and a Redis key prefix per run.

Outside CI a missing server skips the tests that need it, with the reason; under CI
(CI=true) it fails them, so a broken service can never pass as a green run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import NoReturn

import asyncpg
import pytest
import redis.asyncio as aioredis

from betteruptime.config import normalize_database_url

UNDER_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ADMIN_POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unavailable(what: str, exc: BaseException) -> NoReturn:
    """Skip the test (fail it under CI) because a server it needs is not there."""
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if UNDER_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(f"{message}; start it to run this test")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_POSTGRES_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def _created_database() -> Iterator[str]:
    """Yield a plain postgresql:// URL of a new, empty database; drop it afterwards."""
    name = f"bu_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        unavailable("PostgreSQL", exc)
    base, _, _ = ADMIN_POSTGRES_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """Return the URL of a database shared by this whole run."""
    with _created_database() as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """Return the URL of a database created for one test only."""
    with _created_database() as url:
        yield url


def async_url(plain_url: str) -> str:
    """Return the SQLAlchemy async form of a plain database URL."""
    return normalize_database_url(plain_url)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """Return a key prefix unique to this test; every key under it is deleted afterwards."""
    client = aioredis.from_url(TEST_REDIS_URL)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        await client.aclose()
        unavailable("Redis", exc)
    prefix = f"bu-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def redis_url() -> str:
    """Return the URL of the Redis server the tests use."""
    return TEST_REDIS_URL
