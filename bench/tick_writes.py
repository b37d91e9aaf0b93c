"""Benchmark 2: the worker's batch tick writer against one INSERT per tick, rows per second."""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.env import backends
from bench.fill import add_users, add_websites
from bench.results import Figure
from betteruptime.db.ticks import (
    SPLIT_FROM_ROWS,
    HeldConnections,
    TickRow,
    delay_ms,
    register_region,
    write_ticks,
)
from betteruptime.rules.status import Status

TARGET_FACTOR = 20.0

# One statement and one implicit transaction per tick, prepared once, with the website
# and region refs already known: the fastest form of one INSERT per tick into the same
# table, so the ratio is not flattered by a slow baseline.
_ONE_ROW = """
INSERT INTO website_tick (scheduled_at, website_ref, delay_ms, response_time_ms, error_id,
                          region_ref, status, status_code)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""


@dataclass(frozen=True)
class Sizes:
    """Rows written by each method, and the batch size of the writer."""

    websites: int = 10_000
    batch_rows: int = 200_000
    single_rows: int = 10_000
    batch_size: int = 500
    # Also measured: the largest batch WORKER_BATCH_SIZE is commonly raised to.
    large_batch_size: int = 2000


QUICK = Sizes(websites=200, batch_rows=2_000, single_rows=200, large_batch_size=1000)


def _rows(website_ids: list[uuid.UUID], count: int) -> list[TickRow]:
    """Return count results, round after round of every website, one minute apart."""
    start = datetime.now(UTC) - timedelta(hours=1)
    rows = []
    for i in range(count):
        round_, n = divmod(i, len(website_ids))
        scheduled = start + timedelta(seconds=60 * round_, microseconds=n)
        rows.append(
            TickRow(
                website_id=website_ids[n],
                status=Status.UP if i % 10 else Status.DOWN,
                status_code=200 if i % 10 else 503,
                response_time_ms=3,
                error=None if i % 10 else "status 503",
                scheduled_at=scheduled,
                checked_at=scheduled + timedelta(milliseconds=40),
            )
        )
    return rows


async def run(sizes: Sizes) -> list[Figure]:
    """Return rows/s of the batch writer with the one-row baseline of the same run."""
    async with backends("ticks") as b:
        conn = await b.pg()
        try:
            owners = await add_users(conn, 10)
            await add_websites(
                conn,
                owners,
                "http://127.0.0.1:9",
                sizes.websites,
                interval=60,
                timeout=5,
                first_due=datetime.now(UTC) + timedelta(days=1),
            )
            websites = await conn.fetch("SELECT id, ref FROM website ORDER BY ref")
            ids = [r["id"] for r in websites]
            refs = {r["id"]: r["ref"] for r in websites}
            await register_region(b.engine, "single")
            region_ref = await conn.fetchval("SELECT ref FROM region WHERE id = 'single'")
            error_id = await conn.fetchval(
                "INSERT INTO tick_error (text) VALUES ('status 503') RETURNING id"
            )

            single = _rows(ids, sizes.single_rows)
            statement = await conn.prepare(_ONE_ROW)

            async def one_by_one(rows: list[TickRow]) -> float:
                started = time.perf_counter()
                for r in rows:
                    await statement.fetch(
                        r.scheduled_at,
                        refs[r.website_id],
                        delay_ms(r),
                        r.response_time_ms,
                        error_id if r.error else None,
                        region_ref,
                        0 if r.status is Status.UP else 1,
                        r.status_code,
                    )
                return len(rows) / (time.perf_counter() - started)

            single_rate = await one_by_one(single)
            # The same without waiting for the WAL flush of each commit: when other work
            # keeps the disk busy, fsync dominates the baseline and flatters the ratio;
            # this one is bound by per-statement work only (reported, not the target).
            await conn.execute("SET synchronous_commit = off")
            later = [
                dataclasses.replace(r, scheduled_at=r.scheduled_at + timedelta(minutes=30))
                for r in single
            ]
            no_flush_rate = await one_by_one(later)
        finally:
            await conn.close()

        async def batch_rate(region: str, size: int, split_from: int) -> float:
            await register_region(b.engine, region)
            batch = _rows(ids, sizes.batch_rows)
            # Connections kept between batches, as the worker's writer keeps them.
            held = HeldConnections(b.engine)
            try:
                started = time.perf_counter()
                for i in range(0, len(batch), size):
                    await write_ticks(
                        b.engine, region, batch[i : i + size], split_from=split_from, held=held
                    )
                rate = len(batch) / (time.perf_counter() - started)
            finally:
                await held.close()
            conn = await b.pg()
            try:
                stored = await conn.fetchval(
                    "SELECT count(*) FROM website_tick t JOIN region r ON r.ref = t.region_ref "
                    "WHERE r.id = $1",
                    region,
                )
            finally:
                await conn.close()
            if stored != len(batch):
                raise RuntimeError(f"batch writer stored {stored} of {len(batch)} rows")
            return rate

        rates: dict[int, float] = {}
        one_connection: dict[int, float] = {}
        for size in dict.fromkeys((sizes.batch_size, sizes.large_batch_size)):
            rates[size] = await batch_rate(f"batch{size}", size, SPLIT_FROM_ROWS)
            # The same batches each as one statement on one connection (reported, not the
            # target): what the writer's split into two halves at once adds.
            one_connection[size] = await batch_rate(f"one{size}", size, size + 1)

    return [
        Figure(
            benchmark="2 tick writes",
            name=f"batch writer ({size}/batch in two halves at once, + website_status), rows/s",
            value=rate,
            unit="/s",
            target=f">= {TARGET_FACTOR:.0f} x one INSERT per tick",
            met=rate / single_rate >= TARGET_FACTOR,
            baseline=single_rate,
            baseline_name="one INSERT per tick",
            ratio=rate / single_rate,
            details={
                "batch_rows": sizes.batch_rows,
                "single_rows": len(single),
                "one_insert_per_tick_without_commit_flush_per_s": round(no_flush_rate),
                "ratio_to_one_insert_without_commit_flush": round(rate / no_flush_rate, 2),
                "one_statement_on_one_connection_per_s": round(one_connection[size]),
                "ratio_of_one_statement_to_one_insert": round(
                    one_connection[size] / single_rate, 2
                ),
            },
        )
        for size, rate in rates.items()
    ]
