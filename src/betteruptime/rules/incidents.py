"""Pure incident rules: per-region streak votes, quorum, open/keep/resolve, outage guard."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from betteruptime.rules.status import Status, region_status

# Defaults of the settings that tune these rules (config.py exposes them).
DEFAULT_CONFIRMATION_CHECKS = 2
DEFAULT_RECOVERY_CHECKS = 2
DEFAULT_RECHECK_SECONDS = 10.0
DEFAULT_REGION_FAILURE_RATIO = 0.5
GUARD_MIN_WEBSITES = 20
GUARD_WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A website's effective thresholds (its own values, or the settings defaults)."""

    confirmation_checks: int = DEFAULT_CONFIRMATION_CHECKS
    recovery_checks: int = DEFAULT_RECOVERY_CHECKS
    regions_required: int | None = None  # None: a strict majority of the voting regions


@dataclass(frozen=True, slots=True)
class RegionState:
    """The latest state of a website in one region, with its current streak."""

    region_id: str
    status: Status
    streak: int
    streak_started_at: datetime
    checked_at: datetime
    status_code: int | None = None
    error: str | None = None


class Vote(enum.StrEnum):
    """What one region says about a website."""

    FAILING = "failing"  # DOWN for at least confirmation_checks checks in a row
    SUSPECT = "suspect"  # DOWN, not yet confirmed
    RECOVERING = "recovering"  # UP, not yet for recovery_checks checks in a row
    RECOVERED = "recovered"  # UP for at least recovery_checks checks in a row
    ABSTAIN = "abstain"  # stale, or ignored by the outage guard: neither up nor down


def region_vote(
    state: RegionState,
    thresholds: Thresholds,
    interval_seconds: int,
    now: datetime,
    *,
    ignored: bool = False,
) -> Vote:
    """Return the region's vote: stale or guard-ignored regions abstain."""
    if ignored or region_status(state.status, state.checked_at, interval_seconds, now) is (
        Status.UNKNOWN
    ):
        return Vote.ABSTAIN
    if state.status is Status.DOWN:
        return Vote.FAILING if state.streak >= thresholds.confirmation_checks else Vote.SUSPECT
    return Vote.RECOVERED if state.streak >= thresholds.recovery_checks else Vote.RECOVERING


def required_regions(thresholds: Thresholds, voting: int) -> int:
    """Return how many failing regions open an incident: the setting, or a strict majority."""
    if thresholds.regions_required is not None:
        return thresholds.regions_required
    return voting // 2 + 1


class Action(enum.StrEnum):
    """What the evaluator does with a website's incident."""

    NONE = "none"  # no incident, none to open
    OPEN = "open"
    KEEP = "keep"  # an incident is open and stays open
    RESOLVE = "resolve"
    # Resolved by hand while failing, and now recovered: new incidents may open again.
    CLEAR_HOLD = "clear_hold"


@dataclass(frozen=True, slots=True)
class Decision:
    """The action, and for OPEN when the failure began and what it looks like."""

    action: Action
    started_at: datetime | None = None
    cause: dict[str, Any] = field(default_factory=dict)


def decide(
    regions: Sequence[RegionState],
    thresholds: Thresholds,
    interval_seconds: int,
    now: datetime,
    *,
    incident_open: bool,
    awaiting_recovery: bool = False,
    ignored_regions: Iterable[str] = (),
) -> Decision:
    """Return whether to open, keep or resolve the website's incident."""
    ignored = set(ignored_regions)
    votes = {
        r.region_id: region_vote(
            r, thresholds, interval_seconds, now, ignored=r.region_id in ignored
        )
        for r in regions
    }
    voting = [r for r in regions if votes[r.region_id] is not Vote.ABSTAIN]
    if not voting:
        # No region reports (or all are ignored): no news is neither a failure nor a
        # recovery, so nothing opens and an open incident stays open.
        return Decision(Action.KEEP if incident_open else Action.NONE)
    required = required_regions(thresholds, len(voting))
    # Opening needs `required` confirmed failures; resolving needs fewer than `required`
    # regions that have not confirmed their recovery. The gap between the two (a region
    # DOWN but unconfirmed, or UP but not yet recovered) is the hysteresis that keeps a
    # flapping site from opening and resolving over and over.
    not_recovered = sum(1 for r in voting if votes[r.region_id] is not Vote.RECOVERED)
    recovered = not_recovered < required
    if incident_open:
        return Decision(Action.RESOLVE if recovered else Action.KEEP)
    if awaiting_recovery:
        return Decision(Action.CLEAR_HOLD if recovered else Action.NONE)
    failing = sorted(
        (r for r in voting if votes[r.region_id] is Vote.FAILING), key=lambda r: r.region_id
    )
    if len(failing) < required:
        return Decision(Action.NONE)
    # The check that best describes the outage: the most recent failure.
    latest = max(failing, key=lambda r: r.checked_at)
    return Decision(
        Action.OPEN,
        started_at=min(r.streak_started_at for r in failing),
        cause={
            "error": latest.error,
            "status_code": latest.status_code,
            "regions": [r.region_id for r in failing],
        },
    )


@dataclass(frozen=True, slots=True)
class RegionLoad:
    """What one region saw over the guard's window: websites checked and those failing."""

    region_id: str
    websites: int
    failing: int


def probe_broken(
    load: RegionLoad,
    *,
    currently_broken: bool,
    ratio: float = DEFAULT_REGION_FAILURE_RATIO,
    min_websites: int = GUARD_MIN_WEBSITES,
) -> bool:
    """Return whether the region's votes are to be ignored (its own network looks down)."""
    if currently_broken:
        # Ignored until it recovers: a failure ratio back at or under the line, judged on
        # any number of websites; with no checks at all there is no evidence yet.
        return load.websites == 0 or load.failing > ratio * load.websites
    return load.websites >= min_websites and load.failing > ratio * load.websites


def incident_seconds_in_window(
    spans: Iterable[tuple[datetime, datetime | None]], start: datetime, end: datetime
) -> float:
    """Return the seconds of [start, end] covered by the spans (open spans run to end)."""
    clipped = sorted(
        (max(s, start), min(e if e is not None else end, end))
        for s, e in spans
        if s < end and (e is None or e > start)
    )
    total = 0.0
    cur_start: datetime | None = None
    cur_end: datetime | None = None
    for s, e in clipped:
        if cur_end is None or s > cur_end:
            if cur_start is not None and cur_end is not None:
                total += (cur_end - cur_start).total_seconds()
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    if cur_start is not None and cur_end is not None:
        total += (cur_end - cur_start).total_seconds()
    return total
