"""The pure incident rules: votes, quorum, open/keep/resolve, the outage guard, availability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from betteruptime.rules.incidents import (
    Action,
    RegionLoad,
    RegionState,
    Thresholds,
    Vote,
    decide,
    incident_seconds_in_window,
    probe_broken,
    region_vote,
    required_regions,
)
from betteruptime.rules.status import Status, overall_status

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
INTERVAL = 30
DEFAULT = Thresholds(confirmation_checks=2, recovery_checks=2)
UP, DOWN, UNKNOWN = Status.UP, Status.DOWN, Status.UNKNOWN


def region(
    region_id: str,
    status: Status,
    streak: int,
    *,
    age: float = 5,
    started: float | None = None,
    error: str | None = None,
    code: int | None = None,
) -> RegionState:
    checked_at = NOW - timedelta(seconds=age)
    start = checked_at - timedelta(seconds=started if started is not None else 10 * (streak - 1))
    return RegionState(region_id, status, streak, start, checked_at, code, error)


STALE_AGE = 2 * INTERVAL + 30 + 1


@pytest.mark.parametrize(
    ("status", "streak", "age", "ignored", "vote"),
    [
        (DOWN, 1, 5, False, Vote.SUSPECT),
        (DOWN, 2, 5, False, Vote.FAILING),
        (DOWN, 9, 5, False, Vote.FAILING),
        (UP, 1, 5, False, Vote.RECOVERING),
        (UP, 2, 5, False, Vote.RECOVERED),
        (DOWN, 9, STALE_AGE, False, Vote.ABSTAIN),
        (UP, 9, STALE_AGE, False, Vote.ABSTAIN),
        (DOWN, 9, 5, True, Vote.ABSTAIN),
        (UP, 9, 5, True, Vote.ABSTAIN),
    ],
)
def test_region_vote(status: Status, streak: int, age: float, ignored: bool, vote: Vote) -> None:
    state = region("eu", status, streak, age=age)
    assert region_vote(state, DEFAULT, INTERVAL, NOW, ignored=ignored) is vote


def test_confirmation_and_recovery_thresholds_are_per_website() -> None:
    strict = Thresholds(confirmation_checks=3, recovery_checks=5)
    assert region_vote(region("eu", DOWN, 2), strict, INTERVAL, NOW) is Vote.SUSPECT
    assert region_vote(region("eu", DOWN, 3), strict, INTERVAL, NOW) is Vote.FAILING
    assert region_vote(region("eu", UP, 4), strict, INTERVAL, NOW) is Vote.RECOVERING
    assert region_vote(region("eu", UP, 5), strict, INTERVAL, NOW) is Vote.RECOVERED


@pytest.mark.parametrize(("voting", "required"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4)])
def test_default_quorum_is_a_strict_majority_of_voting_regions(voting: int, required: int) -> None:
    assert required_regions(DEFAULT, voting) == required


def test_regions_required_overrides_the_majority() -> None:
    assert required_regions(Thresholds(regions_required=1), 5) == 1
    assert required_regions(Thresholds(regions_required=4), 2) == 4


def _decide(regions: list[RegionState], **kwargs: object) -> Action:
    thresholds = kwargs.pop("thresholds", DEFAULT)
    assert isinstance(thresholds, Thresholds)
    return decide(
        regions,
        thresholds,
        INTERVAL,
        NOW,
        incident_open=bool(kwargs.pop("incident_open", False)),
        awaiting_recovery=bool(kwargs.pop("awaiting_recovery", False)),
        ignored_regions=kwargs.pop("ignored", ()),  # type: ignore[arg-type]
    ).action


@pytest.mark.parametrize(
    ("regions", "action"),
    [
        # Flapping inside the thresholds: a single failure never confirms.
        ([region("eu", DOWN, 1)], Action.NONE),
        ([region("eu", DOWN, 1), region("us", DOWN, 1), region("ap", DOWN, 1)], Action.NONE),
        # 1 of 1, 2 of 2, 2 of 3 open; 1 of 2 and 1 of 3 do not.
        ([region("eu", DOWN, 2)], Action.OPEN),
        ([region("eu", DOWN, 2), region("us", DOWN, 2)], Action.OPEN),
        ([region("eu", DOWN, 2), region("us", UP, 9)], Action.NONE),
        ([region("eu", DOWN, 2), region("us", UP, 9), region("ap", UP, 9)], Action.NONE),
        ([region("eu", DOWN, 2), region("us", DOWN, 3), region("ap", UP, 9)], Action.OPEN),
        # One confirmed and one unconfirmed failure of three: not yet.
        ([region("eu", DOWN, 2), region("us", DOWN, 1), region("ap", UP, 9)], Action.NONE),
        # Stale regions do not vote: neither as DOWN nor as UP.
        ([region("eu", DOWN, 2), region("us", DOWN, 9, age=STALE_AGE)], Action.OPEN),
        ([region("eu", UP, 9), region("us", DOWN, 9, age=STALE_AGE)], Action.NONE),
        ([region("eu", DOWN, 9, age=STALE_AGE)], Action.NONE),
        ([], Action.NONE),
    ],
)
def test_opening(regions: list[RegionState], action: Action) -> None:
    assert _decide(regions) is action


def test_open_decision_carries_the_start_and_cause() -> None:
    decision = decide(
        [
            region("us", DOWN, 3, age=2, started=40, error="status 503", code=503),
            region("eu", DOWN, 2, age=8, started=10, error="timeout"),
            region("ap", UP, 9),
        ],
        DEFAULT,
        INTERVAL,
        NOW,
        incident_open=False,
    )
    assert decision.action is Action.OPEN
    # The first failing check of the confirming streaks, and the latest failure's words.
    assert decision.started_at == NOW - timedelta(seconds=42)
    assert decision.cause == {"error": "status 503", "status_code": 503, "regions": ["eu", "us"]}


@pytest.mark.parametrize(
    ("regions", "action"),
    [
        ([region("eu", UP, 2), region("us", UP, 2), region("ap", DOWN, 9)], Action.RESOLVE),
        # Recovering but not yet recovered: the hysteresis keeps it open.
        ([region("eu", UP, 1), region("us", UP, 2), region("ap", DOWN, 9)], Action.KEEP),
        ([region("eu", UP, 1), region("us", UP, 1), region("ap", UP, 1)], Action.KEEP),
        # An unconfirmed failure still counts against recovery.
        ([region("eu", DOWN, 1), region("us", DOWN, 1), region("ap", UP, 9)], Action.KEEP),
        ([region("eu", UP, 2)], Action.RESOLVE),
        # No region reports: no news is not good news.
        ([region("eu", DOWN, 9, age=STALE_AGE), region("us", UP, 9, age=STALE_AGE)], Action.KEEP),
        ([], Action.KEEP),
        # The failing regions went silent and the reporting one has recovered.
        ([region("eu", UP, 5), region("us", DOWN, 9, age=STALE_AGE)], Action.RESOLVE),
    ],
)
def test_open_incident_keeps_or_resolves(regions: list[RegionState], action: Action) -> None:
    assert _decide(regions, incident_open=True) is action


def test_a_hand_resolved_incident_holds_until_the_site_recovers() -> None:
    failing = [region("eu", DOWN, 9), region("us", DOWN, 9)]
    assert _decide(failing, awaiting_recovery=True) is Action.NONE
    recovering = [region("eu", UP, 1), region("us", DOWN, 9)]
    assert _decide(recovering, awaiting_recovery=True) is Action.NONE
    recovered = [region("eu", UP, 2), region("us", UP, 2)]
    assert _decide(recovered, awaiting_recovery=True) is Action.CLEAR_HOLD


def test_ignored_regions_do_not_vote() -> None:
    regions = [region("eu", DOWN, 9), region("us", DOWN, 9), region("ap", UP, 9)]
    assert _decide(regions) is Action.OPEN
    # With eu ignored, 1 of the 2 voting regions fails: no quorum.
    assert _decide(regions, ignored={"eu"}) is Action.NONE
    assert _decide([region("eu", DOWN, 9)], ignored={"eu"}) is Action.NONE
    assert _decide([region("eu", DOWN, 9)], ignored={"eu"}, incident_open=True) is Action.KEEP


def test_regions_required_per_website() -> None:
    one = Thresholds(regions_required=1)
    three = Thresholds(regions_required=3)
    regions = [region("eu", DOWN, 9), region("us", UP, 9), region("ap", UP, 9)]
    assert _decide(regions, thresholds=one) is Action.OPEN
    two_failing = [region("eu", DOWN, 9), region("us", DOWN, 9)]
    assert _decide(two_failing, thresholds=three) is Action.NONE  # more than can vote
    assert _decide(regions, thresholds=one, incident_open=True) is Action.KEEP


@pytest.mark.parametrize(
    ("websites", "failing", "was", "broken"),
    [
        (20, 11, False, True),
        (20, 20, False, True),
        (20, 10, False, False),  # exactly half is not more than half
        (19, 19, False, False),  # too few websites to judge
        (0, 0, False, False),
        (100, 50, True, False),  # back at the line: counted again
        (3, 1, True, False),  # recovery is judged on any number of websites
        (100, 51, True, True),
        (0, 0, True, True),  # no evidence either way: stays ignored
    ],
)
def test_probe_broken(websites: int, failing: int, was: bool, broken: bool) -> None:
    load = RegionLoad("eu", websites, failing)
    assert probe_broken(load, currently_broken=was) is broken


def test_probe_broken_ratio_is_configurable() -> None:
    load = RegionLoad("eu", 40, 16)
    assert probe_broken(load, currently_broken=False, ratio=0.3) is True
    assert probe_broken(load, currently_broken=False, ratio=0.5) is False
    assert probe_broken(load, currently_broken=False, ratio=0.3, min_websites=50) is False


@pytest.mark.parametrize(
    ("regions", "incident_open", "expected"),
    [
        ([UP, UP], False, UP),
        ([DOWN, DOWN], False, UP),  # not confirmed: no incident, so not DOWN
        ([UP, UNKNOWN], False, UP),
        ([UNKNOWN, UNKNOWN], False, UNKNOWN),
        ([], False, UNKNOWN),
        ([UP, UP], True, DOWN),
        ([UNKNOWN], True, DOWN),
        ([], True, DOWN),
    ],
)
def test_overall_status_follows_incidents(
    regions: list[Status], incident_open: bool, expected: Status
) -> None:
    assert overall_status(regions, incident_open=incident_open) is expected


def test_incident_seconds_in_window() -> None:
    start, end = NOW - timedelta(hours=1), NOW
    minute = timedelta(minutes=1)
    assert incident_seconds_in_window([], start, end) == 0
    # Clipped at both ends; an open span runs to the end of the window.
    assert incident_seconds_in_window([(start - minute, start + minute)], start, end) == 60
    assert incident_seconds_in_window([(end - minute, None)], start, end) == 60
    assert incident_seconds_in_window([(start - 9 * minute, None)], start, end) == 3600
    # Outside the window: nothing.
    assert incident_seconds_in_window([(start - 2 * minute, start - minute)], start, end) == 0
    assert incident_seconds_in_window([(end + minute, None)], start, end) == 0
    # Overlaps are counted once.
    spans = [(start, start + 2 * minute), (start + minute, start + 3 * minute)]
    assert incident_seconds_in_window(spans, start, end) == 180
    spans = [(start, start + minute), (start + 2 * minute, start + 3 * minute)]
    assert incident_seconds_in_window(spans, start, end) == 120
