"""An in-process API per test, on SQLite (a fresh file) or PostgreSQL (truncated tables)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from betteruptime.api.state import AppState
from betteruptime.app import create_app
from betteruptime.auth.passwords import hash_password
from betteruptime.auth.tokens import issue_token
from betteruptime.config import Settings
from betteruptime.db.migrate import upgrade_to_head
from betteruptime.db.models import Base, Incident, IncidentEvent, User, Website
from betteruptime.db.session import create_engine
from tests.conftest import async_url

PASSWORD = "correct horse battery staple"
TEST_JWT_SECRET = "test-secret-" + "x" * 60  # 64+ bytes, so HS512 test tokens raise no warning
TABLES = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))


@cache
def password_hash() -> str:
    """Return one argon2 hash of PASSWORD, computed once: hashing costs ~0.1 s."""
    return hash_password(PASSWORD)


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    """Return settings for a test app, independent of the environment's optional services."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "jwt_secret": TEST_JWT_SECRET,
        "redis_url": None,
        "redis_addr": None,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Client:
    """A user's view of the API: the same client with or without their token."""

    http: httpx.AsyncClient
    headers: dict[str, str] = field(default_factory=dict)
    user_id: uuid.UUID | None = None

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request carrying this user's token (if any)."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.http.request(method, url, headers=headers, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)


@dataclass
class Api:
    """A running app, its HTTP client and direct database access for arranging rows."""

    app: FastAPI
    http: httpx.AsyncClient
    backend: str

    @property
    def state(self) -> AppState:
        core: AppState = self.app.state.core
        return core

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """Return a database session outside of any request."""
        return self.state.sessionmaker()

    @property
    def anonymous(self) -> Client:
        return Client(self.http)

    async def make_user(self, username: str) -> Client:
        """Insert a user directly (skipping argon2 per test) and return their client."""
        async with self.session() as session:
            user = User(
                username=username,
                email=f"{username}@example.com",
                password_hash=password_hash(),
                tokens_valid_after=datetime.now(UTC),
            )
            session.add(user)
            await session.commit()
        token = issue_token(user.id, self.state.jwt_secret, 3600)
        return Client(self.http, {"Authorization": f"Bearer {token}"}, user.id)

    async def count(self, model: type[Base]) -> int:
        """Return the number of rows of a table."""
        async with self.session() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def snapshot(self) -> list[tuple[Any, ...]]:
        """Return every website row, to prove a rejected request changed nothing."""
        async with self.session() as session:
            rows = await session.execute(select(Website).order_by(Website.id))
            return [
                (
                    w.id,
                    w.owner_id,
                    w.url,
                    w.name,
                    w.interval_seconds,
                    w.timeout_seconds,
                    w.enabled,
                    w.next_check_at,
                )
                for (w,) in rows
            ]


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_server_url: str) -> str:
    """Return the async URL of this run's PostgreSQL database, migrated once."""

    async def migrate() -> None:
        engine = create_engine(async_url(postgres_server_url))
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    return async_url(postgres_server_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Return the database kind the test runs on."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Return a database URL holding no rows: a new SQLite file or the run's PostgreSQL."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'api.sqlite'}"
    return str(request.getfixturevalue("migrated_postgres_url"))


AppFactory = Callable[..., AbstractAsyncContextManager[Api]]


@pytest.fixture
def start_api(backend: str, database_url: str, tmp_path: Path) -> Iterator[AppFactory]:
    """Return a factory that runs an app (with optional settings overrides) for a test."""

    class _Running:
        def __init__(self, overrides: dict[str, Any]) -> None:
            self.overrides = overrides
            self.engine: AsyncEngine | None = None
            self.stack: list[Any] = []

        async def __aenter__(self) -> Api:
            settings = make_settings(tmp_path, database_url, **self.overrides)
            if backend == "postgres":
                self.engine = create_engine(settings.sqlalchemy_url, pool_size=5)
                async with self.engine.begin() as conn:
                    await conn.execute(text(f"TRUNCATE {TABLES} CASCADE"))
            app = create_app(settings, engine=self.engine)
            lifespan = app.router.lifespan_context(app)
            await lifespan.__aenter__()
            self.stack.append(lifespan)
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
            self.stack.append(http)
            return Api(app=app, http=http, backend=backend)

        async def __aexit__(self, *exc: object) -> None:
            for resource in reversed(self.stack):
                await resource.__aexit__(None, None, None)
            if self.engine is not None:
                await self.engine.dispose()

    yield lambda **overrides: _Running(overrides)


@pytest.fixture
async def api(start_api: AppFactory) -> AsyncIterator[Api]:
    """Return a running app with default settings."""
    async with start_api() as running:
        yield running


@pytest.fixture
async def owner(api: Api) -> Client:
    """Return the user who owns the websites in a test."""
    return await api.make_user("owner")


@pytest.fixture
async def other(api: Api) -> Client:
    """Return a second, unrelated user."""
    return await api.make_user("other")


@pytest.fixture
def anonymous(api: Api) -> Client:
    """Return a client with no token."""
    return api.anonymous


async def create_website(client: Client, url: str = "https://example.com/", **fields: Any) -> Any:
    """Create a website as this client; return its JSON."""
    response = await client.post("/website", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def insert_incident(
    api: Api,
    website_id: str,
    *,
    started_ago: timedelta = timedelta(minutes=5),
    resolved_ago: timedelta | None = None,
    state: str | None = None,
) -> str:
    """Insert an incident (and its 'opened' event) as the evaluator would; return its id."""
    now = datetime.now(UTC)
    started = now - started_ago
    resolved = now - resolved_ago if resolved_ago is not None else None
    async with api.session() as session:
        incident = Incident(
            website_id=uuid.UUID(website_id),
            state=state or ("resolved" if resolved else "open"),
            started_at=started,
            detected_at=started + timedelta(seconds=10),
            resolved_at=resolved,
            cause={"error": "status 503", "status_code": 503, "regions": ["eu", "us"]},
        )
        session.add(incident)
        await session.flush()
        session.add(
            IncidentEvent(
                incident_id=incident.id,
                kind="opened",
                at=started + timedelta(seconds=10),
                detail={"regions": ["eu", "us"]},
            )
        )
        if resolved is not None:
            session.add(IncidentEvent(incident_id=incident.id, kind="resolved", at=resolved))
        await session.commit()
        return str(incident.id)
