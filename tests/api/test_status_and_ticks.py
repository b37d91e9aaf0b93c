"""Status from website_status rows and the open incident (the overall rule), tick paging."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from betteruptime.db.models import Incident, Region, WebsiteStatus
from betteruptime.db.ticks import TickRow, write_ticks
from betteruptime.rules.status import FRESHNESS_GRACE, Status
from tests.api.conftest import Api, Client, create_website

INTERVAL = 60
STALE_AGE = 2 * timedelta(seconds=INTERVAL) + FRESHNESS_GRACE + timedelta(seconds=5)


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _add_regions(api: Api, *ids: str) -> None:
    async with api.session() as session:
        session.add_all(Region(id=rid, name=rid.upper()) for rid in ids)
        await session.commit()


async def _set_status(
    api: Api,
    website_id: str,
    region_id: str,
    status: Status,
    age: timedelta,
    *,
    status_code: int | None = 200,
    error: str | None = None,
) -> datetime:
    checked_at = datetime.now(UTC) - age
    async with api.session() as session:
        await session.merge(
            WebsiteStatus(
                website_id=uuid.UUID(website_id),
                region_id=region_id,
                status=status,
                status_code=status_code,
                response_time_ms=42,
                error=error,
                checked_at=checked_at,
                changed_at=checked_at,
            )
        )
        await session.commit()
    return checked_at


async def _open_incident(api: Api, website_id: str) -> uuid.UUID:
    now = datetime.now(UTC)
    async with api.session() as session:
        incident = Incident(
            website_id=uuid.UUID(website_id),
            state="open",
            started_at=now - timedelta(seconds=60),
            detected_at=now,
            cause={"error": "connection refused", "status_code": None, "regions": ["us"]},
        )
        session.add(incident)
        await session.commit()
        return incident.id


async def _resolve(api: Api, incident_id: uuid.UUID) -> None:
    async with api.session() as session:
        await session.execute(
            update(Incident)
            .where(Incident.id == incident_id)
            .values(state="resolved", resolved_at=datetime.now(UTC))
        )
        await session.commit()


async def test_status_is_unknown_before_any_tick(owner: Client) -> None:
    site = await create_website(owner, interval_seconds=INTERVAL)
    response = await owner.get(f"/status/{site['id']}")
    assert response.status_code == 200
    assert response.json() == {
        "id": site["id"],
        "url": site["url"],
        "status": "UNKNOWN",
        "last_checked_at": None,
        "regions": [],
        "incident": None,
    }


async def test_status_follows_fresh_regions_and_ignores_stale_ones(api: Api, owner: Client) -> None:
    site = await create_website(owner, interval_seconds=INTERVAL)
    path = f"/status/{site['id']}"
    await _add_regions(api, "eu", "us")

    # Both regions fresh and UP: UP.
    await _set_status(api, site["id"], "eu", Status.UP, timedelta(seconds=5))
    newest = await _set_status(api, site["id"], "us", Status.UP, timedelta(seconds=1))
    body = (await owner.get(path)).json()
    assert body["status"] == "UP"
    assert _ts(body["last_checked_at"]) == newest
    assert [r["region_id"] for r in body["regions"]] == ["eu", "us"]
    assert body["regions"][0] == {
        "region_id": "eu",
        "status": "UP",
        "status_code": 200,
        "response_time_ms": 42,
        "error": None,
        "checked_at": body["regions"][0]["checked_at"],
    }

    # One of two fresh regions DOWN, but no incident (nothing confirmed): still UP overall,
    # with the failing region visible in `regions`.
    await _set_status(
        api,
        site["id"],
        "us",
        Status.DOWN,
        timedelta(seconds=1),
        status_code=None,
        error="connection refused",
    )
    body = (await owner.get(path)).json()
    assert body["status"] == "UP"
    assert body["incident"] is None
    assert body["regions"][1]["error"] == "connection refused"

    # An unresolved incident makes it DOWN, and the status carries it.
    incident_id = await _open_incident(api, site["id"])
    body = (await owner.get(path)).json()
    assert body["status"] == "DOWN"
    assert body["incident"]["id"] == str(incident_id)
    assert body["incident"]["state"] == "open"
    assert body["incident"]["cause"] == {
        "error": "connection refused",
        "status_code": None,
        "regions": ["us"],
    }
    assert body["incident"]["duration_seconds"] >= 60

    # Even with every region stale, an unresolved incident keeps it DOWN.
    await _set_status(api, site["id"], "eu", Status.UP, STALE_AGE)
    await _set_status(api, site["id"], "us", Status.DOWN, STALE_AGE)
    assert (await owner.get(path)).json()["status"] == "DOWN"
    await _resolve(api, incident_id)
    await _set_status(api, site["id"], "eu", Status.UP, timedelta(seconds=5))

    # The DOWN region goes stale: it is UNKNOWN and only the fresh UP region counts.
    await _set_status(api, site["id"], "us", Status.DOWN, STALE_AGE)
    body = (await owner.get(path)).json()
    assert [r["status"] for r in body["regions"]] == ["UP", "UNKNOWN"]
    assert body["status"] == "UP"

    # Every region stale: UNKNOWN overall, the last check time still reported.
    stale_at = await _set_status(api, site["id"], "eu", Status.UP, STALE_AGE)
    body = (await owner.get(path)).json()
    assert body["status"] == "UNKNOWN"
    assert [r["status"] for r in body["regions"]] == ["UNKNOWN", "UNKNOWN"]
    assert _ts(body["last_checked_at"]) >= stale_at


async def test_freshness_uses_the_websites_interval(api: Api, owner: Client) -> None:
    # The same 3-minute-old tick is fresh for a 10-minute interval, stale for a 1-minute one.
    slow = await create_website(owner, "https://slow.example.com", interval_seconds=600)
    fast = await create_website(owner, "https://fast.example.com", interval_seconds=60)
    await _add_regions(api, "eu")
    for site in (slow, fast):
        await _set_status(api, site["id"], "eu", Status.UP, timedelta(minutes=3))
    assert (await owner.get(f"/status/{slow['id']}")).json()["status"] == "UP"
    assert (await owner.get(f"/status/{fast['id']}")).json()["status"] == "UNKNOWN"


async def _add_ticks(api: Api, website_id: str, count: int) -> list[datetime]:
    """Store count ticks through the worker's writer, alternating regions; return slots."""
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    times = [base + timedelta(seconds=10 * i) for i in range(count)]
    for i, when in enumerate(times):
        row = TickRow(
            website_id=uuid.UUID(website_id),
            status=Status.DOWN if i % 3 == 0 else Status.UP,
            status_code=500 if i % 3 == 0 else 200,
            response_time_ms=i,
            error="status 500" if i % 3 == 0 else None,
            scheduled_at=when,
            checked_at=when + timedelta(milliseconds=250 + i),
        )
        await write_ticks(api.state.engine, "eu" if i % 2 else "us", [row])
    return times


async def test_ticks_newest_first_with_before_paging(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    await _add_regions(api, "eu", "us")
    times = await _add_ticks(api, site["id"], 7)
    path = f"/website/{site['id']}/ticks"

    first = (await owner.get(path, params={"limit": 3})).json()
    assert [_ts(t["scheduled_at"]) for t in first["items"]] == times[::-1][:3]
    assert first["items"][0] == {
        "region_id": "us",
        "status": "DOWN",
        "status_code": 500,
        "response_time_ms": 6,
        "error": "status 500",
        "scheduled_at": first["items"][0]["scheduled_at"],
        "checked_at": first["items"][0]["checked_at"],
    }
    # checked_at is stored as milliseconds after the slot, and read back exactly.
    assert _ts(first["items"][0]["checked_at"]) == times[6] + timedelta(milliseconds=256)
    assert first["items"][1]["error"] is None

    seen: list[datetime] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor is not None:
            params["before"] = cursor
        page = (await owner.get(path, params=params)).json()
        seen += [_ts(t["scheduled_at"]) for t in page["items"]]
        cursor = page["next_before"]
        if cursor is None:
            break
    assert seen == times[::-1]  # all seven, newest first, none twice

    # `before` without an offset is read as UTC.
    naive = times[3].replace(tzinfo=None).isoformat()
    older = (await owner.get(path, params={"before": naive})).json()["items"]
    assert [_ts(t["scheduled_at"]) for t in older] == times[:3][::-1]


async def test_ticks_page_size_is_bounded(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    await _add_regions(api, "eu", "us")
    await _add_ticks(api, site["id"], 3)
    path = f"/website/{site['id']}/ticks"
    assert len((await owner.get(path)).json()["items"]) == 3
    assert (await owner.get(path, params={"limit": 100})).status_code == 200
    for params in (
        {"limit": 0},
        {"limit": 101},
        {"before": "yesterday"},
        {"before": "1e999"},
        {"before": "1700000000"},
        {"before": ""},
    ):
        response = await owner.get(path, params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"][0] == "query"


async def test_ticks_of_another_users_website_are_404(
    api: Api, owner: Client, other: Client
) -> None:
    site = await create_website(owner)
    await _add_regions(api, "eu", "us")
    await _add_ticks(api, site["id"], 2)
    assert (await other.get(f"/website/{site['id']}/ticks")).status_code == 404


async def _add_ticks_at(api: Api, website_id: str, at: list[tuple[datetime, str]]) -> None:
    """Store one tick per (slot, region); response_time_ms numbers them in list order."""
    for i, (when, region) in enumerate(at):
        row = TickRow(
            website_id=uuid.UUID(website_id),
            status=Status.UP,
            status_code=200,
            response_time_ms=i,
            error=None,
            scheduled_at=when,
            checked_at=when,
        )
        await write_ticks(api.state.engine, region, [row])


async def _pages(owner: Client, path: str, limit: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    params: dict[str, str | int] = {"limit": limit}
    while True:
        response = await owner.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        if body["next_cursor"] is None:
            return pages
        params = {"limit": limit, "cursor": body["next_cursor"]}


async def test_cursor_never_skips_nor_repeats_ticks_sharing_a_time(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    regions = [f"r{n:02d}" for n in range(12)]
    await _add_regions(api, "eu", *regions)
    shared = datetime.now(UTC).replace(microsecond=123000) - timedelta(minutes=5)
    # Two older ticks, twelve of one slot from twelve regions (more than two pages of
    # five), one newer.
    at = [(shared - timedelta(seconds=20), "eu"), (shared - timedelta(seconds=10), "eu")]
    at += [(shared, region) for region in regions] + [(shared + timedelta(seconds=10), "eu")]
    await _add_ticks_at(api, site["id"], at)

    pages = await _pages(owner, f"/website/{site['id']}/ticks", 5)
    assert [len(p) for p in pages] == [5, 5, 5, 0]
    seen = [t["response_time_ms"] for page in pages for t in page]
    # Newest first; ticks of the same slot by region, last first; each exactly once.
    assert seen == [14, *range(13, 1, -1), 1, 0]

    # `before` keeps its documented meaning: strictly older than the time given.
    older = (await owner.get(f"/website/{site['id']}/ticks", params={"before": shared})).json()
    assert [t["response_time_ms"] for t in older["items"]] == [1, 0]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": ""},
        {"cursor": base64.urlsafe_b64encode(b"2030-01-01T00:00:00|5").decode()},
        {"cursor": base64.urlsafe_b64encode(b"2030-01-01T00:00:00+00:00|").decode()},
        {"cursor": base64.urlsafe_b64encode(b"2030-01-01T00:00:00+00:00|" + b"9" * 65).decode()},
        {"cursor": base64.urlsafe_b64encode(b"2030-01-01T00:00:00+00:00|eu\n").decode()},
        {"cursor": base64.urlsafe_b64encode(b"0001-01-01T00:00:00+01:00|5").decode()},
        {"cursor": "x" * 201},
        {"cursor": "AAAA", "before": "2030-01-01T00:00:00Z"},
    ],
)
async def test_a_bad_cursor_is_422(api: Api, owner: Client, params: dict[str, str]) -> None:
    site = await create_website(owner)
    response = await owner.get(f"/website/{site['id']}/ticks", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]
