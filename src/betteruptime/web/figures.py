"""Figures the pages show beside a status: uptime ratios, sparklines, daily bars."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db import stats
from betteruptime.db.stats import DailyCounts, DayStats
from betteruptime.rules.rollup import success_ratio
from betteruptime.web.charts import daily_bars, sparkline
from betteruptime.web.templating import format_percent

DAY = timedelta(hours=24)
MONTH = timedelta(days=30)
HISTORY_DAYS = 90


@dataclass(frozen=True)
class RowFigures:
    """A dashboard row's uptime over 24 hours and 30 days, and its last day of responses."""

    uptime_24h: float | None
    uptime_30d: float | None
    sparkline: Markup


async def dashboard_figures(
    session: AsyncSession, ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, RowFigures]:
    """Return the figures of one dashboard page (three queries sets, whatever its size)."""
    day = await stats.success_ratios(session, ids, DAY, now)
    month = await stats.success_ratios(session, ids, MONTH, now)
    hourly = await stats.hourly_response_times(session, ids, 24, now)
    return {
        i: RowFigures(
            uptime_24h=day.get(i),
            uptime_30d=month.get(i),
            sparkline=sparkline(hourly.get(i, []), "Average response time per hour, last 24 h"),
        )
        for i in ids
    }


@dataclass(frozen=True)
class History:
    """90 daily bars and what they say in words."""

    bars: Markup
    summary: str  # with the website's name, for screen readers
    uptime: str  # the same without the name, to show under the bars


def history_of(days: Sequence[DayStats], name: str) -> History:
    """Return the bars of a website's days (oldest first) and a sentence for screen readers."""
    first = days[0].date if days else date.today()
    return counts_history(
        DailyCounts(first, [d.checks for d in days], [d.failures for d in days]), name
    )


def counts_history(days: DailyCounts, name: str) -> History:
    """Return the bars of a website's daily counts and a sentence for screen readers."""
    ratio = success_ratio(sum(days.checks), sum(days.failures))
    count = len(days.checks)
    uptime = (
        f"{format_percent(ratio)} up over the last {count} days"
        if ratio is not None
        else f"no checks in the last {count} days"
    )
    summary = f"{name}: {uptime}"
    bars = daily_bars(days.first, days.checks, days.failures, summary)
    return History(bars=bars, summary=summary, uptime=uptime)
