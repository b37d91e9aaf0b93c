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


def overall_status(region_statuses: Iterable[Status], *, incident_open: bool) -> Status:
    """Return DOWN while an incident is unresolved, else UP if any region is fresh, else UNKNOWN."""
    # Incidents are the one judgement of "down" (confirmation, quorum, outage guard), so
    # the API, pages, badges and notifications never disagree; a single region's DOWN
    # stays visible in the per-region states.
    if incident_open:
        return Status.DOWN
    if any(s is not Status.UNKNOWN for s in region_statuses):
        return Status.UP
    return Status.UNKNOWN
