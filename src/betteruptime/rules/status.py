"""Status values and the rules that turn region ticks into a website's status."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta

# A region's latest tick counts as fresh for two intervals plus this grace.
FRESHNESS_GRACE = timedelta(seconds=30)


class Status(enum.StrEnum):
    """The state of a website as seen from one region, or overall."""

    UP = "UP"
    DOWN = "DOWN"
    UNKNOWN = "UNKNOWN"


def region_status(
    status: Status, checked_at: datetime, interval_seconds: int, now: datetime
) -> Status:
    """Return the region's status, or UNKNOWN when its latest tick is stale."""
    if now - checked_at > 2 * timedelta(seconds=interval_seconds) + FRESHNESS_GRACE:
        return Status.UNKNOWN
    return status


def overall_status(region_statuses: Iterable[Status]) -> Status:
    """Return UNKNOWN with no fresh region, DOWN when half or more say DOWN, else UP."""
    fresh = [s for s in region_statuses if s is not Status.UNKNOWN]
    if not fresh:
        return Status.UNKNOWN
    down = sum(1 for s in fresh if s is Status.DOWN)
    return Status.DOWN if 2 * down >= len(fresh) else Status.UP
