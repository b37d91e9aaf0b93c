"""The incidents list: one owner's, unresolved first, newest first, read from indexes in order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text

from betteruptime.db import incidents
from betteruptime.db.models import Incident
from tests.api.conftest import Api
from tests.web.conftest import Browser, new_browser
from tests.web.helpers import add_websites, user_id


async def _incidents(
    api: Api, websites: list[uuid.UUID], per_website: int, *, open_every: int = 3
) -> list[uuid.UUID]:
    """Insert resolved incidents for each website, and an open one for every open_every-th,
    without owner_id (as any writer does: the database fills it); return them in list order.
    """
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for w, website_id in enumerate(websites):
        for i in range(per_website):
            started = now - timedelta(hours=10 + i * len(websites) + w)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "website_id": website_id,
                    "state": "resolved",
                    "started_at": started,
                    "detected_at": started,
                    "resolved_at": started + timedelta(minutes=5),
                    "cause": {},
                }
            )
        if w % open_every == 0:
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "website_id": website_id,
                    "state": "open" if w % 2 else "acknowledged",
                    "started_at": now - timedelta(minutes=w),
                    "detected_at": now,
                    "cause": {},
                }
            )
    async with api.session() as session:
        await session.execute(insert(Incident), rows)
        await session.commit()
    unresolved = sorted(
        (r for r in rows if r["state"] != "resolved"),
        key=lambda r: (r["started_at"], r["id"]),
        reverse=True,
    )
    resolved = sorted(
        (r for r in rows if r["state"] == "resolved"),
        key=lambda r: (r["started_at"], r["id"]),
        reverse=True,
    )
    return [r["id"] for r in unresolved + resolved]


async def test_pages_list_unresolved_first_then_resolved_newest_first(
    alice: Browser, api: Api
) -> None:
    owner = await user_id(api, "alice")
    websites = await add_websites(api, owner, 12)
    expected = await _incidents(api, websites, 3)  # 4 unresolved, then 36 resolved
    await new_browser(api).register("bob")  # another owner's incidents never show
    await _incidents(api, await add_websites(api, await user_id(api, "bob"), 3, name="b"), 2)
    async with api.session() as session:
        assert await session.scalar(select(Incident.owner_id).limit(1)) is not None
        # Pages of 3 cross the border between the parts anywhere: walk them all.
        for size in (3, 4, 5):
            seen: list[uuid.UUID] = []
            more = True
            while more:
                rows, more = await incidents.incidents_page(
                    session, owner, limit=size, offset=len(seen)
                )
                assert rows or not more
                seen += [r.incident.id for r in rows]
            assert seen == expected, size
        rows, more = await incidents.incidents_page(session, owner, unresolved_only=True, limit=3)
        assert [r.incident.id for r in rows] == expected[:3] and more
        rows, more = await incidents.incidents_page(
            session, owner, unresolved_only=True, limit=3, offset=3
        )
        assert [r.incident.id for r in rows] == expected[3:4] and not more
        only = websites[0]
        rows, _ = await incidents.incidents_page(session, owner, website_id=only, limit=50)
        assert [r.incident.website_id for r in rows] == [only] * 4
        assert rows[0].incident.resolved_at is None
    page = await alice.get("/incidents?p=2")
    assert page.status_code == 200 and page.text.count('class="incident-title"') == 15


async def test_the_list_reads_indexes_in_order_not_every_incident(
    alice: Browser, api: Api, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("query plans are PostgreSQL's")
    owner = await user_id(api, "alice")
    await new_browser(api).register("bob")
    await _incidents(api, await add_websites(api, owner, 200), 40, open_every=10)
    await _incidents(api, await add_websites(api, await user_id(api, "bob"), 200, name="b"), 40)
    async with api.session() as session:
        await session.execute(text("ANALYZE"))
        await session.commit()
    # The statements a page view runs (with their parameters), on the first page and the
    # tenth. (Hundreds of pages deep, OFFSET reads that many rows anyway: PostgreSQL may
    # rightly prefer to scan and sort half the owner's incidents then.)
    ran: list[tuple[str, tuple[Any, ...]]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        ran.append((statement, tuple(params or ())))

    engine = api.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for p in (1, 10):
            assert (await alice.get(f"/incidents?p={p}")).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    listing = [(s, params) for s, params in ran if "ORDER BY incident.started_at DESC" in s]
    assert len(listing) >= 3, ran
    async with api.state.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        for statement, params in listing:
            plan = "\n".join(r[0] for r in await raw.fetch(f"EXPLAIN {statement}", *params))
            # The old ORDER BY resolved-last sorted every incident of the owner.
            assert "Sort" not in plan, plan
            assert "ix_incident_owner_" in plan, plan
