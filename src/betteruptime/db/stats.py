"""Uptime and response-time statistics, read from rollups plus the raw ticks of the last hour.

Whatever the window (a day or a year) and however many websites are asked about, each
function makes the same few queries: whole days from daily rows, the partial days at
the edges from hourly rows, and only the hour in progress (plus any closed hour not
rolled up yet, up to RAW_HOURS_MAX) from raw ticks. So the cost follows the number of
rows in the answer, never the number of ticks in the window.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, any_, bindparam, case, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import NullType

from betteruptime.db.models import (
    HISTOGRAM_COLUMNS,
    Region,
    RollupProgress,
    Website,
    WebsiteTick,
    tick_rollup_daily,
    tick_rollup_hourly,
)
from betteruptime.db.rollups import PROGRESS_NAME, STATUS_DOWN, tick_sums
from betteruptime.rules.rollup import (
    DAY,
    HOUR,
    Totals,
    day_start,
    floor_day,
    floor_hour,
    plan_span,
    total,
)

# Closed hours that housekeeping has not rolled up yet are read from raw ticks, but at
# most this many: a housekeeping that has been stopped for days must not turn every read
# into a scan of days of ticks. Older unrolled hours show up once it catches up.
RAW_HOURS_MAX = 3


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    """Response times in milliseconds; percentiles are within one histogram bucket."""

    avg_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: int | None

    @classmethod
    def of(cls, totals: Totals) -> ResponseTimes:
        """Return the response-time figures of some totals."""
        return cls(
            avg_ms=totals.avg_ms,
            p50_ms=totals.percentile_ms(0.5),
            p95_ms=totals.percentile_ms(0.95),
            p99_ms=totals.percentile_ms(0.99),
            max_ms=totals.rt_max,
        )


@dataclass(frozen=True, slots=True)
class RegionStats:
    """One region's figures over a window."""

    region_id: str
    checks: int
    failures: int
    success_ratio: float | None
    response_time: ResponseTimes


@dataclass(frozen=True, slots=True)
class WindowStats:
    """A website's figures over [start, end): all regions together, then each region."""

    window: timedelta
    start: datetime
    end: datetime
    checks: int
    failures: int
    success_ratio: float | None
    response_time: ResponseTimes
    regions: list[RegionStats]


@dataclass(frozen=True, slots=True)
class DayStats:
    """A website's figures for one UTC day, all regions together."""

    date: date
    checks: int
    failures: int
    success_ratio: float | None
    avg_ms: float | None
    p95_ms: float | None


def window_start(window: timedelta, now: datetime) -> datetime:
    """Return where a window ending now starts: now - window, down to the hour."""
    return floor_hour(now - window)


# -- queries ------------------------------------------------------------------------------

_SUMMED = ("checks", "failures", "degraded", "rt_count", "rt_sum")


@functools.cache
def _rollup_sums(table: Any) -> tuple[ColumnElement[Any], ...]:
    """Return the sums of a rollup table's rows, labelled as its columns (built once)."""
    c = table.c
    return (
        *(func.coalesce(func.sum(c[name]), 0).label(name) for name in _SUMMED),
        func.min(c.rt_min).label("rt_min"),
        func.max(c.rt_max).label("rt_max"),
        *(func.coalesce(func.sum(c[name]), 0).label(name) for name in HISTOGRAM_COLUMNS),
    )


def _raw_sums(refs: Sequence[int], start: datetime) -> Select[Any]:
    """Return the SELECT of summed raw ticks of some websites from start on (to group)."""
    t = WebsiteTick.__table__.c
    return select(*tick_sums(t.response_time_ms, t.status)).where(
        t.website_ref.in_(refs), t.scheduled_at >= start
    )


def _totals(row: Any) -> Totals:
    return Totals(
        checks=int(row.checks),
        failures=int(row.failures),
        degraded=int(row.degraded),
        rt_count=int(row.rt_count),
        rt_sum=int(row.rt_sum),
        rt_min=None if row.rt_min is None else int(row.rt_min),
        rt_max=None if row.rt_max is None else int(row.rt_max),
        histogram=tuple(int(getattr(row, name) or 0) for name in HISTOGRAM_COLUMNS),
    )


def _among(
    column: ColumnElement[Any], values: Sequence[Any], postgres: bool
) -> ColumnElement[bool]:
    """Return `column IN values`; on PostgreSQL with one array parameter (= ANY).

    A status page asks about hundreds of websites: a parameter per value is rendered
    into the statement by SQLAlchemy on every execution, and planned by PostgreSQL.
    """
    if postgres:
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def _refs(session: AsyncSession, website_ids: Iterable[uuid.UUID]) -> dict[int, uuid.UUID]:
    ids = list(set(website_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(Website.ref, Website.id).where(
            _among(Website.__table__.c.id, ids, _postgres(session))
        )
    )
    return {ref: website_id for ref, website_id in rows}


async def _raw_from(session: AsyncSession, now: datetime) -> datetime:
    """Return the hour from which raw ticks are read: rollups are complete before it."""
    current = floor_hour(now)
    rolled = await session.scalar(
        select(RollupProgress.rolled_until).where(RollupProgress.name == PROGRESS_NAME)
    )
    if rolled is None:
        return current - RAW_HOURS_MAX * HOUR
    return min(current, max(rolled, current - RAW_HOURS_MAX * HOUR))


async def _span_totals(
    session: AsyncSession,
    refs: Sequence[int],
    start: datetime,
    now: datetime,
    *,
    counts_only: bool = False,
) -> dict[tuple[int, int], Totals]:
    """Return the totals of [start, now) per (website_ref, region_ref).

    counts_only: checks and failures only (the rest empty), for an uptime: summing the
    43 histogram buckets of every raw tick in the hour was most of a dashboard's time.
    """
    plan = plan_span(start, await _raw_from(session, now))
    parts: dict[tuple[int, int], list[Totals]] = defaultdict(list)
    queries: list[Select[Any]] = []
    if plan.days is not None:
        d = tick_rollup_daily.c
        sums = _sum_checks(tick_rollup_daily) if counts_only else _rollup_sums(tick_rollup_daily)
        queries.append(
            select(d.website_ref, d.region_ref, *sums)
            .where(d.website_ref.in_(refs), d.day.between(*plan.days))
            .group_by(d.website_ref, d.region_ref)
        )
    if plan.hour_ranges:
        h = tick_rollup_hourly.c
        sums = _sum_checks(tick_rollup_hourly) if counts_only else _rollup_sums(tick_rollup_hourly)
        queries.append(
            select(h.website_ref, h.region_ref, *sums)
            .where(
                h.website_ref.in_(refs),
                or_(*(and_(h.hour >= a, h.hour < b) for a, b in plan.hour_ranges)),
            )
            .group_by(h.website_ref, h.region_ref)
        )
    t = WebsiteTick.__table__.c
    raw = (
        select(*_raw_counts()).where(t.website_ref.in_(refs), t.scheduled_at >= plan.raw_from)
        if counts_only
        else _raw_sums(refs, plan.raw_from)
    )
    queries.append(
        raw.add_columns(t.website_ref, t.region_ref).group_by(t.website_ref, t.region_ref)
    )
    for query in queries:
        for row in await session.execute(query):
            parts[(row.website_ref, row.region_ref)].append(
                Totals(checks=int(row.checks), failures=int(row.failures))
                if counts_only
                else _totals(row)
            )
    return {key: total(values) for key, values in parts.items()}


async def _region_names(session: AsyncSession) -> dict[int, str]:
    return {ref: name for ref, name in await session.execute(select(Region.ref, Region.id))}


# -- the interface ------------------------------------------------------------------------


async def window_stats(
    session: AsyncSession, website_id: uuid.UUID, window: timedelta, now: datetime
) -> WindowStats:
    """Return a website's checks, failures and response times over the window ending now."""
    start = window_start(window, now)
    refs = await _refs(session, [website_id])
    by_key = await _span_totals(session, list(refs), start, now) if refs else {}
    names = await _region_names(session) if by_key else {}
    regions = sorted(
        (
            RegionStats(
                region_id=names.get(region_ref, str(region_ref)),
                checks=t.checks,
                failures=t.failures,
                success_ratio=t.success_ratio,
                response_time=ResponseTimes.of(t),
            )
            for (_, region_ref), t in by_key.items()
        ),
        key=lambda r: r.region_id,
    )
    overall = total(list(by_key.values()))
    return WindowStats(
        window=window,
        start=start,
        end=now,
        checks=overall.checks,
        failures=overall.failures,
        success_ratio=overall.success_ratio,
        response_time=ResponseTimes.of(overall),
        regions=regions,
    )


async def success_ratios(
    session: AsyncSession, website_ids: Iterable[uuid.UUID], window: timedelta, now: datetime
) -> dict[uuid.UUID, float | None]:
    """Return each website's share of successful checks over the window (None: no checks)."""
    ids = list(website_ids)
    refs = await _refs(session, ids)
    by_key = (
        await _span_totals(session, list(refs), window_start(window, now), now, counts_only=True)
        if refs
        else {}
    )
    per_website: dict[uuid.UUID, list[Totals]] = defaultdict(list)
    for (website_ref, _), t in by_key.items():
        per_website[refs[website_ref]].append(t)
    return {i: total(per_website.get(i, [])).success_ratio for i in ids}


async def daily_history(
    session: AsyncSession, website_ids: Iterable[uuid.UUID], days: int, now: datetime
) -> dict[uuid.UUID, list[DayStats]]:
    """Return, per website, one DayStats per UTC day of the last `days` days, oldest first.

    Today is the last item, counted up to now; a day without checks has checks == 0.
    """
    ids = list(website_ids)
    if days < 1:
        return {i: [] for i in ids}
    refs = await _refs(session, ids)
    parts: dict[tuple[uuid.UUID, int], list[Totals]] = defaultdict(list)
    if refs:
        sources = await _day_sources(session, days, now)
        t = WebsiteTick.__table__.c
        queries = _day_queries(
            sources,
            list(refs),
            _postgres(session),
            daily=_rollup_sums(tick_rollup_daily),
            hourly=_rollup_sums(tick_rollup_hourly),
            raw=tick_sums(t.response_time_ms, t.status),
        )
        for query in queries:
            for row in await session.execute(query):
                parts[(refs[row.website_ref], sources.index(row.bucket))].append(_totals(row))
    first = (floor_day(now) - (days - 1) * DAY).date()
    result: dict[uuid.UUID, list[DayStats]] = {}
    for website_id in ids:
        items = []
        for i in range(days):
            sums = total(parts.get((website_id, i), []))
            items.append(
                DayStats(
                    date=first + timedelta(days=i),
                    checks=sums.checks,
                    failures=sums.failures,
                    success_ratio=sums.success_ratio,
                    avg_ms=sums.avg_ms,
                    p95_ms=sums.percentile_ms(0.95),
                )
            )
        result[website_id] = items
    return result


@dataclass(frozen=True, slots=True)
class DailyCounts:
    """Checks and failures of each of a run of UTC days, oldest first (today last)."""

    first: date
    checks: list[int]
    failures: list[int]


async def daily_uptime(
    session: AsyncSession, website_ids: Iterable[uuid.UUID], days: int, now: datetime
) -> dict[uuid.UUID, DailyCounts]:
    """Return daily_history's checks and failures of each website, without response times.

    For many websites at once (a status page's 90 daily bars of 500 websites): only two
    sums, kept as two lists per website. On PostgreSQL the daily rows come back as one
    row per website with its days in arrays: fetching 45,000 (website, day) rows one by
    one through the async driver cost more than the whole rest of the page.
    """
    ids = list(website_ids)
    days = max(days, 0)
    first = (floor_day(now) - (days - 1) * DAY).date()
    result = {i: DailyCounts(first, [0] * days, [0] * days) for i in ids}
    refs = await _refs(session, ids) if days else {}
    if not refs:
        return result
    sources = await _day_sources(session, days, now)
    ref_list = list(refs)
    d = tick_rollup_daily.c
    postgres = _postgres(session)
    queries = _day_queries(
        sources,
        ref_list,
        postgres,
        daily=None if postgres else _sum_checks(tick_rollup_daily),
        hourly=_sum_checks(tick_rollup_hourly),
        raw=_raw_counts(),
    )
    if postgres and sources.first < sources.daily_until:
        # One row per website, a row per region and day inside its arrays (summed below),
        # read from ix_tick_rollup_daily_uptime alone in website order.
        rows = await session.execute(
            select(
                d.website_ref,
                # NullType: asyncpg's lists as they are, without an item-by-item pass.
                func.array_agg(d.day - sources.first, type_=NullType()),
                func.array_agg(d.checks, type_=NullType()),
                func.array_agg(d.failures, type_=NullType()),
            )
            .where(
                _among(d.website_ref, ref_list, postgres),
                d.day >= sources.first,
                d.day < sources.daily_until,
            )
            .group_by(d.website_ref)
        )
        read = list(range((sources.daily_until - sources.first).days))
        for ref, offsets, checks, failures in rows.all():
            counts = result[refs[ref]]
            if offsets == read:
                # One region, every day, in the index's order (the usual case): the lists
                # as they came, without a Python step per day.
                counts.checks[: len(read)] = checks
                counts.failures[: len(read)] = failures
                continue
            for i, c, f in zip(offsets, checks, failures, strict=True):
                counts.checks[i] += c
                counts.failures[i] += f
    for query in queries:
        # all(): one fetch of every row; iterating the result fetches them one by one.
        for ref, bucket, checks, failures in (await session.execute(query)).all():
            counts = result[refs[ref]]
            i = sources.index(bucket)
            counts.checks[i] += int(checks or 0)
            counts.failures[i] += int(failures or 0)
    return result


@functools.cache
def _raw_counts() -> tuple[ColumnElement[Any], ...]:
    """Return the count of raw ticks and of failed ones, labelled as rollup columns."""
    t = WebsiteTick.__table__.c
    return (
        func.count().label("checks"),
        func.count().filter(t.status == STATUS_DOWN).label("failures"),
    )


def _sum_checks(table: Any) -> tuple[ColumnElement[Any], ...]:
    """Return the sums of a rollup table's checks and failures, labelled as its columns."""
    return (
        func.sum(table.c.checks).label("checks"),
        func.sum(table.c.failures).label("failures"),
    )


@dataclass(frozen=True, slots=True)
class _DaySources:
    """Where each of a run of UTC days is read from, split where the rollups end.

    Whole days before the day raw reads start in come from daily rows (complete); that
    day, up to raw_from, from its hourly rows; the rest from raw ticks, split at today's
    midnight when they span it.
    """

    first: date
    today: datetime
    daily_until: date  # daily rows of first <= day < daily_until
    hourly: tuple[datetime, datetime] | None  # hourly rows of [from, to): one day
    raw_from: datetime

    def index(self, bucket: Any) -> int:
        """Return the day (0: the first) a query's bucket stands for: a date, an hour, 0/1."""
        if isinstance(bucket, datetime):
            day = bucket.date()
        elif isinstance(bucket, date):
            day = bucket
        elif isinstance(bucket, str):  # SQLite: min() of a timestamp or date column is text
            day = date.fromisoformat(bucket[:10])
        else:  # raw ticks: 1 from today's midnight on, 0 before it
            day = (self.today - (DAY if int(bucket) == 0 else timedelta())).date()
        return (day - self.first).days


async def _day_sources(session: AsyncSession, days: int, now: datetime) -> _DaySources:
    """Return where each of the last `days` UTC days (today last) is read from."""
    today = floor_day(now)
    first = (today - (days - 1) * DAY).date()
    raw_from = await _raw_from(session, now)
    rolled_day = floor_day(raw_from)
    hourly_from = max(rolled_day, day_start(first))
    return _DaySources(
        first=first,
        today=today,
        daily_until=rolled_day.date(),
        hourly=(hourly_from, raw_from) if hourly_from < raw_from else None,
        raw_from=max(raw_from, day_start(first)),
    )


def _day_queries(
    sources: _DaySources,
    refs: Sequence[int],
    postgres: bool,
    *,
    daily: Sequence[ColumnElement[Any]] | None,
    hourly: Sequence[ColumnElement[Any]],
    raw: Sequence[ColumnElement[Any]],
) -> list[Select[Any]]:
    """Return the queries of per-(website_ref, bucket) sums over the days, from each source.

    `bucket` is what _DaySources.index reads; daily None leaves the daily rows to the caller.
    """
    queries: list[Select[Any]] = []
    d = tick_rollup_daily.c
    if daily is not None and sources.first < sources.daily_until:
        queries.append(
            select(d.website_ref, d.day.label("bucket"), *daily)
            .where(
                _among(d.website_ref, refs, postgres),
                d.day >= sources.first,
                d.day < sources.daily_until,
            )
            .group_by(d.website_ref, d.day)
        )
    if sources.hourly is not None:
        h = tick_rollup_hourly.c
        start, end = sources.hourly
        queries.append(
            select(h.website_ref, func.min(h.hour).label("bucket"), *hourly)
            .where(_among(h.website_ref, refs, postgres), h.hour >= start, h.hour < end)
            .group_by(h.website_ref)
        )
    t = WebsiteTick.__table__.c
    day_of_tick = case((t.scheduled_at >= sources.today, 1), else_=0)
    queries.append(
        select(t.website_ref, day_of_tick.label("bucket"), *raw)
        .where(_among(t.website_ref, refs, postgres), t.scheduled_at >= sources.raw_from)
        .group_by(t.website_ref, day_of_tick)
    )
    return queries


async def hourly_response_times(
    session: AsyncSession, website_ids: Iterable[uuid.UUID], hours: int, now: datetime
) -> dict[uuid.UUID, list[float | None]]:
    """Return, per website, the mean response time of each of the last `hours` hours.

    Oldest first; the last item is the hour in progress. None where nothing was measured.
    """
    ids = list(website_ids)
    if hours < 1:
        return {i: [] for i in ids}
    current = floor_hour(now)
    starts = [current - n * HOUR for n in range(hours - 1, -1, -1)]
    refs = await _refs(session, ids)
    sums: dict[tuple[uuid.UUID, datetime], list[int]] = defaultdict(lambda: [0, 0])
    if refs:
        ref_list = list(refs)
        raw_from = max(await _raw_from(session, now), starts[0])
        h = tick_rollup_hourly.c
        rolled = (
            select(h.website_ref, h.hour, func.sum(h.rt_sum), func.sum(h.rt_count))
            .where(h.website_ref.in_(ref_list), h.hour >= starts[0], h.hour < raw_from)
            .group_by(h.website_ref, h.hour)
        )
        for website_ref, hour, rt_sum, rt_count in await session.execute(rolled):
            if isinstance(hour, str):
                hour = datetime.fromisoformat(hour)
            acc = sums[(refs[website_ref], floor_hour(hour))]
            acc[0] += int(rt_sum or 0)
            acc[1] += int(rt_count or 0)
        raw_hours = [s for s in starts if s >= raw_from]
        t = WebsiteTick.__table__.c
        hour_of_tick = case(
            *((t.scheduled_at >= s, i) for i, s in reversed(list(enumerate(raw_hours)))),
            else_=-1,
        )
        raw = (
            select(
                t.website_ref,
                hour_of_tick.label("i"),
                func.coalesce(func.sum(t.response_time_ms), 0),
                func.count(t.response_time_ms),
            )
            .where(t.website_ref.in_(ref_list), t.scheduled_at >= raw_from)
            .group_by(t.website_ref, hour_of_tick)
        )
        for website_ref, i, rt_sum, rt_count in await session.execute(raw):
            if i < 0:
                continue
            acc = sums[(refs[website_ref], raw_hours[i])]
            acc[0] += int(rt_sum)
            acc[1] += int(rt_count)
    return {
        website_id: [
            (s[0] / s[1]) if (s := sums.get((website_id, start))) and s[1] else None
            for start in starts
        ]
        for website_id in ids
    }
