"""Incidents on a public status page: the chosen websites' open and last 14 days' ones only."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from betteruptime.db.models import Incident, Website
from betteruptime.rules.status import Status
from betteruptime.web.templating import format_utc
from tests.api.conftest import Api
from tests.web.conftest import Browser, new_browser
from tests.web.helpers import add_websites, counting_statements, user_id


async def _incident(
    api: Api,
    website_id: uuid.UUID,
    started: datetime,
    resolved: datetime | None,
    state: str | None = None,
) -> None:
    async with api.session() as session:
        await session.execute(
            insert(Incident).values(
                id=uuid.uuid4(),
                website_id=website_id,
                state=state or ("resolved" if resolved else "open"),
                started_at=started,
                detected_at=started + timedelta(minutes=1),
                resolved_at=resolved,
                cause={"regions": {"eu": "HTTP 503 from 10.0.0.7"}},
            )
        )
        await session.commit()


async def _page(alice: Browser, website_ids: list[uuid.UUID], **fields: object) -> None:
    response = await alice.submit(
        "/status-pages/new",
        {"title": "Acme status", "slug": "acme", "website_ids": [str(i) for i in website_ids]}
        | fields,
    )
    assert response.status_code == 303, response.text[-2000:]


def _incidents_section(html: str) -> str:
    found = re.search(
        r'<section class="card" aria-labelledby="incidents-title">(.*?)</section>', html, re.S
    )
    assert found, "no incidents section"
    return found.group(1)


async def test_open_and_recent_incidents_of_chosen_websites_show(alice: Browser, api: Api) -> None:
    owner = await user_id(api, "alice")
    now = datetime.now(UTC).replace(microsecond=0)
    # shown 0 is down (add_websites opens its incident); shown 1 recovered three times.
    down, flaky = await add_websites(api, owner, 2, statuses=[Status.DOWN, Status.UP], name="shown")
    (hidden,) = await add_websites(api, owner, 1, statuses=[Status.DOWN], name="secret")
    recent = now - timedelta(days=3)
    await _incident(api, flaky, recent, recent + timedelta(minutes=12))
    long_one = now - timedelta(days=16)
    await _incident(api, flaky, long_one, now - timedelta(days=13))  # ended within 14 days
    old = now - timedelta(days=20)
    await _incident(api, flaky, old, old + timedelta(hours=1))  # ended 20 days ago
    bob = new_browser(api)
    await bob.register("bob")
    (bobs,) = await add_websites(
        api, await user_id(api, "bob"), 1, statuses=[Status.DOWN], name="bobs"
    )
    await _page(alice, [down, flaky])

    html = (await new_browser(api).get("/s/acme")).text
    section = _incidents_section(html)
    items = re.findall(r'<li class="incident">(.*?)</li>', section, re.S)
    assert len(items) == 3, section
    ongoing, *resolved = items
    assert "shown 0" in ongoing and ">Ongoing<" in ongoing and "so far" in ongoing
    # Newest first: the 12-minute one three days ago, then the one that ended 13 days ago.
    assert "shown 1" in resolved[0] and ">Resolved<" in resolved[0]
    assert format_utc(recent) in resolved[0] and "for 12 min" in resolved[0]
    assert format_utc(recent + timedelta(minutes=12)) in resolved[0]
    assert f'datetime="{recent.isoformat()}"' in resolved[0]
    assert format_utc(long_one) in resolved[1] and "for 3 d" in resolved[1]
    assert format_utc(old) not in html
    for private in ("secret", "bobs", str(hidden), str(bobs), "10.0.0.7", "shown-0.example.com"):
        assert private not in html
    assert "Partial outage" in html


async def test_incidents_name_websites_without_leaking_urls(alice: Browser, api: Api) -> None:
    owner = await user_id(api, "alice")
    (nameless,) = await add_websites(api, owner, 1, statuses=[Status.DOWN], name="anon")
    async with api.session() as session:
        await session.execute(update(Website).where(Website.id == nameless).values(name=None))
        await session.commit()
    await _page(alice, [nameless])
    html = (await new_browser(api).get("/s/acme")).text
    assert "anon-0.example.com" not in html
    assert _incidents_section(html).count("Unnamed service") == 1
    assert "Major outage" in html


async def test_a_page_without_incidents_says_so_and_the_banner_follows_incidents(
    alice: Browser, api: Api
) -> None:
    owner = await user_id(api, "alice")
    a, b = await add_websites(api, owner, 2, statuses=[Status.UP], name="site")
    await _page(alice, [a, b])
    html = (await new_browser(api).get("/s/acme")).text
    assert "No incidents in the last 14 days." in html
    assert "All systems operational" in html
    # A region reporting DOWN is not an outage until an incident opens (DESIGN: status and
    # incident semantics); an acknowledged incident is still unresolved, so still down.
    await _incident(api, a, datetime.now(UTC) - timedelta(minutes=3), None, state="acknowledged")
    await alice.submit(
        "/status-pages/new", {"title": "Second", "slug": "second", "website_ids": [str(a), str(b)]}
    )
    html = (await new_browser(api).get("/s/second")).text
    assert "Partial outage" in html and ">Ongoing<" in _incidents_section(html)
    await _incident(api, b, datetime.now(UTC) - timedelta(minutes=2), None)
    await alice.submit(
        "/status-pages/new", {"title": "Third", "slug": "third", "website_ids": [str(a), str(b)]}
    )
    html = (await new_browser(api).get("/s/third")).text
    assert "Major outage" in html and _incidents_section(html).count(">Ongoing<") == 2


async def test_incidents_and_bars_take_the_same_queries_for_5_and_40_websites(
    alice: Browser, api: Api
) -> None:
    owner = await user_id(api, "alice")
    counts = []
    now = datetime.now(UTC)
    for slug, size in (("five", 5), ("forty", 40)):
        ids = await add_websites(api, owner, size, statuses=[Status.UP, Status.DOWN], name=slug)
        for i, website_id in enumerate(ids):
            await _incident(
                api, website_id, now - timedelta(days=2, hours=i), now - timedelta(days=1)
            )
        response = await alice.submit(
            "/status-pages/new",
            {"title": slug, "slug": slug, "website_ids": [str(i) for i in ids]},
        )
        assert response.status_code == 303
        with counting_statements(api) as statements:
            html = (await new_browser(api).get(f"/s/{slug}")).text
        counts.append(len(statements))
        section = _incidents_section(html)
        assert section.count(">Ongoing<") == size // 2 and section.count(">Resolved<") == size
    assert counts[0] == counts[1], counts


async def test_past_the_fiftieth_resolved_incident_the_page_says_older_ones_are_left_out(
    alice: Browser, api: Api
) -> None:
    (flappy,) = await add_websites(
        api, await user_id(api, "alice"), 1, statuses=[Status.UP], name="flappy"
    )
    now = datetime.now(UTC)
    for i in range(52):
        started = now - timedelta(hours=5 * i + 1)
        await _incident(api, flappy, started, started + timedelta(minutes=3))
    await _page(alice, [flappy])
    section = _incidents_section((await new_browser(api).get("/s/acme")).text)
    assert section.count('<li class="incident">') == 50
    assert "Earlier incidents of the last 14 days are not listed." in section
    assert format_utc(now - timedelta(hours=1)) in section  # the newest is listed


async def test_names_are_escaped_in_services_and_incidents(alice: Browser, api: Api) -> None:
    (shop,) = await add_websites(api, await user_id(api, "alice"), 1, statuses=[Status.DOWN])
    async with api.session() as session:
        await session.execute(
            update(Website).where(Website.id == shop).values(name='<b>Shop & "Co"</b>')
        )
        await session.commit()
    await _page(alice, [shop])
    html = (await new_browser(api).get("/s/acme")).text
    assert "<b>Shop" not in html
    escaped = "&lt;b&gt;Shop &amp; &#34;Co&#34;&lt;/b&gt;"
    assert html.count(escaped) == 3  # the service, its bars' label, and its incident
