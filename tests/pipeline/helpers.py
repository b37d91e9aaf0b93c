"""Shared helpers of the pipeline tests: rows in the database, local HTTP targets."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.models import User, Website, WebsiteTick


async def create_user(engine: AsyncEngine) -> uuid.UUID:
    """Return the id of a new user inserted directly."""
    uid = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            insert(User).values(
                id=uid,
                username=f"u{uid.hex[:10]}",
                email=f"{uid.hex[:10]}@example.com",
                password_hash="x",
                tokens_valid_after=datetime.now(UTC),
                created_at=datetime.now(UTC),
            )
        )
    return uid


async def create_websites(
    engine: AsyncEngine,
    owner: uuid.UUID,
    urls: list[str],
    *,
    interval: int = 60,
    timeout: int = 2,
    next_check_at: datetime | None = None,
    enabled: bool = True,
) -> list[uuid.UUID]:
    """Return the ids of new websites, due at next_check_at (default now)."""
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in urls]
    rows = [
        {
            "id": wid,
            "owner_id": owner,
            "url": url,
            "name": None,
            "interval_seconds": interval,
            "timeout_seconds": timeout,
            "enabled": enabled,
            "created_at": now,
            "next_check_at": next_check_at or now,
        }
        for wid, url in zip(ids, urls, strict=True)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(Website), rows)
    return ids


async def ticks(engine: AsyncEngine) -> list[WebsiteTick]:
    """Return every stored tick."""
    async with engine.connect() as conn:
        result = await conn.execute(select(WebsiteTick.__table__))
        return [WebsiteTick(**row._mapping) for row in result]


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Targets:
    """Local HTTP targets and how often each path was requested."""

    base: str
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """Return the URL of a path on the target server."""
        return f"{self.base}{path}"


@asynccontextmanager
async def http_targets(slow_seconds: float = 3.0) -> AsyncIterator[Targets]:
    """Serve /up (200), /down (503), /slow (200 after slow_seconds) and /ok/* on loopback."""
    port = free_port()
    targets = Targets(base=f"http://127.0.0.1:{port}")

    async def handle(request: web.Request) -> web.Response:
        path = request.path
        targets.hits[path] = targets.hits.get(path, 0) + 1
        if path == "/down":
            return web.Response(status=503, text="down")
        if path.startswith("/slow"):
            await asyncio.sleep(slow_seconds)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield targets
    finally:
        await runner.cleanup()
