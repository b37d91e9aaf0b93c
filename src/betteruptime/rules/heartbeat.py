"""Heartbeat schedules: when the next ping is expected and when a silence becomes DOWN."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError


@dataclass(frozen=True, slots=True)
class Schedule:
    """Either a fixed period or a cron expression read in a timezone."""

    period: timedelta | None
    cron: str | None
    zone: ZoneInfo


def parse_schedule(period_seconds: int | None, cron: str | None, timezone: str) -> Schedule:
    """Return the schedule; raise ValueError unless exactly one of period or cron is valid."""
    if (period_seconds is None) == (cron is None):
        raise ValueError("give either period_seconds or cron, not both")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {timezone[:64]!r}") from None
    if cron is not None:
        try:
            CronSim(cron, datetime(2000, 1, 1, tzinfo=zone))
        except CronSimError as exc:
            raise ValueError(f"invalid cron expression: {exc}") from None
        return Schedule(None, cron, zone)
    assert period_seconds is not None
    return Schedule(timedelta(seconds=period_seconds), None, zone)


def next_expected(schedule: Schedule, after: datetime) -> datetime:
    """Return the first time (UTC) a ping is due strictly after the given time."""
    if schedule.period is not None:
        return after + schedule.period
    assert schedule.cron is not None
    # cronsim walks wall-clock time in the zone: a 02:30 job on a spring-forward day runs
    # at 03:00 and on a fall-back day once, as Debian's cron does.
    local = after.astimezone(schedule.zone).replace(microsecond=0)
    return next(CronSim(schedule.cron, local)).astimezone(UTC)


def down_at(
    schedule: Schedule,
    grace: timedelta,
    last_ping_at: datetime,
    started_at: datetime | None,
) -> datetime:
    """Return when silence makes the heartbeat DOWN: a missed ping or an unfinished run."""
    due = next_expected(schedule, last_ping_at) + grace
    if started_at is not None and started_at >= last_ping_at:
        # A run that started must finish within the grace, whatever the schedule says.
        return min(due, started_at + grace)
    return due
