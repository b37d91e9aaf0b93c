"""Rollup arithmetic: totals of ticks that add up, and how a time span splits into rollups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from betteruptime.rules import histogram

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Totals:
    """What a set of ticks adds up to; the totals of two sets add to those of their union."""

    checks: int = 0
    failures: int = 0
    degraded: int = 0
    rt_count: int = 0
    rt_sum: int = 0
    rt_min: int | None = None
    rt_max: int | None = None
    histogram: tuple[int, ...] = field(default_factory=histogram.empty)

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            checks=self.checks + other.checks,
            failures=self.failures + other.failures,
            degraded=self.degraded + other.degraded,
            rt_count=self.rt_count + other.rt_count,
            rt_sum=self.rt_sum + other.rt_sum,
            rt_min=_lowest(self.rt_min, other.rt_min),
            rt_max=_highest(self.rt_max, other.rt_max),
            histogram=histogram.merge(self.histogram, other.histogram),
        )

    @property
    def success_ratio(self) -> float | None:
        """Return the share of checks that did not fail (degraded counts as up), or None."""
        return success_ratio(self.checks, self.failures)

    @property
    def avg_ms(self) -> float | None:
        """Return the mean response time, or None when no check measured one."""
        return self.rt_sum / self.rt_count if self.rt_count else None

    def percentile_ms(self, q: float) -> float | None:
        """Return the estimated q-quantile of response times (within one bucket), or None."""
        return histogram.quantile(self.histogram, q, low=self.rt_min, high=self.rt_max)


def _lowest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _highest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def success_ratio(checks: int, failures: int) -> float | None:
    """Return (checks - failures) / checks, or None when there were no checks."""
    return (checks - failures) / checks if checks else None


def total(parts: Sequence[Totals]) -> Totals:
    """Return the sum of totals (empty totals for none)."""
    result = Totals()
    for part in parts:
        result = result + part
    return result


def floor_hour(moment: datetime) -> datetime:
    """Return the start of the UTC hour holding moment."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def floor_day(moment: datetime) -> datetime:
    """Return the start (midnight UTC) of the day holding moment."""
    return floor_hour(moment).replace(hour=0)


def day_start(day: date) -> datetime:
    """Return midnight UTC of a date."""
    return datetime.combine(day, time(), tzinfo=UTC)


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """Return the starts of the hours from start (an hour start) up to, not including, end."""
    hours = []
    hour = start
    while hour < end:
        hours.append(hour)
        hour += HOUR
    return hours


@dataclass(frozen=True, slots=True)
class SpanPlan:
    """Where the figures of [start, end) come from; rollups cover what precedes `raw_from`.

    Whole days come from daily rows, the hours of partial days around them from hourly
    rows, and the rest (the hour in progress, and hours not rolled up yet) from raw ticks.
    """

    days: tuple[date, date] | None  # first and last whole day, inclusive
    hour_ranges: tuple[tuple[datetime, datetime], ...]  # [from, to) hour-aligned
    raw_from: datetime


def plan_span(start: datetime, rolled_until: datetime) -> SpanPlan:
    """Return the plan for the span from start (an hour start) to now.

    rolled_until is the hour start up to which rollups are complete; everything from it
    on is read from raw ticks.
    """
    start = floor_hour(start)
    rolled_until = max(floor_hour(rolled_until), start)
    first_day = floor_day(start) if start == floor_day(start) else floor_day(start) + DAY
    last_day_end = floor_day(rolled_until)
    if first_day >= last_day_end:
        # No whole day inside: hours only.
        only: tuple[tuple[datetime, datetime], ...] = (
            ((start, rolled_until),) if start < rolled_until else ()
        )
        return SpanPlan(None, only, rolled_until)
    ranges = tuple((a, b) for a, b in ((start, first_day), (last_day_end, rolled_until)) if a < b)
    days = (first_day.date(), (last_day_end - DAY).date())
    return SpanPlan(days, ranges, rolled_until)
