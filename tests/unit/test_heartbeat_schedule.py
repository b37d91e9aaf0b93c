"""Heartbeat schedules with fixed times: periods, cron in a timezone across DST, unfinished runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from betteruptime.rules.heartbeat import down_at, next_expected, parse_schedule

BERLIN_DAILY_0230 = parse_schedule(None, "30 2 * * *", "Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_period_counts_from_the_last_ping() -> None:
    schedule = parse_schedule(3600, None, "UTC")
    assert next_expected(schedule, utc(2026, 1, 1, 12, 5)) == utc(2026, 1, 1, 13, 5)
    assert down_at(schedule, timedelta(minutes=5), utc(2026, 1, 1, 12), None) == utc(
        2026, 1, 1, 13, 5
    )


def test_cron_runs_in_its_timezone_across_the_spring_forward_change() -> None:
    # 2026-03-29: Berlin jumps from 02:00 to 03:00 CEST; 02:30 does not exist that day and
    # Debian's cron runs the job at 03:00 local (01:00 UTC).
    before = next_expected(BERLIN_DAILY_0230, utc(2026, 3, 27, 12))
    assert before == utc(2026, 3, 28, 1, 30)  # 02:30 CET
    on_the_day = next_expected(BERLIN_DAILY_0230, before)
    assert on_the_day == utc(2026, 3, 29, 1, 0)
    after = next_expected(BERLIN_DAILY_0230, on_the_day)
    assert after == utc(2026, 3, 30, 0, 30)  # 02:30 CEST


def test_cron_runs_once_on_the_fall_back_day() -> None:
    # 2026-10-25: 02:30 happens twice in Berlin; the job runs once, at the first 02:30.
    first = next_expected(BERLIN_DAILY_0230, utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    assert next_expected(BERLIN_DAILY_0230, first) == utc(2026, 10, 26, 1, 30)  # 02:30 CET


def test_a_started_run_must_finish_within_the_grace() -> None:
    schedule = parse_schedule(86_400, None, "UTC")
    grace = timedelta(hours=1)
    last = utc(2026, 1, 1)
    assert down_at(schedule, grace, last, utc(2026, 1, 1, 6)) == utc(2026, 1, 1, 7)
    # A start older than the last success is over: only the schedule counts.
    assert down_at(schedule, grace, last, utc(2025, 12, 31, 23)) == utc(2026, 1, 2, 1)


@pytest.mark.parametrize(
    ("period", "cron", "zone"),
    [
        (None, None, "UTC"),
        (60, "* * * * *", "UTC"),
        (None, "61 * * * *", "UTC"),
        (None, "* * * * *", "Nowhere/City"),
    ],
)
def test_a_schedule_is_exactly_one_valid_period_or_cron(
    period: int | None, cron: str | None, zone: str
) -> None:
    with pytest.raises(ValueError):
        parse_schedule(period, cron, zone)
