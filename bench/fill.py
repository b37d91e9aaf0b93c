"""Fast fills in SQL (generate_series), so setting up 100,000 websites takes seconds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

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

    The rows are consistent by construction (every website and the region exist), so the
    foreign-key triggers are skipped where allowed (superuser): queued per row until the
    end of the statement, they made a 10-million-row fill take minutes longer.
    """
    inserted = 0
    chunk = 100
    for first in range(start, start + per_website, chunk):
        count = min(chunk, start + per_website - first)
        async with conn.transaction():
            try:
                async with conn.transaction():
                    await conn.execute("SET LOCAL session_replication_role = replica")
            except asyncpg.InsufficientPrivilegeError:
                pass  # not a superuser: the triggers run, the fill is only slower
            status = await conn.execute(
                """
                INSERT INTO website_tick (website_id, region_id, status, status_code,
                                          response_time_ms, error, scheduled_at, checked_at,
                                          message_id)
                SELECT w.id, $1, 'UP', 200, 3, NULL,
                       now() - make_interval(secs => g), now() - make_interval(secs => g),
                       w.id::text || '-' || g
                FROM website w, generate_series($2::int, $2::int + $3::int - 1) AS g
                """,
                region_id,
                first,
                count,
            )
        inserted += int(status.split()[-1])
    return inserted


async def add_region_and_status(conn: asyncpg.Connection, region_id: str) -> None:
    """Insert the region and one fresh website_status row per website."""
    await conn.execute(
        "INSERT INTO region (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", region_id
    )
    await conn.execute(
        """
        INSERT INTO website_status (website_id, region_id, status, status_code,
                                    response_time_ms, error, checked_at, changed_at)
        SELECT id, $1, 'UP', 200, 3, NULL, now(), now() - interval '1 day' FROM website
        ON CONFLICT DO NOTHING
        """,
        region_id,
    )
