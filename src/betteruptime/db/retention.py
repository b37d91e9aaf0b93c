"""Housekeeping of raw ticks: partitions made ahead, expired ticks removed, closed days packed.

PostgreSQL drops whole daily partitions, so expiring a day of millions of ticks is a
catalog change, not millions of deletes. SQLite has no partitions: it deletes in small
batches, committing between them, so the worker's writes interleave.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from betteruptime.db import partitions
from betteruptime.db.models import UTCDateTime

# Session-level advisory locks, one per job: with several pushers, one drops or compacts
# while the others skip the round instead of queueing DDL behind each other.
_DROP_LOCK = (727_004, 1)
_COMPACT_LOCK = (727_004, 2)
# A mark on a compacted partition's primary-key index, so it is packed only once.
COMPACTED = "compacted"


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """How long raw ticks live and how housekeeping treats their storage."""

    tick_retention_days: int = 30
    # Partitions made this many days ahead of today (today's is always made).
    partitions_ahead_days: int = 3
    # SQLite: rows per DELETE statement; each one commits before the next.
    sqlite_delete_batch: int = 10_000
    # A day is packed this long after it ended: late results land first.
    compact_after: timedelta = timedelta(hours=1)
    # Detach concurrently (never blocks writers) or drop the partition in one statement.
    detach_concurrently: bool = True
    # How long a DROP may wait for its lock before giving up until the next round: a
    # DROP waiting behind a long query would otherwise hold up every writer queued after it.
    lock_timeout_ms: int = 2000


@dataclass(frozen=True, slots=True)
class Expired:
    """What one retention run removed."""

    partitions_dropped: list[str]
    rows_deleted: int


def cutoff(now: datetime, config: RetentionConfig) -> datetime:
    """Return the instant before which raw ticks are expired."""
    return now - timedelta(days=config.tick_retention_days)


async def create_partitions_ahead(
    engine: AsyncEngine, now: datetime, config: RetentionConfig
) -> list[str]:
    """Create today's partition and the next ones that are missing; return their names."""
    if engine.dialect.name != "postgresql":
        return []
    today = partitions.utc_day(now)
    wanted = partitions.days_between(today, today + timedelta(days=config.partitions_ahead_days))
    have = {p.day for p in await partitions.list_partitions(engine) if p.attached}
    missing = [day for day in wanted if day not in have]
    await partitions.create_partitions(engine, missing)
    return [partitions.partition_name(day) for day in missing]


async def drop_expired_ticks(
    engine: AsyncEngine, now: datetime, config: RetentionConfig
) -> Expired:
    """Remove ticks scheduled before the retention cutoff; return what went.

    PostgreSQL: drops each partition whose whole day is older than the cutoff (ticks of
    the partly expired day stay until the day is whole). SQLite: deletes in batches.
    """
    if engine.dialect.name != "postgresql":
        return Expired([], await _delete_in_batches(engine, cutoff(now, config), config))
    expired = [
        p
        for p in await partitions.list_partitions(engine)
        if partitions.day_start(p.day) + timedelta(days=1) <= cutoff(now, config)
    ]
    if not expired:
        return Expired([], 0)
    dropped = []
    async with _autocommit(engine) as conn:
        if not await _try_lock(conn, _DROP_LOCK):
            return Expired([], 0)
        try:
            await conn.exec_driver_sql(f"SET lock_timeout = {int(config.lock_timeout_ms)}")
            for p in expired:
                await _drop(conn, p, config)
                dropped.append(p.name)
        finally:
            # A statement cancelled by a stop invalidates the connection: SQLAlchemy closes
            # it rather than pool it, ending the session and with it the lock and the
            # setting. Cleaning up then would only raise and hide the cancellation.
            if not conn.invalidated:
                # The connection goes back to the pool: other users must not inherit this.
                await conn.exec_driver_sql("RESET lock_timeout")
                await _unlock(conn, _DROP_LOCK)
    return Expired(dropped, 0)


async def _drop(conn: AsyncConnection, p: partitions.Partition, config: RetentionConfig) -> None:
    parent = partitions.PARENT
    if p.attached and p.detach_pending:
        # A detach interrupted midway (its process died): finish it.
        await conn.exec_driver_sql(f"ALTER TABLE {parent} DETACH PARTITION {p.name} FINALIZE")
    elif p.attached and config.detach_concurrently:
        # Two transactions that wait for queries using the partition to end, taking only
        # SHARE UPDATE EXCLUSIVE on the parent: writers to other days never wait.
        await conn.exec_driver_sql(f"ALTER TABLE {parent} DETACH PARTITION {p.name} CONCURRENTLY")
    # Detached (or, without detach_concurrently, still attached: then this DROP takes
    # ACCESS EXCLUSIVE on the parent for the few milliseconds of the catalog change).
    await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {p.name}")


async def _delete_in_batches(engine: AsyncEngine, before: datetime, config: RetentionConfig) -> int:
    # rowid order is insertion order, so old rows come first and each batch stops early.
    statement = text(
        "DELETE FROM website_tick WHERE rowid IN (SELECT rowid FROM website_tick "
        "WHERE scheduled_at < :before ORDER BY rowid LIMIT :batch)"
    ).bindparams(bindparam("before", type_=UTCDateTime()))
    total = 0
    while True:
        async with engine.begin() as conn:
            result = await conn.execute(
                statement, {"before": before, "batch": config.sqlite_delete_batch}
            )
        deleted = max(result.rowcount, 0)
        total += deleted
        if deleted < config.sqlite_delete_batch:
            return total
        await asyncio.sleep(0)  # the write lock is free between batches: let writers in


@dataclass(frozen=True, slots=True)
class Compacted:
    """What one packing run did."""

    partitions: list[str]
    # Invalid indexes an interrupted REINDEX CONCURRENTLY had left behind.
    leftovers_dropped: list[str]


# Indexes REINDEX CONCURRENTLY left on attached tick partitions when it was cancelled or
# failed: the new copy (`…_ccnew`, before the swap) or the old index (`…_ccold`, after
# it), both invalid. Writers keep updating an invalid index while nothing reads it, and
# a second REINDEX makes one more copy beside it. Only REINDEX names indexes so.
LEFTOVERS_SQL = f"""
SELECT i.relname
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_inherits h ON h.inhrelid = x.indrelid AND h.inhparent = '{partitions.PARENT}'::regclass
WHERE NOT x.indisvalid AND i.relname ~ '_cc(new|old)[0-9]*$'
ORDER BY i.relname
"""  # noqa: S608 - built from constants, no input


async def compact_closed_partitions(
    engine: AsyncEngine, now: datetime, config: RetentionConfig
) -> Compacted:
    """Rebuild the index of each closed day once, packed full; return what was done.

    Inserts that append to many websites' ranges at once leave index pages about 70 %
    full; a closed day receives no more inserts, so its index is rebuilt at 100 %. REINDEX
    CONCURRENTLY blocks neither reads nor the odd late write. Leftovers of a run that was
    interrupted (a stop cancels it mid-statement) are dropped first.
    """
    if engine.dialect.name != "postgresql":
        return Compacted([], [])
    oldest_kept = cutoff(now, config)
    closed = [
        p
        for p in await partitions.list_partitions(engine)
        if p.attached
        and not p.compacted
        and partitions.day_start(p.day) + timedelta(days=1) + config.compact_after <= now
        and partitions.day_start(p.day) + timedelta(days=1) > oldest_kept
    ]
    done: list[str] = []
    async with _autocommit(engine) as conn:
        # Under the lock only: another process's REINDEX in progress has the same
        # invalid `_ccnew` index, and dropping it would make that REINDEX fail.
        if not await _try_lock(conn, _COMPACT_LOCK):
            return Compacted([], [])
        try:
            leftovers = list((await conn.exec_driver_sql(LEFTOVERS_SQL)).scalars())
            for index in leftovers:
                await conn.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {index}")
            for p in closed:
                index = f"{p.name}_pkey"
                await conn.exec_driver_sql(f"REINDEX INDEX CONCURRENTLY {index}")
                # Interrupted between the two, the day is simply packed again next time.
                await conn.exec_driver_sql(f"COMMENT ON INDEX {index} IS '{COMPACTED}'")
                done.append(p.name)
        finally:
            if not conn.invalidated:  # else the lock ended with the session (see above)
                await _unlock(conn, _COMPACT_LOCK)
    return Compacted(done, leftovers)


class _autocommit:
    """A connection outside any transaction (DETACH CONCURRENTLY and REINDEX need it)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> AsyncConnection:
        self._conn = await self._engine.connect()
        return await self._conn.execution_options(isolation_level="AUTOCOMMIT")

    async def __aexit__(self, *exc: object) -> None:
        assert self._conn is not None
        await self._conn.close()


async def _try_lock(conn: AsyncConnection, key: tuple[int, int]) -> bool:
    result = await conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({key[0]}, {key[1]})")
    return bool(result.scalar())


async def _unlock(conn: AsyncConnection, key: tuple[int, int]) -> None:
    await conn.exec_driver_sql(f"SELECT pg_advisory_unlock({key[0]}, {key[1]})")
