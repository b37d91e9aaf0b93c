"""Uptime, daily bars, sparklines and the uptime and response-time badges, from real ticks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from betteruptime.db.models import Website
from betteruptime.db.ticks import TickRow, register_region, write_ticks
from betteruptime.rules.status import Status
from tests.api.conftest import Api
from tests.web.conftest import Browser, new_browser
from tests.web.helpers import add_websites, counting_statements, user_id


async def _ticks(api: Api, website_id: uuid.UUID, statuses: list[Status]) -> None:
    await register_region(api.state.engine, "eu")
    now = datetime.now(UTC)
    rows = [
        TickRow(
            website_id=website_id,
            status=status,
            status_code=200 if status is Status.UP else 503,
            response_time_ms=100,
            error=None if status is Status.UP else "HTTP 503",
            scheduled_at=now - timedelta(seconds=10 * (i + 1)),
            checked_at=now - timedelta(seconds=10 * (i + 1)),
        )
        for i, status in enumerate(statuses)
    ]
    await write_ticks(api.state.engine, "eu", rows)


async def test_pages_and_badges_show_figures_of_real_ticks(alice: Browser, api: Api) -> None:
    owner = await user_id(api, "alice")
    checked, quiet = await add_websites(api, owner, 2)
    await _ticks(api, checked, [Status.UP, Status.UP, Status.UP, Status.DOWN])
    async with api.session() as session:
        key = await session.scalar(select(Website.badge_key).where(Website.id == checked))
        quiet_key = await session.scalar(select(Website.badge_key).where(Website.id == quiet))
    dashboard = (await alice.get("/")).text
    assert "75.00%" in dashboard  # 3 of 4 checks succeeded, within 24 h and 30 d
    assert 'class="spark-dot"' in dashboard or 'class="spark-line"' in dashboard
    detail = (await alice.get(f"/websites/{checked}")).text
    assert detail.count('<i title="') == 90
    assert '75.00% up (4 checks)" class="bad"></i>' in detail
    assert "site 0: 75.00% up over the last 90 days" in detail
    assert 'class="chart"' in detail

    visitor = new_browser(api)
    uptime = (await visitor.get(f"/badge/{key}/uptime/30d.json")).json()
    assert uptime == {
        "schemaVersion": 1,
        "label": "uptime 30d",
        "message": "75.00%",
        "color": "red",
    }
    response = (await visitor.get(f"/badge/{key}/response-time/24h.json")).json()
    assert response["message"] == "100 ms" and response["color"] == "brightgreen"
    svg = await visitor.get(f"/badge/{key}/uptime/90d.svg")
    assert svg.headers["content-type"] == "image/svg+xml" and "uptime 90d: 75.00%" in svg.text
    assert (await visitor.get(f"/badge/{quiet_key}/uptime/7d.json")).json()["message"] == "no data"
    for bad in (
        f"/badge/{key}/uptime/1y.svg",
        f"/badge/{key}/response-time/90d.svg",
        f"/badge/{key}/uptime/24h.gif",
    ):
        assert (await visitor.get(bad)).status_code == 404, bad


async def test_public_page_draws_90_days_per_website_in_fixed_queries(
    alice: Browser, api: Api
) -> None:
    owner = await user_id(api, "alice")
    counts = []
    for slug, size in (("five", 5), ("fifty", 50)):
        ids = await add_websites(api, owner, size, statuses=[Status.UP], name=slug)
        await _ticks(api, ids[0], [Status.UP, Status.DOWN])
        response = await alice.submit(
            "/status-pages/new",
            {"title": slug, "slug": slug, "website_ids": [str(i) for i in ids]},
        )
        assert response.status_code == 303
        with counting_statements(api) as statements:
            page = await new_browser(api).get(f"/s/{slug}")
        counts.append(len(statements))
        html = page.text
        assert html.count('<i title="') == 90 * size
        assert f"{slug} 0: 50.00% up over the last 90 days" in html
        assert f"{slug} 1: no checks in the last 90 days" in html
    assert counts[0] == counts[1], counts


async def test_daily_uptime_counts_what_daily_history_counts(alice: Browser, api: Api) -> None:
    from betteruptime.db import stats

    owner = await user_id(api, "alice")
    ids = await add_websites(api, owner, 3)
    await _ticks(api, ids[0], [Status.UP, Status.DOWN, Status.UP])
    await _ticks(api, ids[1], [Status.DOWN])
    now = datetime.now(UTC)
    async with api.session() as session:
        full = await stats.daily_history(session, ids, 90, now)
        light = await stats.daily_uptime(session, ids, 90, now)
    for website_id in ids:
        days = full[website_id]
        assert light[website_id].first == days[0].date
        assert light[website_id].checks == [d.checks for d in days]
        assert light[website_id].failures == [d.failures for d in days]
    assert light[ids[0]].checks[-1] == 3 and light[ids[0]].failures[-1] == 1
    assert light[ids[2]].checks == [0] * 90


async def test_uptime_under_the_bars_is_whole_when_the_name_has_a_colon(
    alice: Browser, api: Api
) -> None:
    owner = await user_id(api, "alice")
    [website_id] = await add_websites(api, owner, 1)
    async with api.session() as session:
        website = await session.get(Website, website_id)
        assert website is not None
        website.name = "API: production: eu"
        await session.commit()
    await _ticks(api, website_id, [Status.UP, Status.DOWN])
    detail = (await alice.get(f"/websites/{website_id}")).text
    legend = detail.split('<p class="bars-legend">', 1)[1].split("</p>", 1)[0]
    assert legend == (
        '<span aria-hidden="true">90 days ago</span>'
        "<span>50.00% up over the last 90 days</span>"
        '<span aria-hidden="true">today</span>'
    )
    # Screen readers still hear whose bars these are.
    assert 'aria-label="API: production: eu: 50.00% up over the last 90 days"' in detail
    # What a badge link reveals, said as the README says it (uptime and response time too).
    assert "sees this website's status, uptime and response time — nothing else." in detail
