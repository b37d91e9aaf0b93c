"""Benchmark 8: raw tick storage on PostgreSQL.

Bytes per tick on disk (heap, index, free-space and visibility maps of every partition,
plus tick_error) for a day of ticks written in time order as workers write them, before
and after housekeeping packs the closed day; then the time to drop a whole expired day
while batch writers keep writing, and their throughput during the drop against before,
once with DETACH ... CONCURRENTLY and once with a plain DROP.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from bench.env import backends
from bench.fill import add_users, add_websites
from bench.results import Figure
from betteruptime.db import partitions
from betteruptime.db.retention import (
    RetentionConfig,
    compact_closed_partitions,
    drop_expired_ticks,
)
from betteruptime.db.ticks import TickRow, register_region, write_ticks
from betteruptime.rules.status import Status

BYTES_TARGET = 100
DROP_SECONDS_TARGET = 1.0
THROUGHPUT_TARGET = 0.9
WRITE_REGION = "live"


@dataclass(frozen=True)
class Sizes:
    """Websites and regions of the filled days, and how the writers run."""

    websites: int = 3_500
    regions: int = 2
    # 1,440 rounds: one day at a 60 s interval. 3,500 x 2 x 1,440 = 10.08 M ticks.
    rounds: int = 1_440
    # The day dropped with a plain DROP (the other one is the measured day above).
    drop_rounds: int = 720
    writers: int = 4
    writer_batch: int = 500
    window_seconds: float = 5.0


QUICK = Sizes(websites=50, regions=2, rounds=100, drop_rounds=50, window_seconds=1.0)


async def _fill_day(
    conn: asyncpg.Connection, day: date, region_refs: list[int], rounds: int
) -> int:
    """Write rounds of every website and region into day's partition, in time order."""
    name = partitions.partition_name(day)
    start = partitions.day_start(day)
    step = max(1, 86_400 // max(rounds, 1))
    total = 0
    chunk = 20
    for first in range(0, rounds, chunk):
        count = min(chunk, rounds - first)
        # Round after round, each in website and region order: the order in which the
        # batch writers' sorted batches reach the index, so the page fill is realistic.
        status = await conn.execute(
            f"""
            INSERT INTO {name} (scheduled_at, website_ref, delay_ms, response_time_ms,
                                error_id, region_ref, status, status_code)
            SELECT $1::timestamptz + make_interval(secs => g * $4 + w.ref * 0.001),
                   w.ref, 40 + (w.ref % 50), 20 + (w.ref % 200),
                   NULL, r, 0, 200
            FROM generate_series($2::int, $2::int + $3::int - 1) AS g,
                 website w, unnest($5::int2[]) AS r
            ORDER BY g, w.ref, r
            """,  # noqa: S608 - a partition name made from a date
            start,
            first,
            count,
            step,
            region_refs,
        )
        total += int(status.split()[-1])
    return total


async def _tick_bytes(conn: asyncpg.Connection, day: date) -> dict[str, float]:
    """Return bytes of day's partition (heap, index, all forks) and of tick_error."""
    name = partitions.partition_name(day)
    row = await conn.fetchrow(
        """
        SELECT pg_total_relation_size($1::regclass) AS total,
               pg_relation_size($1::regclass) AS heap,
               pg_indexes_size($1::regclass) AS index,
               pg_total_relation_size('tick_error') AS errors
        """,
        name,
    )
    return {k: float(row[k]) for k in ("total", "heap", "index", "errors")}


class Writers:
    """Batch writers writing today's ticks in a loop, counting rows and slowest write."""

    def __init__(self, engine: Any, ids: list[uuid.UUID], sizes: Sizes) -> None:
        self.engine = engine
        self.ids = ids
        self.sizes = sizes
        self.rows = 0
        self.slowest = 0.0
        self.stop = asyncio.Event()
        self._round = 0

    def _batch(self) -> list[TickRow]:
        self._round += 1
        base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
        slot = base + timedelta(microseconds=self._round)
        picked = [
            self.ids[(self._round * 7 + i) % len(self.ids)] for i in range(self.sizes.writer_batch)
        ]
        return [
            TickRow(
                website_id=wid,
                status=Status.UP,
                status_code=200,
                response_time_ms=20,
                error=None,
                scheduled_at=slot,
                checked_at=slot + timedelta(milliseconds=40),
            )
            for wid in dict.fromkeys(picked)
        ]

    async def _one(self) -> None:
        while not self.stop.is_set():
            batch = self._batch()
            started = time.perf_counter()
            result = await write_ticks(self.engine, WRITE_REGION, batch)
            self.slowest = max(self.slowest, time.perf_counter() - started)
            self.rows += result.inserted

    async def rate(self, seconds: float) -> tuple[float, float]:
        """Return rows/s over the next seconds and the slowest write meanwhile."""
        rows, self.slowest = self.rows, 0.0
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        return (self.rows - rows) / (time.perf_counter() - started), self.slowest

    def start(self) -> list[asyncio.Task[None]]:
        """Start the writer tasks."""
        return [asyncio.create_task(self._one()) for _ in range(self.sizes.writers)]


async def _drop_while_writing(
    writers: Writers, engine: Any, now: datetime, config: RetentionConfig, window: float
) -> dict[str, float]:
    before, slowest_before = await writers.rate(window)
    rate_task = asyncio.create_task(writers.rate(window))
    started = time.perf_counter()
    expired = await drop_expired_ticks(engine, now, config)
    seconds = time.perf_counter() - started
    during, slowest_during = await rate_task
    if len(expired.partitions_dropped) != 1:
        raise RuntimeError(f"expected one partition dropped, got {expired.partitions_dropped}")
    return {
        "drop_seconds": seconds,
        "rows_per_second_before": before,
        "rows_per_second_during": during,
        "slowest_write_before_s": slowest_before,
        "slowest_write_during_s": slowest_during,
    }


async def run(sizes: Sizes) -> list[Figure]:
    """Return bytes per tick (packed and as written) and the drop figures of both ways."""
    async with backends("storage") as b:
        conn = await b.pg()
        try:
            owners = await add_users(conn, max(1, sizes.websites // 100))
            await add_websites(
                conn,
                owners,
                "http://127.0.0.1:9",
                sizes.websites,
                interval=60,
                timeout=5,
                first_due=datetime.now(UTC) + timedelta(days=1),
            )
            region_refs = []
            for n in range(sizes.regions):
                await register_region(b.engine, f"r{n}")
                region_refs.append(
                    await conn.fetchval("SELECT ref FROM region WHERE id = $1", f"r{n}")
                )
            await register_region(b.engine, WRITE_REGION)
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM website ORDER BY ref")]
            today = datetime.now(UTC).date()
            measured_day = today - timedelta(days=2)
            plain_day = today - timedelta(days=3)
            await partitions.create_partitions(b.engine, [plain_day, measured_day])

            started = time.monotonic()
            ticks = await _fill_day(conn, measured_day, region_refs, sizes.rounds)
            fill_seconds = time.monotonic() - started
            await conn.execute(f"VACUUM {partitions.partition_name(measured_day)}")
            written = await _tick_bytes(conn, measured_day)
            # Housekeeping's own step packs the closed day (today's stays as written).
            started = time.monotonic()
            await compact_closed_partitions(b.engine, datetime.now(UTC), RetentionConfig())
            compact_seconds = time.monotonic() - started
            packed = await _tick_bytes(conn, measured_day)
            plain_ticks = await _fill_day(conn, plain_day, region_refs, sizes.drop_rounds)
        finally:
            await conn.close()

        writers = Writers(b.engine, ids, sizes)
        tasks = writers.start()
        try:
            await asyncio.sleep(min(1.0, sizes.window_seconds))  # warm-up
            now = datetime.now(UTC)
            # One day of retention a day ago: only plain_day has expired.
            plain = await _drop_while_writing(
                writers,
                b.engine,
                now - timedelta(days=1),
                RetentionConfig(tick_retention_days=1, detach_concurrently=False),
                sizes.window_seconds,
            )
            # Now measured_day has expired too.
            concurrent = await _drop_while_writing(
                writers,
                b.engine,
                now,
                RetentionConfig(tick_retention_days=1),
                sizes.window_seconds,
            )
        finally:
            writers.stop.set()
            await asyncio.gather(*tasks)

    per_tick = (packed["total"] + packed["errors"]) / ticks
    as_written = (written["total"] + written["errors"]) / ticks
    details = {
        "ticks": ticks,
        "fill_seconds": round(fill_seconds, 1),
        "compact_seconds": round(compact_seconds, 1),
        "heap_bytes_per_tick": round(packed["heap"] / ticks, 1),
        "index_bytes_per_tick_packed": round(packed["index"] / ticks, 1),
        "index_bytes_per_tick_as_written": round(written["index"] / ticks, 1),
        "websites": sizes.websites,
        "regions": sizes.regions,
    }
    figures = [
        Figure(
            benchmark="8 storage",
            name=f"raw ticks on disk per tick, closed day packed ({ticks:,} ticks)",
            value=per_tick,
            unit="B",
            target=f"<= {BYTES_TARGET} B",
            met=per_tick <= BYTES_TARGET,
            details=details,
        ),
        Figure(
            benchmark="8 storage",
            name=f"raw ticks on disk per tick, day as written ({ticks:,} ticks)",
            value=as_written,
            unit="B",
            target="reported (today's partition until it is packed)",
            met=None,
            details=details,
        ),
    ]
    for label, found, dropped in (
        ("DETACH CONCURRENTLY + DROP", concurrent, ticks),
        ("plain DROP", plain, plain_ticks),
    ):
        ratio = found["rows_per_second_during"] / found["rows_per_second_before"]
        rounded = {k: round(v, 3) for k, v in found.items()}
        figures.append(
            Figure(
                benchmark="8 storage",
                name=f"drop a day of {dropped:,} ticks while writing ({label}), s",
                value=found["drop_seconds"],
                unit="s",
                target=f"< {DROP_SECONDS_TARGET:.0f} s",
                met=found["drop_seconds"] < DROP_SECONDS_TARGET,
                details={**rounded, "writers": sizes.writers},
            )
        )
        figures.append(
            Figure(
                benchmark="8 storage",
                name=f"tick writes/s during the drop ({label})",
                value=found["rows_per_second_during"],
                unit="/s",
                target=f">= {THROUGHPUT_TARGET} x before",
                met=ratio >= THROUGHPUT_TARGET,
                baseline=found["rows_per_second_before"],
                baseline_name="before the drop",
                ratio=ratio,
                details={**rounded, "writers": sizes.writers},
            )
        )
    return figures
