"""Totals that add up, and how a span of time splits into daily, hourly and raw parts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from betteruptime.rules.histogram import histogram_of
from betteruptime.rules.rollup import (
    DAY,
    HOUR,
    SpanPlan,
    Totals,
    floor_day,
    floor_hour,
    hours_between,
    plan_span,
    success_ratio,
    total,
)

T0 = datetime(2026, 3, 10, tzinfo=UTC)


def totals_of(statuses: list[int], times: list[int | None]) -> Totals:
    """Return the totals of ticks given as statuses (0 up, 1 down, 2 degraded) and times."""
    measured = [t for t in times if t is not None]
    return Totals(
        checks=len(statuses),
        failures=statuses.count(1),
        degraded=statuses.count(2),
        rt_count=len(measured),
        rt_sum=sum(measured),
        rt_min=min(measured, default=None),
        rt_max=max(measured, default=None),
        histogram=histogram_of(measured),
    )


ticks = st.lists(
    st.tuples(st.integers(0, 2), st.one_of(st.none(), st.integers(0, 70_000))), max_size=50
)


@given(ticks, ticks)
def test_totals_of_two_sets_add_up_to_the_totals_of_their_union(
    a: list[tuple[int, int | None]], b: list[tuple[int, int | None]]
) -> None:
    def of(items: list[tuple[int, int | None]]) -> Totals:
        return totals_of([s for s, _ in items], [t for _, t in items])

    assert of(a) + of(b) == of(a + b)
    assert total([of(a), of(b)]) == of(a + b)


def test_success_ratio_counts_degraded_as_up_and_is_none_without_checks() -> None:
    totals = totals_of([0, 0, 1, 2], [100, 200, None, 900])
    assert totals.success_ratio == 0.75
    assert Totals().success_ratio is None
    assert success_ratio(0, 0) is None
    assert success_ratio(4, 4) == 0.0


def test_response_time_figures() -> None:
    totals = totals_of([0, 0, 1, 0], [100, 300, None, 200])
    assert totals.avg_ms == 200
    assert totals.percentile_ms(1.0) == 300
    assert Totals().avg_ms is None
    assert Totals().percentile_ms(0.5) is None


def test_floors_are_utc() -> None:
    moment = datetime(2026, 3, 10, 23, 59, 59, 999, tzinfo=UTC)
    assert floor_hour(moment) == datetime(2026, 3, 10, 23, tzinfo=UTC)
    assert floor_day(moment) == T0
    # A time given in another zone is floored in UTC.
    other = datetime(2026, 3, 11, 1, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=-5)))
    assert floor_day(other) == T0 + DAY


def test_hours_between() -> None:
    assert hours_between(T0, T0 + 3 * HOUR) == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert hours_between(T0, T0) == []


def test_span_inside_one_day_is_hours_only() -> None:
    plan = plan_span(T0 + 2 * HOUR, T0 + 10 * HOUR)
    assert plan == SpanPlan(None, ((T0 + 2 * HOUR, T0 + 10 * HOUR),), T0 + 10 * HOUR)


def test_span_of_a_year_is_whole_days_plus_two_partial_days() -> None:
    now = T0 + 10 * HOUR + timedelta(minutes=25)
    start = floor_hour(now) - timedelta(days=365)
    plan = plan_span(start, floor_hour(now))
    assert plan.days == (date(2025, 3, 11), date(2026, 3, 9))
    assert plan.hour_ranges == (
        (start, T0 - timedelta(days=364)),
        (T0, T0 + 10 * HOUR),
    )
    assert plan.raw_from == T0 + 10 * HOUR


def test_span_starting_at_midnight_takes_that_day_whole() -> None:
    plan = plan_span(T0 - 2 * DAY, T0 + 3 * HOUR)
    assert plan.days == (date(2026, 3, 8), date(2026, 3, 9))
    assert plan.hour_ranges == ((T0, T0 + 3 * HOUR),)


def test_span_ending_at_midnight_needs_no_hours() -> None:
    plan = plan_span(T0 - 2 * DAY, T0)
    assert plan.days == (date(2026, 3, 8), date(2026, 3, 9))
    assert plan.hour_ranges == ()
    assert plan.raw_from == T0


def test_span_with_nothing_rolled_up_is_raw_only() -> None:
    plan = plan_span(T0 + 5 * HOUR, T0 + 3 * HOUR)
    assert plan == SpanPlan(None, (), T0 + 5 * HOUR)


@given(
    st.integers(0, 24 * 400),
    st.integers(0, 24 * 400),
)
def test_plans_cover_the_span_exactly_once(start_hours: int, length_hours: int) -> None:
    start = T0 + start_hours * HOUR
    rolled = start + length_hours * HOUR
    plan = plan_span(start, rolled)
    covered: list[datetime] = []
    if plan.days is not None:
        day = plan.days[0]
        while day <= plan.days[1]:
            base = datetime(day.year, day.month, day.day, tzinfo=UTC)
            covered.extend(hours_between(base, base + DAY))
            day += timedelta(days=1)
    for a, b in plan.hour_ranges:
        covered.extend(hours_between(a, b))
    assert sorted(covered) == hours_between(start, rolled)
    assert plan.raw_from == rolled
    assert len(plan.hour_ranges) <= 2
    assert sum((b - a) // HOUR for a, b in plan.hour_ranges) <= 46
