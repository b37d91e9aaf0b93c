"""Fast fills in SQL (generate_series), so setting up 100,000 websites takes seconds."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg

from betteruptime.db import partitions
from betteruptime.queue.base import CheckJob


async def add_users(conn: asyncpg.Connection, count: int) -> list[uuid.UUID]:
    """Insert count users (unusable password hashes) and return their ids in order."""
    rows = await conn.fetch(
        """
        INSERT INTO users (id, username, email, password_hash, tokens_valid_after, created_at)
        SELECT gen_random_uuid(), 'bench' || i, 'bench' || i || '@example.com', 'x',
               now() - interval '1 day', now()
        FROM generate_series(1, $1) AS i
        RETURNING id, username
        """,
        count,
    )
    ordered = sorted(rows, key=lambda r: int(r["username"].removeprefix("bench")))
    return [r["id"] for r in ordered]


async def add_websites(
    conn: asyncpg.Connection,
    owners: list[uuid.UUID],
    base_url: str,
    count: int,
    *,
    interval: int,
    timeout: int,
    first_due: datetime,
    spread_seconds: float = 0.0,
) -> None:
    """Insert count websites of base_url/w/N, owners round-robin, due spread over a window.

    Each website gets its own path because a user may monitor a URL only once.
    """
    await conn.execute(
        """
        INSERT INTO website (id, owner_id, url, name, interval_seconds, timeout_seconds,
                             enabled, created_at, next_check_at, badge_key)
        SELECT gen_random_uuid(), ($1::uuid[])[1 + (i % cardinality($1::uuid[]))],
               $2 || '/w/' || i, NULL, $3, $4, true, now() + make_interval(secs => i / 1e6),
               $5::timestamptz + make_interval(secs => $6 * i / $7::float8),
               left(replace(gen_random_uuid()::text, '-', ''), 24)
        FROM generate_series(0, $7 - 1) AS i
        """,
        owners,
        base_url,
        interval,
        timeout,
        first_due,
        spread_seconds,
        count,
    )


async def jobs_for_all(
    conn: asyncpg.Connection, *, deadline_seconds: float = 3600.0
) -> list[CheckJob]:
    """Return one job per website, scheduled now, as the pusher would enqueue it."""
    now = datetime.now(UTC)
    rows = await conn.fetch(
        "SELECT id, url, timeout_seconds, interval_seconds FROM website ORDER BY url"
    )
    return [
        CheckJob(
            website_id=r["id"],
            url=r["url"],
            timeout_seconds=float(r["timeout_seconds"]),
            interval_seconds=r["interval_seconds"],
            scheduled_at=now,
            deadline=now + timedelta(seconds=deadline_seconds),
        )
        for r in rows
    ]


async def add_ticks(
    conn: asyncpg.Connection, region_id: str, per_website: int, *, start: int = 0
) -> int:
    """Insert per_website history ticks for every website (one second apart); return rows.

    Rounds go oldest first, each in website order, as the batch writers write them.
    """
    region_ref = await conn.fetchval("SELECT ref FROM region WHERE id = $1", region_id)
    days = await conn.fetchval(
        "SELECT ceil(($1::int + $2::int) / 86400.0)::int + 1", start, per_website
    )
    today = datetime.now(UTC).date()
    await create_partitions_on(conn, [today - timedelta(days=n) for n in range(days)])
    inserted = 0
    chunk = 100
    # Newest first by offset g means oldest first in time: g counts seconds back.
    offsets = list(range(start, start + per_website))[::-1]
    for i in range(0, len(offsets), chunk):
        part = offsets[i : i + chunk]
        status = await conn.execute(
            """
            INSERT INTO website_tick (scheduled_at, website_ref, delay_ms, response_time_ms,
                                      error_id, region_ref, status, status_code)
            SELECT now() - make_interval(secs => g), w.ref, 5, 3, NULL, $1, 0, 200
            FROM unnest($2::int[]) WITH ORDINALITY AS o(g, n), website w
            ORDER BY o.n, w.ref
            """,
            region_ref,
            part,
        )
        inserted += int(status.split()[-1])
    return inserted


async def create_partitions_on(conn: asyncpg.Connection, days: list[date]) -> None:
    """Create the tick partitions of days (a no-op for days that have one)."""
    for day in days:
        async with conn.transaction():
            for statement in partitions.create_statements(day):
                await conn.execute(statement)


async def add_region_and_status(conn: asyncpg.Connection, region_id: str) -> None:
    """Insert the region and one fresh website_status row per website."""
    await conn.execute(
        "INSERT INTO region (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", region_id
    )
    await conn.execute(
        """
        INSERT INTO website_status (website_id, region_id, status, status_code,
                                    response_time_ms, error, checked_at, changed_at,
                                    streak, streak_started_at)
        SELECT id, $1, 'UP', 200, 3, NULL, now(), now() - interval '1 day',
               2880, now() - interval '1 day'
        FROM website
        ON CONFLICT DO NOTHING
        """,
        region_id,
    )
