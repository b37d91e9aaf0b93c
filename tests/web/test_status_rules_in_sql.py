"""The dashboard's status filter runs in SQL; it must agree with rules.status everywhere."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from betteruptime.db import listing
from betteruptime.db.models import Incident, Region, WebsiteStatus
from betteruptime.rules.status import FRESHNESS_GRACE, Status, overall_status, region_status
from tests.api.conftest import Api
from tests.web.conftest import Browser
from tests.web.helpers import add_websites, user_id

FRESH = timedelta(seconds=5)
# Just inside and just outside freshness for a 60 s interval (2 intervals + the grace).
EDGE_IN = 2 * timedelta(seconds=60) + FRESHNESS_GRACE - timedelta(seconds=2)
EDGE_OUT = 2 * timedelta(seconds=60) + FRESHNESS_GRACE + timedelta(seconds=2)
U, D = Status.UP, Status.DOWN
CASES: list[list[tuple[Status, timedelta]]] = [
    [],
    [(U, FRESH)],
    [(D, FRESH)],
    [(U, EDGE_IN)],
    [(D, EDGE_OUT)],
    [(U, FRESH), (D, FRESH)],  # half down: DOWN
    [(U, FRESH), (U, FRESH), (D, FRESH)],
    [(U, FRESH), (D, FRESH), (D, FRESH)],
    [(D, FRESH), (U, EDGE_OUT)],  # the stale UP does not count
    [(U, EDGE_OUT), (D, EDGE_OUT)],
    [(D, EDGE_IN), (U, FRESH), (U, FRESH)],
]


async def test_sql_filter_agrees_with_the_status_rules(alice: Browser, api: Api) -> None:
    owner = await user_id(api, "alice")
    ids = await add_websites(api, owner, len(CASES))
    now = datetime.now(UTC)
    regions = ["r0", "r1", "r2"]
    expected: dict[uuid.UUID, Status] = {}
    async with api.session() as session:
        for region in regions:
            session.add(Region(id=region, name=region))
        await session.flush()
        rows = []
        for website_id, case in zip(ids, CASES, strict=True):
            for region, (status, age) in zip(regions, case, strict=False):
                rows.append(
                    {
                        "website_id": website_id,
                        "region_id": region,
                        "status": status,
                        "status_code": None,
                        "response_time_ms": None,
                        "error": None,
                        "checked_at": now - age,
                        "changed_at": now - age,
                    }
                )
        # Every third website has an unresolved incident (whatever its regions say), and
        # every fifth a resolved one, which must not count.
        for i, (website_id, case) in enumerate(zip(ids, CASES, strict=True)):
            incident_open = i % 3 == 0
            if incident_open or i % 5 == 0:
                session.add(
                    Incident(
                        website_id=website_id,
                        state="acknowledged" if incident_open else "resolved",
                        started_at=now - timedelta(minutes=5),
                        detected_at=now - timedelta(minutes=4),
                        resolved_at=None if incident_open else now,
                        cause={},
                    )
                )
            expected[website_id] = overall_status(
                (region_status(status, now - age, 60, now) for status, age in case),
                incident_open=incident_open,
            )
        await session.execute(insert(WebsiteStatus), rows)
        await session.commit()
    assert set(expected.values()) == set(Status)  # every outcome is exercised
    async with api.session() as session:
        for status in Status:
            total, found = await listing.search_owned_by_status(
                session, owner, "", status, now, 100, 0
            )
            want = [i for i in ids if expected[i] is status]
            assert (total, found) == (len(want), want), status
