"""A website's uptime and response-time statistics, from rollups (never a scan of ticks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from betteruptime.api.deps import OwnedWebsite, SessionDep
from betteruptime.api.errors import responses
from betteruptime.api.schemas import (
    DailyStatsPage,
    DayResponseTimesPublic,
    DayStatsPublic,
    RegionStatsPublic,
    ResponseTimesPublic,
    StatsWindow,
    WebsiteStatsPublic,
)
from betteruptime.db import incidents, stats
from betteruptime.db.stats import ResponseTimes

router = APIRouter(tags=["statistics"])

WINDOWS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "365d": timedelta(days=365),
}
MAX_DAYS = 365


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _times(times: ResponseTimes) -> ResponseTimesPublic:
    return ResponseTimesPublic(
        avg=_ms(times.avg_ms),
        p50=_ms(times.p50_ms),
        p95=_ms(times.p95_ms),
        p99=_ms(times.p99_ms),
        max=times.max_ms,
    )


@router.get("/website/{website_id}/stats", responses=responses(401, 404, 422))
async def get_stats(
    website: OwnedWebsite,
    session: SessionDep,
    window: Annotated[StatsWindow, Query(description="How far back from now")] = "24h",
) -> WebsiteStatsPublic:
    """Return checks, failures, success ratio, availability and response times over a window."""
    now = datetime.now(UTC)
    figures = await stats.window_stats(session, website.id, WINDOWS[window], now)
    # Over the same span as the check figures, so the two ratios sit side by side.
    span = figures.end - figures.start
    available = await incidents.availability(session, [website.id], span, figures.end)
    return WebsiteStatsPublic(
        window=window,
        from_=figures.start,
        to=figures.end,
        checks=figures.checks,
        failures=figures.failures,
        success_ratio=figures.success_ratio,
        availability=available[website.id],
        response_time_ms=_times(figures.response_time),
        regions=[
            RegionStatsPublic(
                region_id=r.region_id,
                checks=r.checks,
                failures=r.failures,
                success_ratio=r.success_ratio,
                response_time_ms=_times(r.response_time),
            )
            for r in figures.regions
        ],
    )


@router.get("/website/{website_id}/stats/daily", responses=responses(401, 404, 422))
async def get_daily_stats(
    website: OwnedWebsite,
    session: SessionDep,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="Days back, today included")] = 90,
) -> DailyStatsPage:
    """Return one item per UTC day of the last `days` days, oldest first."""
    history = await stats.daily_history(session, [website.id], days, datetime.now(UTC))
    return DailyStatsPage(
        items=[
            DayStatsPublic(
                date=d.date,
                checks=d.checks,
                failures=d.failures,
                success_ratio=d.success_ratio,
                response_time_ms=DayResponseTimesPublic(avg=_ms(d.avg_ms), p95=_ms(d.p95_ms)),
            )
            for d in history[website.id]
        ]
    )
