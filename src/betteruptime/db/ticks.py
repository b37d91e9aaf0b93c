"""Batch writes of check results (ticks plus the latest state per website and region),
and the reads and deletes of stored ticks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from betteruptime.db import partitions
from betteruptime.db.models import (
    TICK_STATUS_OF,
    Region,
    TickError,
    TickStatus,
    UTCDateTime,
    Website,
    WebsiteTick,
    checked_at_sql,
    status_of_tick,
)
from betteruptime.rules.checks import ERROR_MAX_LENGTH
from betteruptime.rules.incidents import (
    DEFAULT_CONFIRMATION_CHECKS,
    DEFAULT_RECHECK_SECONDS,
    DEFAULT_RECOVERY_CHECKS,
)
from betteruptime.rules.status import Status

# checked_at is stored as milliseconds after scheduled_at in an int4 column.
_DELAY_LIMIT_MS = 2**31 - 1


@dataclass(slots=True)  # not frozen: one per check, and frozen __init__ is slow
class TickRow:
    """One check result of one job, ready to store."""

    website_id: uuid.UUID
    status: Status
    status_code: int | None
    response_time_ms: int | None
    error: str | None
    # The job's slot: identical on every redelivery, so it is the deduplication key.
    scheduled_at: datetime
    checked_at: datetime
    # UP but slower than the website's threshold: stored as TickStatus.DEGRADED (read as UP).
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class StreakOptions:
    """Defaults of the incident thresholds and the recheck delay, as the writer needs them."""

    confirmation_checks: int = DEFAULT_CONFIRMATION_CHECKS
    recovery_checks: int = DEFAULT_RECOVERY_CHECKS
    recheck_seconds: float = DEFAULT_RECHECK_SECONDS


@dataclass(frozen=True, slots=True)
class WriteResult:
    """How many ticks were new (not redeliveries) and how many status rows changed."""

    inserted: int
    status_updated: int


@dataclass(frozen=True, slots=True)
class TickView:
    """A stored tick as the API shows it: ids and texts instead of refs."""

    region_id: str
    status: Status
    status_code: int | None
    response_time_ms: int | None
    error: str | None
    scheduled_at: datetime
    checked_at: datetime


_ONE_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def delay_ms(row: TickRow) -> int:
    """Return checked_at - scheduled_at in whole milliseconds, clamped to the column."""
    # Integer arithmetic (half a millisecond rounds up): twice as fast as round() of a
    # float division, and this runs once per tick.
    ms = ((row.checked_at - row.scheduled_at) // _ONE_US + 500) // 1000
    return max(-_DELAY_LIMIT_MS, min(_DELAY_LIMIT_MS, ms))


def _error(value: str | None) -> str | None:
    return value[:ERROR_MAX_LENGTH] if value is not None else None


# Plain ints: looked up once per tick.
_STORED_STATUS = {status: tick.value for status, tick in TICK_STATUS_OF.items()}
_DOWN = TickStatus.DOWN.value
_DEGRADED = TickStatus.DEGRADED.value


def _tick_status(row: TickRow) -> int:
    """Return the stored status code: DEGRADED for an UP result slower than its threshold."""
    if row.degraded and row.status is Status.UP:
        return _DEGRADED
    return _STORED_STATUS.get(row.status, _DOWN)


def _status_code(value: int | None) -> int | None:
    # smallint column; anything outside HTTP's range is not a status code worth keeping.
    return value if value is not None and 0 <= value <= 32767 else None


# One statement, so one round trip and one implicit transaction: ticks, new error texts
# and website_status are written together or not at all.
# - Websites are joined by id (their primary key), which turns ids into refs and drops
#   rows of websites deleted meanwhile. FOR KEY SHARE (what a foreign key check takes)
#   orders this write against a website's deletion: the deletion waits for this commit
#   and then deletes these ticks too, or this write waits for the deletion and skips the
#   row. Without it a tick written during a deletion would outlive its website. The
#   region's ref is one InitPlan lookup.
# - Times arrive as integers, which cost the client half as much to encode as
#   timestamps: scheduled_at in microseconds since the epoch (exact, as the key needs),
#   checked_at as milliseconds after it (the tick's own form), so the status row's
#   checked_at is exactly its tick's.
# - Error texts missing from tick_error are inserted here. ON CONFLICT DO UPDATE (not DO
#   NOTHING) because a text another writer committed after this statement's snapshot
#   would otherwise come back neither from RETURNING nor from the snapshot's SELECT.
# - Ticks go in ordered by key; ON CONFLICT DO NOTHING on the primary key (website_ref,
#   region_ref, scheduled_at) drops redeliveries, and RETURNING names the ticks that are
#   new. Only those move website_status: a redelivered message (checked again, so with a
#   newer checked_at) changes no streak, which makes a retried batch idempotent too.
# - Status rows change by UPDATE, not by INSERT … ON CONFLICT DO UPDATE: an upsert probes
#   the index for a conflict and locks the row before updating it, which cost about as
#   much as the update itself. No index covers an updated column and the table keeps free
#   room in each page (0011_status_fillfactor), so the update is HOT: no index entry, one
#   small WAL record. Only a website's first tick in a region (no row yet) is inserted,
#   with the upsert kept for a row another writer inserts meanwhile. An older result
#   never overwrites a newer one.
#   An UPDATE's join locks rows in whatever order its plan reads them, so two writers of
#   one region updating overlapping websites could deadlock. They take turns instead:
#   each region has two lanes (a website's lane is the lowest bit of its id, as halves
#   are split) and a batch first takes the transaction lock of each lane it writes, in
#   lane order, before it locks any row. Writers of other regions never wait for it, nor
#   does a single tick (a lone heartbeat ping): it locks one status row, which cannot
#   deadlock.
#   The streak counts the newest new tick of the batch per website: a batch spans 200 ms
#   and a website is checked at most every few seconds, so two ticks of one website in
#   one batch happen only when a backlog is flushed, and then the streak undercounts
#   (confirmation takes a check longer, never shorter).
# - The same statement feeds the alerter: a website whose new state may open or close an
#   incident (any DOWN, or a streak not yet past its website's thresholds, read from the
#   website row already joined) is queued in `evaluation`; a website UP far past its
#   thresholds is not, so steady checks cost the alerter nothing. And a failure not yet
#   confirmed brings the website's next check forward to checked_at + recheck seconds
#   (never later than it was), so confirming costs seconds instead of whole intervals.
#   Both touch rows another region's worker may touch in the same instant; they go in
#   website_id order too, and a deadlock PostgreSQL still finds aborts one batch, which
#   its worker retries with its acks held.
# - A batch written on its own connection outside any transaction (the worker's) first
#   goes in as plain INSERTs: ON CONFLICT DO NOTHING costs every tick a conflict probe of
#   the primary key before its insert and a second WAL record to confirm it, about a
#   tenth of the statement, to catch redeliveries that steady operation does not have.
#   A redelivered tick then fails the whole statement (a unique violation, nothing
#   written) and the batch is written again with ON CONFLICT DO NOTHING, so the result
#   is the same. Inside a caller's transaction the failure would abort it, so there the
#   batch goes in with ON CONFLICT DO NOTHING at once.
_LANE_LOCK_CLASS = 727_005
# How many parameters the tick write takes ($1 to $12); a statement built on it with
# write_statement() numbers its own from TICK_PARAMETERS + 1.
TICK_PARAMETERS = 12


def write_statement(
    *, before: str = "", only: str = "", returning: str = "", dedup: bool = True
) -> str:
    """Return the tick write SQL, extended for a caller that writes its own rows with it."""
    # before: CTEs ahead of the tick write's own; only: a WHERE on its rows (u); returning:
    # more result columns. The caller's parameters start at TICK_PARAMETERS + 1. Without
    # dedup the ticks go in as plain INSERTs, and a tick stored before fails the statement.
    on_conflict = "ON CONFLICT DO NOTHING" if dedup else ""
    return f"""
WITH {before}u AS (
    SELECT u.*, timestamptz 'epoch' + u.scheduled_us * interval '1 microsecond' AS scheduled_at
    FROM unnest($1::uuid[], $2::int2[], $3::int2[], $4::int4[], $5::text[], $6::int8[],
                $7::int8[])
         AS u(website_id, status, status_code, response_time_ms, error, scheduled_us,
              delay_ms)
    {only}
), lanes AS (
    SELECT count(pg_advisory_xact_lock({_LANE_LOCK_CLASS},
                                       (SELECT ref FROM region WHERE id = $8) * 2 + lane))
    FROM unnest($12::int4[]) AS lane
), r AS (
    SELECT w.ref AS website_ref, w.confirmation_checks, w.recovery_checks, u.website_id,
           u.status, u.status_code, u.response_time_ms, u.error, u.scheduled_at,
           least(greatest(u.delay_ms, -2147483647), 2147483647)::int4 AS delay_ms,
           u.scheduled_at + u.delay_ms * interval '1 millisecond' AS checked_at
    FROM u JOIN website w ON w.id = u.website_id
    WHERE (SELECT count FROM lanes) >= 0  -- the lanes first: a one-time filter
    FOR KEY SHARE OF w
), new_errors AS (
    INSERT INTO tick_error (text)
    SELECT DISTINCT r.error FROM r
    WHERE r.error IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM tick_error e WHERE e.text = r.error)
    ORDER BY r.error
    ON CONFLICT (text) DO UPDATE SET text = EXCLUDED.text
    RETURNING id, text
), errors AS (
    SELECT id, text FROM new_errors
    UNION ALL
    SELECT id, text FROM tick_error
    WHERE text IN (SELECT error FROM r WHERE error IS NOT NULL)
), ins AS (
    INSERT INTO website_tick (scheduled_at, website_ref, delay_ms, response_time_ms,
                              error_id, region_ref, status, status_code)
    SELECT r.scheduled_at, r.website_ref, r.delay_ms, r.response_time_ms, e.id,
           (SELECT ref FROM region WHERE id = $8), r.status, r.status_code
    FROM r LEFT JOIN errors e ON e.text = r.error
    ORDER BY r.website_ref, r.scheduled_at
    {on_conflict}
    RETURNING website_ref, scheduled_at
), latest AS (
    SELECT DISTINCT ON (r.website_id) r.website_id,
           CASE WHEN r.status = 1 THEN 'DOWN' ELSE 'UP' END AS status,
           r.status_code, r.response_time_ms, r.error, r.checked_at,
           COALESCE(r.confirmation_checks, $9::int) AS confirm,
           COALESCE(r.recovery_checks, $10::int) AS recover
    FROM r JOIN ins USING (website_ref, scheduled_at)
    ORDER BY r.website_id, r.checked_at DESC
), updated AS (
    UPDATE website_status AS s SET
        status = l.status,
        status_code = l.status_code,
        response_time_ms = l.response_time_ms,
        error = l.error,
        checked_at = l.checked_at,
        changed_at = CASE WHEN s.status = l.status THEN s.changed_at ELSE l.checked_at END,
        streak = CASE WHEN s.status = l.status THEN s.streak + 1 ELSE 1 END,
        streak_started_at = CASE WHEN s.status = l.status THEN s.streak_started_at
                                 ELSE l.checked_at END
    FROM latest l
    WHERE s.website_id = l.website_id AND s.region_id = $8 AND s.checked_at < l.checked_at
    RETURNING s.website_id, s.status, s.streak, s.checked_at, l.confirm, l.recover
), added AS (
    INSERT INTO website_status AS s (website_id, region_id, status, status_code,
                                     response_time_ms, error, checked_at, changed_at,
                                     streak, streak_started_at)
    SELECT l.website_id, $8, l.status, l.status_code, l.response_time_ms, l.error,
           l.checked_at, l.checked_at, 1, l.checked_at
    FROM latest l
    WHERE l.website_id NOT IN (SELECT website_id FROM updated)
    ORDER BY l.website_id
    ON CONFLICT (website_id, region_id) DO UPDATE SET
        status = EXCLUDED.status,
        status_code = EXCLUDED.status_code,
        response_time_ms = EXCLUDED.response_time_ms,
        error = EXCLUDED.error,
        checked_at = EXCLUDED.checked_at,
        changed_at = CASE WHEN s.status = EXCLUDED.status THEN s.changed_at
                          ELSE EXCLUDED.checked_at END,
        streak = CASE WHEN s.status = EXCLUDED.status THEN s.streak + 1 ELSE 1 END,
        streak_started_at = CASE WHEN s.status = EXCLUDED.status THEN s.streak_started_at
                                 ELSE EXCLUDED.checked_at END
    WHERE s.checked_at < EXCLUDED.checked_at
    RETURNING s.website_id, s.status, s.streak, s.checked_at
), w AS (
    SELECT website_id, status, streak, checked_at, confirm, recover FROM updated
    UNION ALL
    SELECT a.website_id, a.status, a.streak, a.checked_at, l.confirm, l.recover
    FROM added a JOIN latest l USING (website_id)
), ev AS (
    INSERT INTO evaluation (website_id, queued_at)
    SELECT website_id, now() FROM w
    WHERE status = 'DOWN' OR streak <= GREATEST(confirm, recover)
    ORDER BY website_id
    ON CONFLICT (website_id) DO NOTHING
), rc AS (
    UPDATE website SET next_check_at = w.checked_at + make_interval(secs => $11::float8)
    FROM w
    WHERE website.id = ANY(ARRAY(
            SELECT website_id FROM w WHERE status = 'DOWN' AND streak < confirm
            ORDER BY website_id))
      AND w.website_id = website.id
      AND website.next_check_at > w.checked_at + make_interval(secs => $11::float8)
)
SELECT (SELECT count(*) FROM ins) AS inserted, (SELECT count(*) FROM w) AS status_updated
       {returning}
"""  # noqa: S608 - built from constants, no input


_PG_WRITE = write_statement()
_PG_WRITE_NEW = write_statement(dedup=False)

_SQLITE_ERROR = text("INSERT INTO tick_error (text) VALUES (:text) ON CONFLICT (text) DO NOTHING")

_SQLITE_TICK = text(
    """
    INSERT INTO website_tick (scheduled_at, website_ref, delay_ms, response_time_ms,
                              error_id, region_ref, status, status_code)
    SELECT :scheduled_at, w.ref, :delay_ms, :response_time_ms,
           (SELECT id FROM tick_error WHERE text = :error), :region_ref, :status,
           :status_code
    FROM website w WHERE w.id = :website_id
    ON CONFLICT DO NOTHING
    """
).bindparams(
    bindparam("website_id", type_=Uuid()),
    bindparam("scheduled_at", type_=UTCDateTime()),
)

# SQLite moves state before it stores the ticks, in the same transaction, and only for a
# tick not stored yet: a redelivered message changes no streak and queues nothing.
_SQLITE_NEW_TICK = """
    NOT EXISTS (SELECT 1 FROM website_tick t
                WHERE t.website_ref = (SELECT ref FROM website WHERE id = :website_id)
                  AND t.region_ref = :region_ref AND t.scheduled_at = :scheduled_at)
"""

_SQLITE_STATUS = text(
    f"""
    INSERT INTO website_status (website_id, region_id, status, status_code, response_time_ms,
                                error, checked_at, changed_at, streak, streak_started_at)
    SELECT :website_id, :region_id, :status_text, :status_code, :response_time_ms, :error,
           :checked_at, :checked_at, 1, :checked_at
    WHERE EXISTS (SELECT 1 FROM website WHERE id = :website_id) AND {_SQLITE_NEW_TICK}
    ON CONFLICT (website_id, region_id) DO UPDATE SET
        status = excluded.status,
        status_code = excluded.status_code,
        response_time_ms = excluded.response_time_ms,
        error = excluded.error,
        checked_at = excluded.checked_at,
        changed_at = CASE WHEN website_status.status = excluded.status
                          THEN website_status.changed_at ELSE excluded.checked_at END,
        streak = CASE WHEN website_status.status = excluded.status
                      THEN website_status.streak + 1 ELSE 1 END,
        streak_started_at = CASE WHEN website_status.status = excluded.status
                                 THEN website_status.streak_started_at
                                 ELSE excluded.checked_at END
    WHERE website_status.checked_at < excluded.checked_at
    """  # noqa: S608 - built from constants, no input
).bindparams(
    bindparam("website_id", type_=Uuid()),
    bindparam("checked_at", type_=UTCDateTime()),
    bindparam("scheduled_at", type_=UTCDateTime()),
)


# Run per row after the status upsert, matching the row just written by its checked_at
# (an older, out-of-order result wrote nothing and must queue nothing). SQLite has one
# writer at a time, so there are no lock orders to keep.
_SQLITE_EVALUATION = text(
    f"""
    INSERT INTO evaluation (website_id, queued_at)
    SELECT s.website_id, :now
    FROM website_status s JOIN website w ON w.id = s.website_id
    WHERE s.website_id = :website_id AND s.region_id = :region_id
      AND s.checked_at = :checked_at AND {_SQLITE_NEW_TICK}
      AND (s.status = 'DOWN'
           OR s.streak <= max(coalesce(w.confirmation_checks, :confirm),
                              coalesce(w.recovery_checks, :recover)))
    ON CONFLICT (website_id) DO NOTHING
    """  # noqa: S608 - built from constants, no input
).bindparams(
    bindparam("website_id", type_=Uuid()),
    bindparam("checked_at", type_=UTCDateTime()),
    bindparam("scheduled_at", type_=UTCDateTime()),
    bindparam("now", type_=UTCDateTime()),
)

_SQLITE_RECHECK = text(
    f"""
    UPDATE website
    SET next_check_at = strftime('%Y-%m-%d %H:%M:%f', julianday(:checked_at) + :recheck / 86400.0)
    WHERE id = :website_id
      AND next_check_at > strftime('%Y-%m-%d %H:%M:%f', julianday(:checked_at) + :recheck / 86400.0)
      AND {_SQLITE_NEW_TICK}
      AND EXISTS (
          SELECT 1 FROM website_status s
          WHERE s.website_id = :website_id AND s.region_id = :region_id
            AND s.checked_at = :checked_at AND s.status = 'DOWN'
            AND s.streak < coalesce(website.confirmation_checks, :confirm))
    """  # noqa: S608 - built from constants, no input
).bindparams(
    bindparam("website_id", type_=Uuid()),
    bindparam("checked_at", type_=UTCDateTime()),
    bindparam("scheduled_at", type_=UTCDateTime()),
)


# A batch at least this large is written in two halves at once, split by website, each
# on its own connection: PostgreSQL runs a statement on one core, and the client encodes
# the second half while the server writes the first. The halves touch disjoint rows
# (ticks, status rows, websites, evaluations; new error texts go in sorted order), so
# they cannot deadlock each other. Smaller batches gain less than a second round trip
# costs.
SPLIT_FROM_ROWS = 400


class HeldConnections:
    """Pool connections a batch writer keeps between its batches, one per half.

    Checking a connection out of the pool pings it first (pool_pre_ping: BEGIN, a query,
    ROLLBACK), three round trips per half of every batch, about a tenth of a batch's
    time; a writer that writes every 200 ms keeps its connections instead. A connection
    whose write failed is closed and replaced at the next write, so a lost connection
    costs one failed write, which the writer retries anyway.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._idle: dict[int, AsyncConnection] = {}

    @asynccontextmanager
    async def driver(self, slot: int) -> AsyncIterator[Any]:
        """Yield the asyncpg connection of a slot (a fresh one when it has none)."""
        conn = self._idle.pop(slot, None)
        raw = None
        if conn is not None:
            raw = await conn.get_raw_connection()
            if raw.driver_connection is None or raw.driver_connection.is_closed():
                await _discard(conn)
                conn = None
        if conn is None:
            conn = await self._engine.connect()
            raw = await conn.get_raw_connection()
        assert raw is not None
        try:
            yield raw.driver_connection
        except BaseException:
            await _discard(conn)
            raise
        if slot in self._idle:  # another write used the slot meanwhile
            await conn.close()
        else:
            self._idle[slot] = conn

    async def close(self) -> None:
        """Return every held connection to the pool."""
        idle, self._idle = self._idle, {}
        for conn in idle.values():
            await conn.close()


async def _discard(conn: AsyncConnection) -> None:
    # A connection that failed mid-statement may be broken: never back into the pool.
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()


async def write_ticks(
    engine: AsyncEngine,
    region_id: str,
    rows: Sequence[TickRow],
    options: StreakOptions = StreakOptions(),
    *,
    split_from: int = SPLIT_FROM_ROWS,
    held: HeldConnections | None = None,
) -> WriteResult:
    """Store a batch of results durably; return how many ticks were new.

    Redelivered jobs are no-op inserts that change no state, so writing a batch again
    after a failure (even one that stored part of it) is safe. On PostgreSQL a batch of
    split_from rows or more is written as two halves at once (see SPLIT_FROM_ROWS), and a
    tick scheduled on a day without a partition (housekeeping late or not running) gets
    its partition made here, so a write never fails for that. With `held`, the halves
    run on the connections it keeps instead of ones checked out of the pool.
    """
    if not rows:
        return WriteResult(0, 0)
    if engine.dialect.name != "postgresql":
        return await _write_sqlite(engine, region_id, rows, options)
    if len(rows) < split_from:
        return await _write_postgres_part(engine, region_id, rows, options, None, held)
    halves: tuple[list[TickRow], list[TickRow]] = ([], [])
    for row in rows:
        halves[row.website_id.int & 1].append(row)
    # Both halves run to their end before this returns or raises, so a retry of the batch
    # never overlaps a half still being written.
    results = await asyncio.gather(
        *(
            _write_postgres_part(engine, region_id, half, options, (lane,), held)
            for lane, half in enumerate(halves)
            if half
        ),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    done = [r for r in results if isinstance(r, WriteResult)]
    return WriteResult(sum(r.inserted for r in done), sum(r.status_updated for r in done))


# Every lane of a region, in the order they are taken (see _PG_WRITE).
_BOTH_LANES = (0, 1)


async def _write_postgres_part(
    engine: AsyncEngine,
    region_id: str,
    rows: Sequence[TickRow],
    options: StreakOptions,
    lanes: tuple[int, ...] | None,
    held: HeldConnections | None,
) -> WriteResult:
    try:
        return await _write_postgres(engine, region_id, rows, options, lanes, held)
    except DBAPIError as exc:
        if not is_missing_partition(exc.orig):
            raise
    days = {partitions.utc_day(r.scheduled_at) for r in rows}
    await partitions.create_partitions(engine, sorted(days))
    return await _write_postgres(engine, region_id, rows, options, lanes, held)


def is_missing_partition(exc: BaseException | None) -> bool:
    """Return True when a tick insert failed (the driver's error) for want of a partition."""
    return "no partition of relation" in str(exc)


# What a connection closed by the server (or the network) raises on its next statement.
_LOST_CONNECTION = (
    asyncpg.InterfaceError,  # ConnectionDoesNotExistError among others
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    ConnectionError,
)


async def _write_postgres(
    engine: AsyncEngine,
    region_id: str,
    rows: Sequence[TickRow],
    options: StreakOptions,
    lanes: tuple[int, ...] | None,
    held: HeldConnections | None,
) -> WriteResult:
    try:
        if held is None:
            async with engine.connect() as conn:
                raw = await conn.get_raw_connection()
                apg = raw.driver_connection
                return await write_ticks_on(apg, region_id, rows, options, lanes)
        slot = lanes[0] if lanes else 0
        try:
            async with held.driver(slot) as apg:
                return await write_ticks_on(apg, region_id, rows, options, lanes)
        except _LOST_CONNECTION:
            # Lost while held (a server restart, an idle timeout), which the pool's ping
            # would have found at checkout: once more on a fresh connection. Safe even if
            # the first attempt committed before the connection went: a redelivery.
            pass
        async with held.driver(slot) as apg:
            return await write_ticks_on(apg, region_id, rows, options, lanes)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
        # The driver's own errors bypass SQLAlchemy's wrapping; wrapped, a deadlock or
        # a connection lost mid-statement is a database fault the writer retries.
        raise DBAPIError(None, None, exc) from exc


async def write_ticks_on(
    apg: Any,
    region_id: str,
    rows: Sequence[TickRow],
    options: StreakOptions = StreakOptions(),
    lanes: tuple[int, ...] | None = None,
) -> WriteResult:
    """Store a batch of results on an asyncpg connection, inside the caller's transaction.

    PostgreSQL only. The driver's errors come unwrapped; the caller handles a missing
    partition (see write_ticks). Without `lanes`, a batch of more than one tick takes
    both of its region's lanes (see _PG_WRITE). Outside a transaction the batch is tried
    as plain inserts first (see write_statement).
    """
    args = tick_arguments(region_id, rows, options, lanes)
    if not apg.is_in_transaction():
        try:
            record = await apg.fetchrow(_PG_WRITE_NEW, *args)
        except asyncpg.UniqueViolationError:
            pass  # a tick stored before: nothing was written, write again skipping it
        else:
            return WriteResult(int(record["inserted"]), int(record["status_updated"]))
    record = await apg.fetchrow(_PG_WRITE, *args)
    return WriteResult(int(record["inserted"]), int(record["status_updated"]))


def tick_arguments(
    region_id: str,
    rows: Sequence[TickRow],
    options: StreakOptions = StreakOptions(),
    lanes: tuple[int, ...] | None = None,
) -> list[Any]:
    """Return the TICK_PARAMETERS arguments of a write_statement() for these rows."""
    if lanes is None:
        lanes = _BOTH_LANES if len(rows) > 1 else ()
    return [
        *_pg_columns(rows),
        region_id,
        options.confirmation_checks,
        options.recovery_checks,
        options.recheck_seconds,
        list(lanes),
    ]


def _pg_columns(rows: Sequence[TickRow]) -> tuple[list[Any], ...]:
    """Return the batch as the statement's arrays, in one pass over the rows."""
    # The hot loop of the writer: one pass, no helper calls but the status mapping.
    ids: list[Any] = []
    statuses: list[int] = []
    codes: list[int | None] = []
    times: list[int | None] = []
    errors: list[str | None] = []
    slots: list[int] = []
    delays: list[int] = []
    for r in rows:
        ids.append(r.website_id)
        statuses.append(_tick_status(r))
        code = r.status_code
        codes.append(code if code is not None and 0 <= code <= 32767 else None)
        times.append(r.response_time_ms)
        error = r.error
        errors.append(error[:ERROR_MAX_LENGTH] if error is not None else None)
        slot = (r.scheduled_at - _EPOCH) // _ONE_US
        slots.append(slot)
        # delay_ms() unclamped: the statement clamps the tick's int4 column itself, and
        # the status row's checked_at stays right even past the column's 24 days.
        delays.append(((r.checked_at - _EPOCH) // _ONE_US - slot + 500) // 1000)
    return ids, statuses, codes, times, errors, slots, delays


async def _write_sqlite(
    engine: AsyncEngine, region_id: str, rows: Sequence[TickRow], options: StreakOptions
) -> WriteResult:
    async with engine.begin() as conn:
        return await write_ticks_sqlite_on(conn, region_id, rows, options)


async def write_ticks_sqlite_on(
    conn: AsyncConnection,
    region_id: str,
    rows: Sequence[TickRow],
    options: StreakOptions = StreakOptions(),
) -> WriteResult:
    """Store a batch of results on SQLite, inside the caller's transaction."""
    # One result per job: a message twice in one batch is stored (and counted) once, as
    # its first copy, like the tick insert below keeps the first.
    if not rows:
        return WriteResult(0, 0)
    first: dict[tuple[uuid.UUID, datetime], TickRow] = {}
    for r in rows:
        first.setdefault((r.website_id, r.scheduled_at), r)
    unique = list(first.values())
    region_ref = await conn.scalar(sa.select(Region.ref).where(Region.id == region_id))
    errors = sorted({e for r in unique if (e := _error(r.error)) is not None})
    if errors:
        await conn.execute(_SQLITE_ERROR, [{"text": e} for e in errors])
    params = [
        {
            "website_id": r.website_id,
            "region_id": region_id,
            "region_ref": region_ref,
            "status": _tick_status(r),
            "status_text": r.status.value,
            "status_code": _status_code(r.status_code),
            "response_time_ms": r.response_time_ms,
            "error": _error(r.error),
            "scheduled_at": r.scheduled_at,
            "delay_ms": delay_ms(r),
            "checked_at": r.checked_at,
        }
        for r in unique
    ]
    ordered = sorted(params, key=lambda p: (str(p["website_id"]), p["checked_at"]))
    status = await conn.execute(_SQLITE_STATUS, ordered)
    follow = [
        {
            "website_id": p["website_id"],
            "region_id": region_id,
            "region_ref": region_ref,
            "scheduled_at": p["scheduled_at"],
            "checked_at": p["checked_at"],
            "confirm": options.confirmation_checks,
            "recover": options.recovery_checks,
        }
        for p in ordered
    ]
    now = datetime.now(UTC)
    await conn.execute(_SQLITE_EVALUATION, [{**f, "now": now} for f in follow])
    recheck = [
        {k: f[k] for k in ("website_id", "region_id", "region_ref", "scheduled_at")}
        | {k: f[k] for k in ("checked_at", "confirm")}
        | {"recheck": options.recheck_seconds}
        for f, p in zip(follow, ordered, strict=True)
        if p["status_text"] == Status.DOWN.value
    ]
    if recheck:
        await conn.execute(_SQLITE_RECHECK, recheck)
    ticks = await conn.execute(_SQLITE_TICK, params)
    return WriteResult(max(ticks.rowcount, 0), max(status.rowcount, 0))


async def register_region(engine: AsyncEngine, region_id: str, name: str | None = None) -> bool:
    """Insert the region unless it exists; return True when this call created it."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    async with engine.begin() as conn:
        # Look first: an INSERT that conflicts still draws a ref from the sequence, and
        # a smallint sequence must not be used up by every worker start.
        if await conn.scalar(sa.select(Region.ref).where(Region.id == region_id)) is not None:
            return False
        # ON CONFLICT DO NOTHING: two workers of a new region starting at once both succeed.
        stmt = insert(Region).values(id=region_id, name=name or region_id)
        stmt = stmt.on_conflict_do_nothing(index_elements=["id"])
        result = await conn.execute(stmt)
    return bool(result.rowcount)


def _tick_columns() -> list[Any]:
    return [
        Region.id.label("region_id"),
        WebsiteTick.status,
        WebsiteTick.status_code,
        WebsiteTick.response_time_ms,
        TickError.text.label("error"),
        WebsiteTick.scheduled_at,
        WebsiteTick.delay_ms,
    ]


def _view(row: Any) -> TickView:
    return TickView(
        region_id=row.region_id,
        status=status_of_tick(row.status),
        status_code=row.status_code,
        response_time_ms=row.response_time_ms,
        error=row.error,
        scheduled_at=row.scheduled_at,
        checked_at=row.scheduled_at + timedelta(milliseconds=row.delay_ms),
    )


@dataclass(frozen=True, slots=True)
class TickCursor:
    """A position in a website's ticks, newest first: the last tick of a page.

    Ticks are ordered by (scheduled_at, region) descending, which the primary key serves;
    a website has at most one tick per region and slot, so the pair is unique.
    """

    scheduled_at: datetime
    region_id: str

    @classmethod
    def of(cls, tick: TickView) -> TickCursor:
        """Return the cursor just past this tick."""
        return cls(tick.scheduled_at, tick.region_id)

    def encode(self) -> str:
        """Return the cursor as an opaque, URL-safe string."""
        raw = f"{self.scheduled_at.isoformat()}|{self.region_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> TickCursor:
        """Return the cursor encode() made; raise ValueError for anything else."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            raise ValueError("not a cursor") from None
        when, sep, region_id = raw.partition("|")
        scheduled_at = datetime.fromisoformat(when)
        # Cursors are made in UTC: anything else would only be a hand-made one, and its
        # conversion could overflow. Region ids are at most 64 printable characters.
        if not sep or scheduled_at.utcoffset() != timedelta(0):
            raise ValueError("not a cursor")
        if not (0 < len(region_id) <= 64 and region_id.isprintable()):
            raise ValueError("not a cursor")
        return cls(scheduled_at.astimezone(UTC), region_id)


async def list_ticks(
    session: AsyncSession,
    website_id: uuid.UUID,
    limit: int,
    *,
    before: datetime | None = None,
    after: TickCursor | None = None,
) -> list[TickView]:
    """Return up to limit of the website's ticks, newest first by (scheduled_at, region).

    `before` keeps ticks checked earlier than a time; `after` keeps ticks that come after
    the cursor in this order, so ticks sharing a slot on a page boundary are neither
    skipped nor repeated. On PostgreSQL each region's newest ticks are read from the
    primary key (website_ref, region_ref, scheduled_at) backwards, at most limit per
    region, then merged: a page costs regions x limit index entries, whatever the length
    of the history. SQLite has no LATERAL; its histories are small, so it sorts the
    website's ticks.
    """
    website_ref = sa.select(Website.ref).where(Website.id == website_id).scalar_subquery()
    dialect = session.get_bind().dialect.name
    checked_at: Any = sa.literal_column(checked_at_sql(dialect, "website_tick"))
    conditions: list[Any] = [WebsiteTick.website_ref == website_ref]
    if before is not None:
        # A check finishes after its slot, so the slot bound lets the index skip ahead.
        bound = sa.bindparam("before", before, type_=UTCDateTime())
        conditions += [WebsiteTick.scheduled_at < before, checked_at < bound]
    if after is not None:
        # The first condition alone bounds the index range scan; the second breaks ties.
        conditions += [
            WebsiteTick.scheduled_at <= after.scheduled_at,
            sa.or_(WebsiteTick.scheduled_at < after.scheduled_at, Region.id < after.region_id),
        ]
    if dialect != "postgresql":
        query = (
            sa.select(*_tick_columns())
            .select_from(WebsiteTick)
            .join(Region, Region.ref == WebsiteTick.region_ref)
            .outerjoin(TickError, TickError.id == WebsiteTick.error_id)
            .where(*conditions)
            .order_by(WebsiteTick.scheduled_at.desc(), Region.id.desc())
            .limit(limit)
        )
        return [_view(row) for row in await session.execute(query)]
    per_region = (
        sa.select(WebsiteTick)
        .where(WebsiteTick.region_ref == Region.ref, *conditions)
        .order_by(WebsiteTick.scheduled_at.desc())
        .limit(limit)
        .correlate(Region)
        .lateral("t")
    )
    t = per_region.c
    query = (
        sa.select(
            Region.id.label("region_id"),
            t.status,
            t.status_code,
            t.response_time_ms,
            TickError.text.label("error"),
            t.scheduled_at,
            t.delay_ms,
        )
        .select_from(Region)
        .join(per_region, sa.true())
        .outerjoin(TickError, TickError.id == t.error_id)
        .order_by(t.scheduled_at.desc(), Region.id.desc())
        .limit(limit)
    )
    return [_view(row) for row in await session.execute(query)]


async def all_ticks(conn: AsyncConnection) -> list[tuple[uuid.UUID, TickView]]:
    """Return every stored tick with its website id (for tests and tools, not hot paths)."""
    query = (
        sa.select(Website.id.label("website_id"), *_tick_columns())
        .select_from(WebsiteTick)
        .join(Website, Website.ref == WebsiteTick.website_ref)
        .join(Region, Region.ref == WebsiteTick.region_ref)
        .outerjoin(TickError, TickError.id == WebsiteTick.error_id)
        .order_by(WebsiteTick.scheduled_at, Region.id)
    )
    return [(row.website_id, _view(row)) for row in await conn.execute(query)]


async def delete_website_ticks(session: AsyncSession, website_ref: int) -> int:
    """Delete every tick of a website (in the caller's transaction); return how many.

    There is no foreign key from ticks to websites (on PostgreSQL its checks would cost
    every insert of every partition), so deleting a website calls this explicitly.
    """
    result: Any = await session.execute(
        sa.delete(WebsiteTick).where(WebsiteTick.website_ref == website_ref)
    )
    return int(result.rowcount or 0)
