"""Arranging rows for page tests: websites and their latest region states, in the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, select

from betteruptime.db.models import Incident, Region, User, Website, WebsiteStatus
from betteruptime.rules.status import Status
from tests.api.conftest import Api


async def user_id(api: Api, username: str) -> uuid.UUID:
    """Return the id of a registered user."""
    async with api.session() as session:
        found = await session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


async def add_websites(
    api: Api,
    owner: uuid.UUID,
    count: int,
    *,
    statuses: list[Status] | None = None,
    name: str = "site",
) -> list[uuid.UUID]:
    """Insert websites (and, when given, a fresh state per website in region `local`, and an
    open incident for each DOWN one)."""
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in range(count)]
    async with api.session() as session:
        if await session.get(Region, "local") is None:
            session.add(Region(id="local", name="local"))
            await session.flush()
        await session.execute(
            insert(Website),
            [
                {
                    "id": website_id,
                    "owner_id": owner,
                    "url": f"https://{name}-{i}.example.com/",
                    "name": f"{name} {i}",
                    "interval_seconds": 60,
                    "timeout_seconds": 10,
                    "enabled": True,
                    "created_at": now + timedelta(microseconds=i),
                    "next_check_at": now + timedelta(hours=1),
                }
                for i, website_id in enumerate(ids)
            ],
        )
        if statuses:
            await session.execute(
                insert(WebsiteStatus),
                [
                    {
                        "website_id": website_id,
                        "region_id": "local",
                        "status": statuses[i % len(statuses)],
                        "status_code": 200 if statuses[i % len(statuses)] is Status.UP else 503,
                        "response_time_ms": 100 + i,
                        "error": None,
                        "checked_at": now - timedelta(seconds=5),
                        "changed_at": now - timedelta(hours=1),
                    }
                    for i, website_id in enumerate(ids)
                ],
            )
            # A website is DOWN exactly while an incident is open: give each DOWN one its
            # incident, as the alerter would have.
            down = [w for i, w in enumerate(ids) if statuses[i % len(statuses)] is Status.DOWN]
            if down:
                await session.execute(
                    insert(Incident),
                    [
                        {
                            "id": uuid.uuid4(),
                            "website_id": website_id,
                            "state": "open",
                            "started_at": now - timedelta(minutes=5),
                            "detected_at": now - timedelta(minutes=4),
                            "cause": {},
                        }
                        for website_id in down
                    ],
                )
        await session.commit()
    return ids


@contextmanager
def counting_statements(api: Api) -> Iterator[list[str]]:
    """Yield a list that collects every SQL statement the app's engine runs meanwhile."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = api.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
