"""GET /website/{id}/stats and /stats/daily: shapes, numbers against a brute-force count,
where each part of a window is read from, and the 401/404/422 rules."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from betteruptime.db.rollups import RollupConfig, recompute, roll_up
from betteruptime.rules.histogram import bucket_bounds, bucket_of, nearest_rank
from betteruptime.rules.rollup import HOUR, Totals, floor_day, floor_hour
from tests.api.conftest import Api, Client, create_website
from tests.history import (
    DOWN,
    RawTick,
    add_region,
    insert_ticks,
    random_ticks,
    totals_of,
    website_refs,
)

WINDOWS = {"24h": 1, "7d": 7, "30d": 30, "90d": 90, "365d": 365}
NO_TIMES = {"avg": None, "p50": None, "p95": None, "p99": None, "max": None}


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _website(api: Api, owner: Client) -> tuple[str, int, dict[str, int]]:
    """Return a new website's id, its ref and two regions' refs by name."""
    site = await create_website(owner)
    engine = api.state.engine
    (ref,) = await website_refs(engine, [uuid.UUID(site["id"])])
    regions = {name: await add_region(engine, name) for name in ("eu-west", "us-east")}
    return site["id"], ref, regions


@dataclass(frozen=True)
class Expected:
    """What the ticks of a span add up to, and their response times one by one."""

    totals: Totals
    times: list[int]


def _expected(ticks: list[RawTick], start: datetime, end: datetime) -> Expected:
    chosen = [t for t in ticks if start <= t.scheduled_at < end]
    times = sorted(t.response_time_ms for t in chosen if t.response_time_ms is not None)
    return Expected(totals_of(chosen), times)


def _assert_figures_match(body: dict[str, Any], expected: Expected) -> None:
    """Counts exactly, mean and max exactly, percentiles within one histogram bucket."""
    totals = expected.totals
    assert (body["checks"], body["failures"]) == (totals.checks, totals.failures)
    assert body["success_ratio"] == pytest.approx(totals.success_ratio)
    times = body["response_time_ms"]
    if not expected.times:
        assert times == NO_TIMES
        return
    assert times["avg"] == pytest.approx(sum(expected.times) / len(expected.times), abs=0.05)
    assert times["max"] == expected.times[-1]
    for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        exact = expected.times[nearest_rank(q, len(expected.times)) - 1]
        low, high = bucket_bounds(bucket_of(exact))
        width = (expected.times[-1] if high is None else high) - low
        assert abs(times[key] - exact) <= width + 0.05, (key, times[key], exact)


async def test_stats_of_a_website_without_checks(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    before = datetime.now(UTC)
    response = await owner.get(f"/website/{site['id']}/stats")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "window",
        "from",
        "to",
        "checks",
        "failures",
        "success_ratio",
        "availability",
        "response_time_ms",
        "regions",
    }
    assert body["window"] == "24h"
    assert (body["checks"], body["failures"], body["success_ratio"]) == (0, 0, None)
    assert body["availability"] == 1.0  # no incident
    assert body["response_time_ms"] == NO_TIMES
    assert body["regions"] == []
    to = _ts(body["to"])
    assert before <= to <= datetime.now(UTC)
    assert _ts(body["from"]) == floor_hour(to - timedelta(hours=24))


async def test_stats_count_rollups_and_the_hour_in_progress_per_region(
    api: Api, owner: Client
) -> None:
    website_id, ref, regions = await _website(api, owner)
    engine = api.state.engine
    now = datetime.now(UTC)
    rng = random.Random(11)
    ticks = random_ticks(rng, [ref], list(regions.values()), now - timedelta(hours=30), now)
    await insert_ticks(engine, ticks)
    await roll_up(engine, now, RollupConfig())

    response = await owner.get(f"/website/{website_id}/stats", params={"window": "24h"})
    assert response.status_code == 200
    body = response.json()
    start, end = _ts(body["from"]), _ts(body["to"])
    assert body["checks"] > 0
    _assert_figures_match(body, _expected(ticks, start, end + timedelta(seconds=1)))
    assert [r["region_id"] for r in body["regions"]] == ["eu-west", "us-east"]
    for region in body["regions"]:
        mine = [t for t in ticks if t.region_ref == regions[region["region_id"]]]
        _assert_figures_match(region, _expected(mine, start, end + timedelta(seconds=1)))


async def test_the_hour_in_progress_and_unrolled_hours_come_from_raw_ticks(
    api: Api, owner: Client
) -> None:
    website_id, ref, regions = await _website(api, owner)
    engine = api.state.engine
    now = datetime.now(UTC)
    current = floor_hour(now)
    recent = [
        RawTick(ref, regions["eu-west"], current, DOWN, None),  # the hour in progress
        RawTick(ref, regions["eu-west"], current - HOUR, 0, 120),  # closed, not rolled up
    ]
    old = RawTick(ref, regions["eu-west"], current - 10 * HOUR, 0, 80)
    await insert_ticks(engine, [*recent, old])

    body = (await owner.get(f"/website/{website_id}/stats")).json()
    # Ten hours back is neither rolled up nor recent: a window is never scanned in raw.
    assert (body["checks"], body["failures"]) == (2, 1)
    assert body["success_ratio"] == 0.5

    await recompute(engine, [old.scheduled_at])
    body = (await owner.get(f"/website/{website_id}/stats")).json()
    assert (body["checks"], body["failures"]) == (3, 1)
    assert body["response_time_ms"]["max"] == 120


@pytest.mark.parametrize("window", list(WINDOWS))
async def test_each_window_counts_what_it_covers(api: Api, owner: Client, window: str) -> None:
    website_id, ref, regions = await _website(api, owner)
    engine = api.state.engine
    now = datetime.now(UTC)
    ages = [timedelta(minutes=1), timedelta(hours=20), timedelta(days=5), timedelta(days=80)]
    ages += [timedelta(days=200), timedelta(days=366)]
    ticks = [
        RawTick(ref, regions["us-east"], (now - age).replace(microsecond=0), 0, 100 + i)
        for i, age in enumerate(ages)
    ]
    await insert_ticks(engine, ticks)
    await recompute(engine, [t.scheduled_at for t in ticks[1:]])

    body = (await owner.get(f"/website/{website_id}/stats?window={window}")).json()
    start = _ts(body["from"])
    assert start == floor_hour(_ts(body["to"]) - timedelta(days=WINDOWS[window]))
    assert body["checks"] == sum(1 for t in ticks if t.scheduled_at >= start)
    assert body["regions"][0]["region_id"] == "us-east"


async def test_daily_history_has_one_item_per_day_oldest_first(api: Api, owner: Client) -> None:
    website_id, ref, regions = await _website(api, owner)
    engine = api.state.engine
    now = datetime.now(UTC)
    today = floor_day(now)
    ticks = [
        RawTick(ref, regions["eu-west"], today - timedelta(days=3, hours=-5), 0, 200),
        RawTick(ref, regions["us-east"], today - timedelta(days=3, hours=-6), DOWN, None),
        RawTick(ref, regions["eu-west"], today - timedelta(days=3, hours=-7), 2, 400),
        RawTick(ref, regions["eu-west"], floor_hour(now), 0, 50),  # today, in progress
    ]
    await insert_ticks(engine, ticks)
    await recompute(engine, [t.scheduled_at for t in ticks[:3]])

    response = await owner.get(f"/website/{website_id}/stats/daily", params={"days": 7})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [date.fromisoformat(i["date"]) for i in items] == [
        (today - timedelta(days=n)).date() for n in range(6, -1, -1)
    ]
    by_date = {date.fromisoformat(i["date"]): i for i in items}
    three_days_ago = by_date[(today - timedelta(days=3)).date()]
    assert three_days_ago["checks"] == 3
    assert three_days_ago["failures"] == 1
    assert three_days_ago["success_ratio"] == pytest.approx(2 / 3)
    assert three_days_ago["response_time_ms"]["avg"] == 300
    assert three_days_ago["response_time_ms"]["p95"] == 400
    assert by_date[today.date()]["checks"] == 1
    empty = by_date[(today - timedelta(days=1)).date()]
    assert empty == {
        "date": (today - timedelta(days=1)).date().isoformat(),
        "checks": 0,
        "failures": 0,
        "success_ratio": None,
        "response_time_ms": {"avg": None, "p95": None},
    }


async def test_daily_history_defaults_to_ninety_days(owner: Client) -> None:
    site = await create_website(owner)
    items = (await owner.get(f"/website/{site['id']}/stats/daily")).json()["items"]
    assert len(items) == 90
    assert items[-1]["date"] == datetime.now(UTC).date().isoformat()


@pytest.mark.parametrize("path", ["stats", "stats/daily"])
async def test_another_users_or_a_missing_website_is_404(
    owner: Client, other: Client, path: str
) -> None:
    site = await create_website(owner)
    for client, website_id in ((other, site["id"]), (owner, str(uuid.uuid4()))):
        response = await client.get(f"/website/{website_id}/{path}")
        assert response.status_code == 404
        assert response.json() == {"detail": "website not found"}


@pytest.mark.parametrize("path", ["stats", "stats/daily"])
async def test_no_token_is_401(owner: Client, anonymous: Client, path: str) -> None:
    site = await create_website(owner)
    assert (await anonymous.get(f"/website/{site['id']}/{path}")).status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        "stats?window=1h",
        "stats?window=",
        "stats?window=24H",
        "stats?window=7",
        "stats/daily?days=0",
        "stats/daily?days=366",
        "stats/daily?days=abc",
        "stats/daily?days=1.5",
        "stats/daily?days=",
    ],
)
async def test_bad_parameters_are_422(owner: Client, query: str) -> None:
    site = await create_website(owner)
    response = await owner.get(f"/website/{site['id']}/{query}")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "query"


async def test_a_path_id_that_is_not_a_uuid_is_422(owner: Client) -> None:
    assert (await owner.get("/website/nope/stats")).status_code == 422
