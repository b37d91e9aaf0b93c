"""Maintaining hourly and daily rollups of ticks: set-wise recomputation, and expiry.

Every write here recomputes a row from its sources (ticks for an hour, hourly rows for a
day) and stores it with INSERT … ON CONFLICT DO UPDATE SET col = excluded.col: never an
increment. Running an hour twice therefore writes the same row twice, a late tick is
folded in by running its hour again, and several processes doing it at once cannot
double anything. What they could do is overwrite a newer result with one computed from
an older snapshot; rounds are serialised (an advisory transaction lock on PostgreSQL, the
single writer on SQLite) so the later round always reads what the earlier one committed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    func,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import Join

from betteruptime.db.models import (
    HISTOGRAM_COLUMNS,
    Region,
    RollupProgress,
    UTCDateTime,
    Website,
    WebsiteTick,
    tick_rollup_daily,
    tick_rollup_hourly,
)
from betteruptime.rules.histogram import EDGES
from betteruptime.rules.rollup import DAY, HOUR, floor_day, floor_hour, hours_between

# Tick status codes (website_tick.status): DEGRADED counts as up everywhere.
STATUS_DOWN = 1
STATUS_DEGRADED = 2

PROGRESS_NAME = "hourly"
# Any fixed number: every process maintaining rollups of one database takes this lock.
_ROLLUP_LOCK_ID = 727_004
_COLUMNS = (
    "checks",
    "failures",
    "degraded",
    "rt_count",
    "rt_sum",
    "rt_min",
    "rt_max",
    *HISTOGRAM_COLUMNS,
)


@dataclass(frozen=True, slots=True)
class RollupConfig:
    """How far back late ticks are folded in, how often, and how much one transaction does."""

    # Ticks are stored by their scheduled time and can arrive after their hour closed: a
    # check takes up to its timeout, a batch waits up to 200 ms, and a dead worker's
    # messages are claimed after CLAIM_IDLE_SECONDS. Three hours covers all of that with
    # a wide margin; a tick later than that is only seen by raw reads.
    late_hours: int = 3
    # Recomputing the late hours rereads their ticks (3 hours of 100,000 websites every
    # minute is 18 M ticks), so it is spaced out; a newly closed hour is rolled up at once.
    recompute_every: timedelta = timedelta(minutes=10)
    # Hours per transaction while catching up; SQLite's writers wait for each one.
    chunk_hours: int = 6


@dataclass(frozen=True, slots=True)
class RollupRound:
    """What one round did: hours and days (re)computed and where rollups now stand."""

    hours: int
    days: int
    rolled_until: datetime | None


@functools.cache
def tick_sums(rt: ColumnElement[Any], status: ColumnElement[Any]) -> tuple[ColumnElement[Any], ...]:
    """Return the aggregates of ticks in rollup column order, labelled as the columns.

    Histogram buckets are NULL rather than 0 when empty (see the rollup tables). Built
    once: making these fifty expressions took half the time of a statistics request.
    """
    buckets = []
    for i in range(len(HISTOGRAM_COLUMNS)):
        low = EDGES[i - 1] if i > 0 else None
        high = EDGES[i] if i < len(EDGES) else None
        inside = and_(
            *(([rt >= low] if low is not None else []) + ([rt < high] if high is not None else []))
        )
        buckets.append(func.nullif(func.count().filter(inside), 0).label(HISTOGRAM_COLUMNS[i]))
    return (
        func.count().label("checks"),
        func.count().filter(status == STATUS_DOWN).label("failures"),
        func.count().filter(status == STATUS_DEGRADED).label("degraded"),
        func.count(rt).label("rt_count"),
        func.coalesce(func.sum(rt), 0).label("rt_sum"),
        func.min(rt).label("rt_min"),
        func.max(rt).label("rt_max"),
        *buckets,
    )


def _upsert(table: Table, select_stmt: Any, key: tuple[str, ...], dialect: str) -> Insert:
    """Return INSERT … SELECT … ON CONFLICT (key) DO UPDATE SET every column = excluded."""
    columns = [c.name for c in table.columns]
    ins: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    ins = ins.from_select(columns, select_stmt)
    stmt: Insert = ins.on_conflict_do_update(
        index_elements=list(key),
        set_={c: ins.excluded[c] for c in columns if c not in key},
    )
    return stmt


class _JoinInOrder(Join):
    """An inner join that SQLite runs in the written order: the left side is the outer loop.

    SQLite's CROSS JOIN means exactly that. Without table statistics its planner would
    otherwise scan every tick and probe websites, instead of the reverse.
    """

    inherit_cache = True


@compiles(_JoinInOrder)
def _join(element: _JoinInOrder, compiler: SQLCompiler, **kw: Any) -> str:
    rendered: str = compiler.visit_join(element, **kw)  # type: ignore[no-untyped-call]
    return rendered


@compiles(_JoinInOrder, "sqlite")
def _cross_join(element: _JoinInOrder, compiler: SQLCompiler, **kw: Any) -> str:
    kw.pop("asfrom", None)
    return (
        element.left._compiler_dispatch(compiler, asfrom=True, **kw)
        + " CROSS JOIN "
        + element.right._compiler_dispatch(compiler, asfrom=True, **kw)
        + " ON "
        + element.onclause._compiler_dispatch(compiler, **kw)  # type: ignore[union-attr]
    )


def hour_statement(hour: datetime, dialect: str) -> Insert:
    """Return the statement that recomputes every hourly row of one hour from its ticks.

    The tick table's one index is (website_ref, region_ref, scheduled_at); none starts
    with time. So the hour is read as one range scan of that key per (website, region)
    pair, never as a scan of the whole day's ticks. PostgreSQL is told so with LATERAL
    (its planner would otherwise pick a sequential scan of the day's partition, which
    grows all day), SQLite with CROSS JOIN. Ticks of a website deleted
    meanwhile find no website row and are left out.
    """
    w, r, t = Website.__table__.c, Region.__table__.c, WebsiteTick.__table__.c
    in_hour = (
        t.website_ref == w.ref,
        t.region_ref == r.ref,
        t.scheduled_at >= hour,
        t.scheduled_at < hour + HOUR,
    )
    query: Select[Any]
    if dialect == "postgresql":
        pairs = Website.__table__.join(Region.__table__, true())
        sums = select(*tick_sums(t.response_time_ms, t.status)).where(*in_hour).lateral()
        query = (
            select(w.ref, r.ref, literal(hour, UTCDateTime), *(sums.c[c] for c in _COLUMNS))
            .select_from(pairs.join(sums, true()))
            .where(sums.c.checks > 0)
        )
    else:
        query = (
            select(
                w.ref,
                r.ref,
                literal(hour, UTCDateTime),
                *tick_sums(t.response_time_ms, t.status),
            )
            .select_from(
                _JoinInOrder(
                    _JoinInOrder(Website.__table__, Region.__table__, true()),
                    WebsiteTick.__table__,
                    and_(*in_hour),
                )
            )
            .group_by(w.ref, r.ref)
        )
    # Rows in key order: two processes upserting the same hour lock rows in the same
    # order, so they wait for each other instead of deadlocking.
    query = query.order_by(w.ref, r.ref)
    return _upsert(tick_rollup_hourly, query, ("website_ref", "region_ref", "hour"), dialect)


def day_statement(day: date, dialect: str) -> Insert:
    """Return the statement that recomputes every daily row of one day from hourly rows."""
    h = tick_rollup_hourly.c
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    query = (
        select(
            h.website_ref,
            h.region_ref,
            literal(day, Date),
            *(func.sum(h[c]) for c in ("checks", "failures", "degraded", "rt_count", "rt_sum")),
            func.min(h.rt_min),
            func.max(h.rt_max),
            # SUM of only NULLs is NULL: empty buckets stay NULL in the daily row too.
            *(func.sum(h[c]) for c in HISTOGRAM_COLUMNS),
        )
        .where(h.hour >= start, h.hour < start + DAY)
        .group_by(h.website_ref, h.region_ref)
        .order_by(h.website_ref, h.region_ref)
    )
    return _upsert(tick_rollup_daily, query, ("website_ref", "region_ref", "day"), dialect)


async def _lock(conn: AsyncConnection) -> None:
    """Serialise rollup transactions across processes until this transaction ends.

    The first statement is also a write: on SQLite that takes the database's write lock
    at once, so nothing read below can be overtaken by another writer.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ROLLUP_LOCK_ID})
    ins: Any = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        RollupProgress
    )
    await conn.execute(ins.values(name=PROGRESS_NAME).on_conflict_do_nothing())


async def _progress(conn: AsyncConnection) -> tuple[datetime | None, datetime | None]:
    row = (
        await conn.execute(
            select(RollupProgress.rolled_until, RollupProgress.recomputed_at).where(
                RollupProgress.name == PROGRESS_NAME
            )
        )
    ).one()
    return row.rolled_until, row.recomputed_at


async def _oldest_tick_hour(conn: AsyncConnection) -> datetime | None:
    # Run once per database, on its first round: where rolling up has to start from. The
    # oldest tick of each (website, region) is the first entry of its primary-key range,
    # so this is one index probe per pair (and partition), not a scan of every tick.
    w, r, t = Website.__table__.c, Region.__table__.c, WebsiteTick.__table__.c
    first = (
        select(t.scheduled_at)
        .where(t.website_ref == w.ref, t.region_ref == r.ref)
        .order_by(t.scheduled_at)
        .limit(1)
        .scalar_subquery()
    )
    oldest = await conn.scalar(
        select(func.min(first)).select_from(Website.__table__.join(Region.__table__, true()))
    )
    if oldest is None:
        return None
    if isinstance(oldest, str):  # SQLite hands min() of a text column back as text
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return floor_hour(oldest)


async def _compute(conn: AsyncConnection, hours: list[datetime]) -> int:
    """Recompute the given hours and the days holding them; return the number of days."""
    dialect = conn.dialect.name
    for hour in hours:
        await conn.execute(hour_statement(hour, dialect))
    days = sorted({hour.date() for hour in hours})
    for day in days:
        await conn.execute(day_statement(day, dialect))
    return len(days)


async def recompute(engine: AsyncEngine, hours: Iterable[datetime]) -> int:
    """Recompute the given hours (and their days) now, whatever the progress; return days.

    For backfills and tests: progress is left alone.
    """
    async with engine.begin() as conn:
        await _lock(conn)
        return await _compute(conn, sorted({floor_hour(h) for h in hours}))


async def roll_up(engine: AsyncEngine, now: datetime, config: RollupConfig) -> RollupRound:
    """Roll up every closed hour not rolled up yet, and the recent ones again when due.

    A process stopped for a while catches up every hour it missed, chunk by chunk, each
    chunk committed with the progress it made.
    """
    current = floor_hour(now)
    hours_done = days_done = 0
    recomputing = False
    rolled_until: datetime | None = None
    while True:
        async with engine.begin() as conn:
            await _lock(conn)
            rolled_until, recomputed_at = await _progress(conn)
            if rolled_until is None:
                rolled_until = await _oldest_tick_hour(conn) or current
            start = rolled_until
            if hours_done == 0 and (
                recomputed_at is None or now - recomputed_at >= config.recompute_every
            ):
                # Once per round at most: the recent hours again, for late ticks.
                start = min(start, current - config.late_hours * HOUR)
                recomputing = True
            end = min(current, max(start, rolled_until) + config.chunk_hours * HOUR)
            if start >= current:
                end = start
            hours = hours_between(start, end)
            days_done += await _compute(conn, hours)
            hours_done += len(hours)
            rolled_until = max(rolled_until, end)
            values: dict[str, Any] = {"rolled_until": rolled_until}
            if recomputing:
                values["recomputed_at"] = now
                recomputing = False
            await conn.execute(
                update(RollupProgress).where(RollupProgress.name == PROGRESS_NAME).values(values)
            )
        if rolled_until >= current or not hours:
            return RollupRound(hours_done, days_done, rolled_until)


async def rolled_until(conn: AsyncConnection) -> datetime | None:
    """Return the hour before which rollups are complete (None: never rolled up)."""
    return await conn.scalar(
        select(RollupProgress.rolled_until).where(RollupProgress.name == PROGRESS_NAME)
    )


@dataclass(frozen=True, slots=True)
class ExpiryRound:
    """Rows deleted by one expiry round."""

    hourly: int
    daily: int


async def _delete_batches(
    engine: AsyncEngine, table: Table, column: str, cutoff: object, batch: int
) -> int:
    """Delete the rows of table whose column is before cutoff, batch by batch."""
    # Small batches, each its own transaction: on SQLite the writer gets the database back
    # between batches, on PostgreSQL no transaction grows long. The rows are found through
    # the time index and deleted by physical address (ctid: a TID scan; rowid).
    if engine.dialect.name == "postgresql":
        sql = (
            f"DELETE FROM {table.name} WHERE ctid = ANY(ARRAY("  # noqa: S608 - fixed names
            f"SELECT ctid FROM {table.name} WHERE {column} < :cutoff LIMIT :batch))"
        )
    else:
        sql = (
            f"DELETE FROM {table.name} WHERE rowid IN ("  # noqa: S608 - fixed names
            f"SELECT rowid FROM {table.name} WHERE {column} < :cutoff LIMIT :batch)"
        )
    stmt = text(sql).bindparams(bindparam("cutoff", type_=table.c[column].type))
    deleted = 0
    while True:
        async with engine.begin() as conn:
            result = await conn.execute(stmt, {"cutoff": cutoff, "batch": batch})
        count = max(result.rowcount or 0, 0)
        deleted += count
        if count < batch:
            return deleted


async def expire_rollups(
    engine: AsyncEngine,
    now: datetime,
    hourly_days: int,
    daily_days: int | None,
    *,
    batch: int = 10_000,
) -> ExpiryRound:
    """Delete hourly rows older than hourly_days, and daily rows older than daily_days."""
    today = floor_day(now)
    hourly = await _delete_batches(
        engine, tick_rollup_hourly, "hour", today - hourly_days * DAY, batch
    )
    daily = 0
    if daily_days is not None:
        cutoff = (today - daily_days * DAY).date()
        daily = await _delete_batches(engine, tick_rollup_daily, "day", cutoff, batch)
    return ExpiryRound(hourly, daily)
