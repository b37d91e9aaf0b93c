"""Status pages and badges: public, cacheable, fixed queries, and nothing unpublished shown."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from sqlalchemy import select, update

from betteruptime.db.models import StatusPage, Website, WebsiteStatus
from betteruptime.rules.status import Status
from tests.api.conftest import Api, insert_incident
from tests.web.conftest import Browser, new_browser
from tests.web.helpers import add_websites, counting_statements, user_id


async def _page(alice: Browser, **fields: object) -> None:
    response = await alice.submit(
        "/status-pages/new",
        {"title": "Acme status", "slug": "acme", **fields},
    )
    assert response.status_code == 303, response.text[-3000:]


async def test_status_pages_are_managed_in_the_browser(alice: Browser, api: Api) -> None:
    owner = await user_id(api, "alice")
    a, b = await add_websites(api, owner, 2, statuses=[Status.UP])
    listing = await alice.get("/status-pages")
    assert listing.status_code == 200 and "New status page" in listing.text
    form = (await alice.get("/status-pages/new")).text
    for label in ("Title", "Slug", "Show website URLs", "site 0", "site 1"):
        assert label in form
    await _page(alice, website_ids=[str(b)])
    listing = await alice.get("/status-pages")
    assert "/s/acme" in listing.text
    async with api.session() as session:
        page = await session.scalar(select(StatusPage))
    assert page is not None
    edit = await alice.get(f"/status-pages/{page.id}/edit")
    assert f'value="{b}" checked' in edit.text and f'value="{a}" checked' not in edit.text
    saved = await alice.submit(
        f"/status-pages/{page.id}/edit",
        {"title": "Acme", "slug": "acme-2", "website_ids": [str(a), str(b)], "show_urls": "on"},
        form_page=f"/status-pages/{page.id}/edit",
    )
    assert saved.status_code == 303
    public = await new_browser(api).get("/s/acme-2")
    assert public.status_code == 200 and "site 0" in public.text and "site 1" in public.text
    confirm = await alice.get(f"/status-pages/{page.id}/delete")
    assert "Delete status page" in confirm.text
    gone = await alice.submit(
        f"/status-pages/{page.id}/delete", form_page=f"/status-pages/{page.id}/delete"
    )
    assert gone.status_code == 303
    assert (await new_browser(api).get("/s/acme-2")).status_code == 404


async def test_bad_status_page_input_is_shown_and_saves_nothing(alice: Browser, api: Api) -> None:
    await _page(alice)
    bob = new_browser(api)
    await bob.register("bob")
    bobs = await add_websites(api, await user_id(api, "bob"), 1, name="bobs")
    cases: list[tuple[dict[str, Any], str, int]] = [
        ({"title": "", "slug": "ok"}, "title", 422),
        ({"title": "t", "slug": "Not OK"}, "slug", 422),
        ({"title": "t", "slug": "acme"}, "slug", 409),
        ({"title": "t", "slug": "fine", "website_ids": [str(bobs[0])]}, "website_ids", 422),
        ({"title": "t", "slug": "fine", "website_ids": ["junk"]}, "website_ids", 422),
    ]
    for fields, field, status in cases:
        response = await alice.submit("/status-pages/new", fields)
        assert response.status_code == status, (fields, response.text[-2000:])
        assert f'id="e-{field}"' in response.text, fields
    assert await api.count(StatusPage) == 1
    # Bob neither sees nor changes Alice's page.
    async with api.session() as session:
        page = await session.scalar(select(StatusPage))
    assert page is not None
    assert (await bob.get(f"/status-pages/{page.id}/edit")).status_code == 404
    assert "/s/acme" not in (await bob.get("/status-pages")).text


async def test_public_page_shows_only_what_was_published(alice: Browser, api: Api) -> None:
    owner = await user_id(api, "alice")
    shown = await add_websites(api, owner, 2, statuses=[Status.UP, Status.DOWN], name="shown")
    hidden = await add_websites(api, owner, 1, statuses=[Status.DOWN], name="secret")
    await _page(alice, website_ids=[str(i) for i in shown])
    visitor = new_browser(api)
    page = await visitor.get("/s/acme")
    assert page.status_code == 200
    html = page.text
    assert "Partial outage" in html
    assert "shown 0" in html and "shown 1" in html
    assert ">UP<" in html and ">DOWN<" in html
    assert "secret" not in html and "shown-0.example.com" not in html  # URLs hidden
    async with api.session() as session:
        keys = list(await session.scalars(select(Website.badge_key)))
    for private in [*keys, *(str(i) for i in shown + hidden), "alice"]:
        assert private not in html
    assert "set-cookie" not in page.headers
    assert page.headers["Cache-Control"] == "public, max-age=60"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    async with api.session() as session:
        status_page = await session.scalar(select(StatusPage))
    assert status_page is not None
    changed = await alice.submit(
        f"/status-pages/{status_page.id}/edit",
        {"title": "Acme status", "slug": "acme", "website_ids": [str(shown[0])], "show_urls": "on"},
        form_page=f"/status-pages/{status_page.id}/edit",
    )
    assert changed.status_code == 303
    html = (await visitor.get("/s/acme")).text
    assert "https://shown-0.example.com/" in html and "All systems operational" in html
    assert "shown 1" not in html


async def test_public_page_answers_304_to_a_current_etag(alice: Browser, api: Api) -> None:
    owner = await user_id(api, "alice")
    ids = await add_websites(api, owner, 1, statuses=[Status.UP])
    await _page(alice, website_ids=[str(ids[0])])
    visitor = new_browser(api)
    first = await visitor.get("/s/acme")
    etag = first.headers["ETag"]
    again = await visitor.get("/s/acme", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag
    other = await visitor.get("/s/acme", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


async def test_unknown_slug_is_a_404_page(browser: Browser) -> None:
    for slug in ("nope", "x" * 300, "%3Cscript%3E"):
        response = await browser.get(f"/s/{slug}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Status page not found" in response.text
        assert "<script>" not in response.text


async def test_public_page_runs_the_same_queries_for_5_and_50_websites(
    alice: Browser, api: Api
) -> None:
    owner = await user_id(api, "alice")
    counts = []
    for slug, size in (("five", 5), ("fifty", 50)):
        ids = await add_websites(api, owner, size, statuses=[Status.UP, Status.DOWN], name=slug)
        await _page(alice, slug=slug, website_ids=[str(i) for i in ids])
        with counting_statements(api) as statements:
            response = await new_browser(api).get(f"/s/{slug}")
        assert response.status_code == 200
        assert response.text.count('class="service"') == size
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


async def test_status_badge_is_an_svg_and_shields_json(alice: Browser, api: Api) -> None:
    owner = await user_id(api, "alice")
    await add_websites(api, owner, 1, statuses=[Status.DOWN])
    async with api.session() as session:
        key = await session.scalar(select(Website.badge_key))
    assert key is not None
    visitor = new_browser(api)
    svg = await visitor.get(f"/badge/{key}/status.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.headers["Cache-Control"] == "public, max-age=60"
    root = ET.fromstring(svg.text)  # noqa: S314 - our own output, parsed to prove it is XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "status: down" in svg.text
    data = await visitor.get(f"/badge/{key}/status.json")
    assert data.json() == {"schemaVersion": 1, "label": "status", "message": "down", "color": "red"}
    for bad in (
        f"/badge/{'x' * 24}/status.svg",
        f"/badge/{key}/status.png",
        f"/badge/{key[:-1]}/status.svg",
        "/badge/%00/status.svg",
    ):
        response = await visitor.get(bad)
        assert response.status_code == 404, bad


async def test_pages_carry_the_security_headers(alice: Browser, browser: Browser) -> None:
    pages = [(alice, p) for p in ("/", "/websites/new", "/status-pages", "/account")]
    pages += [(browser, "/login"), (browser, "/register"), (browser, "/s/missing")]
    for client, path in pages:
        response = await client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert 'style="' not in response.text, path  # the CSP refuses inline styles
        assert "<script" not in response.text, path


async def test_status_pages_path_serves_browsers_and_api_clients(alice: Browser, api: Api) -> None:
    await _page(alice)
    html = await alice.get("/status-pages")
    assert html.headers["content-type"].startswith("text/html")
    token = (
        await api.http.post(
            "/user/login", json={"username": "alice", "password": "correct horse battery staple"}
        )
    ).json()["token"]
    as_json = await api.http.get(
        "/status-pages", headers={"Authorization": f"Bearer {token}", "Accept": "text/html"}
    )
    assert as_json.status_code == 200 and as_json.json()[0]["slug"] == "acme"
    assert (await api.http.get("/status-pages")).status_code == 401


async def test_odd_requests_get_4xx_pages_never_500(alice: Browser, api: Api) -> None:
    cases = [
        ("POST", "/websites/new", b"\xff\xfe", "application/x-www-form-urlencoded", 400),
        ("POST", "/websites/new", b'{"url": "x"}', "application/json", 415),
        ("POST", "/login", b"username=a", "text/plain", 415),
        ("POST", "/status-pages/not-a-uuid/edit", b"a=b", "application/x-www-form-urlencoded", 404),
        (
            "POST",
            "/websites/new",
            b"&".join([b"a=b"] * 2000),
            "application/x-www-form-urlencoded",
            400,
        ),
    ]
    for method, path, body, content_type, status in cases:
        response = await alice.http.request(
            method, path, content=body, headers={"Content-Type": content_type}
        )
        assert response.status_code == status, (path, response.text[-1500:])
        assert response.headers["content-type"].startswith("text/html")
    assert re.search(r"Error \d{3}", (await alice.get(f"/websites/{uuid.uuid4()}")).text)


async def test_status_badge_follows_incidents_not_the_last_raw_check(
    alice: Browser, api: Api
) -> None:
    owner = await user_id(api, "alice")
    # Its last check passed, but an incident is open: down (an incident closes on recovery).
    [recovering] = await add_websites(api, owner, 1, statuses=[Status.UP], name="recovering")
    await insert_incident(api, str(recovering))
    # Its last check failed, but no incident opened (not confirmed yet): still up.
    [flapping] = await add_websites(api, owner, 1, statuses=[Status.UP], name="flapping")
    async with api.session() as session:
        await session.execute(
            update(WebsiteStatus).where(WebsiteStatus.website_id == flapping).values(status="DOWN")
        )
        await session.commit()
        keys = {
            w: await session.scalar(select(Website.badge_key).where(Website.id == w))
            for w in (recovering, flapping)
        }
    visitor = new_browser(api)
    for website, message in ((recovering, "down"), (flapping, "up")):
        data = await visitor.get(f"/badge/{keys[website]}/status.json")
        assert data.json()["message"] == message, website
        svg = await visitor.get(f"/badge/{keys[website]}/status.svg")
        assert f"status: {message}" in svg.text, website
