"""Status pages for browsers and caches: ETag and 304, HEAD, and the short server-side cache."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, select

from betteruptime.db.models import Incident, StatusPage, StatusPageWebsite
from betteruptime.rules.status import Status
from tests.api.conftest import Api, AppFactory
from tests.web.conftest import Browser, new_browser
from tests.web.helpers import add_websites, counting_statements, user_id


async def _page(
    alice: Browser,
    api: Api,
    slug: str = "acme",
    size: int = 3,
    statuses: list[Status] | None = None,
) -> StatusPage:
    ids = await add_websites(
        api,
        await user_id(api, "alice"),
        size,
        statuses=statuses or [Status.UP, Status.DOWN],
        name=slug,
    )
    response = await alice.submit(
        "/status-pages/new",
        {"title": "Acme status", "slug": slug, "website_ids": [str(i) for i in ids]},
    )
    assert response.status_code == 303, response.text[-2000:]
    async with api.session() as session:
        page = await session.scalar(select(StatusPage).where(StatusPage.slug == slug))
    assert page is not None
    return page


async def _open_incidents(api: Api, page: StatusPage) -> None:
    """Open an incident for each of the page's websites, as the alerter would."""
    async with api.session() as session:
        ids = list(
            await session.scalars(
                select(StatusPageWebsite.website_id).where(
                    StatusPageWebsite.status_page_id == page.id
                )
            )
        )
        now = datetime.now(UTC)
        await session.execute(
            insert(Incident),
            [
                {
                    "id": uuid.uuid4(),
                    "website_id": i,
                    "state": "open",
                    "started_at": now,
                    "detected_at": now,
                    "cause": {},
                }
                for i in ids
            ],
        )
        await session.commit()


async def test_a_current_etag_gets_304_in_any_form_and_head_has_no_body(
    alice: Browser, api: Api
) -> None:
    await _page(alice, api)
    visitor = new_browser(api)
    first = await visitor.get("/s/acme")
    assert first.status_code == 200 and first.headers["content-type"] == "text/html; charset=utf-8"
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10
    for header in (etag, f"W/{etag}", f'"older", {etag}'):
        again = await visitor.get("/s/acme", headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == "public, max-age=60"
        assert "default-src 'none'" in again.headers["Content-Security-Policy"]
    head = await visitor.http.head("/s/acme")
    assert head.status_code == 200 and head.content == b""
    for name in ("ETag", "Cache-Control", "Content-Type", "Content-Security-Policy"):
        assert head.headers[name] == first.headers[name], name
    assert head.headers["Content-Length"] == first.headers["Content-Length"]
    conditional = await visitor.http.head("/s/acme", headers={"If-None-Match": etag})
    assert conditional.status_code == 304
    assert (await visitor.http.head("/s/nope")).status_code == 404


async def test_a_cached_page_costs_one_lookup_and_an_edit_shows_at_once(
    alice: Browser, api: Api
) -> None:
    page = await _page(alice, api, statuses=[Status.UP])
    visitor = new_browser(api)
    with counting_statements(api) as first:
        rendered = await visitor.get("/s/acme")
    await _open_incidents(api, page)
    with counting_statements(api) as second:
        again = await visitor.get("/s/acme")
    assert len(first) > 3 and len(second) == 1  # only the slug's lookup
    # The incidents opened meanwhile show once the cache expires (STATUS_PAGE_CACHE_SECONDS).
    assert again.content == rendered.content and again.headers["ETag"] == rendered.headers["ETag"]
    assert "All systems operational" in again.text
    edited = await alice.submit(
        f"/status-pages/{page.id}/edit",
        {"title": "Renamed status", "slug": "acme"},
        form_page=f"/status-pages/{page.id}/edit",
    )
    assert edited.status_code == 303
    fresh = await visitor.get("/s/acme")
    assert "Renamed status" in fresh.text and fresh.headers["ETag"] != rendered.headers["ETag"]


async def test_visitors_arriving_together_share_one_render(alice: Browser, api: Api) -> None:
    await _page(alice, api, size=5)
    visitors = [new_browser(api) for _ in range(6)]
    with counting_statements(api) as alone:
        await new_browser(api).get("/s/acme")
    # A second page renders while the first is cached: the count of one render.
    await _page(alice, api, slug="second", size=5)
    with counting_statements(api) as together:
        answers = await asyncio.gather(*(v.get("/s/second") for v in visitors))
    assert {a.status_code for a in answers} == {200}
    assert len({a.headers["ETag"] for a in answers}) == 1
    # One render, and one slug lookup per visitor.
    assert len(together) == len(alone) + len(visitors) - 1, (len(alone), len(together))


async def test_with_the_cache_off_every_request_computes_the_page(start_api: AppFactory) -> None:
    async with start_api(status_page_cache_seconds=0) as api:
        alice = new_browser(api)
        await alice.register("alice")
        page = await _page(alice, api, statuses=[Status.UP])
        visitor = new_browser(api)
        with counting_statements(api) as first:
            before = await visitor.get("/s/acme")
        await _open_incidents(api, page)
        with counting_statements(api) as second:
            after = await visitor.get("/s/acme")
        assert len(second) == len(first) > 3
        assert "All systems operational" in before.text and "Major outage" in after.text


async def test_the_page_is_gzipped_for_clients_that_accept_it_with_its_own_etag(
    alice: Browser, api: Api
) -> None:
    await _page(alice, api, size=40)
    visitor = new_browser(api)
    plain = await visitor.get("/s/acme", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = await visitor.get("/s/acme", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    # httpx unzipped it: the same page, in a tenth of the bytes or less on the wire.
    assert zipped.content == plain.content
    async with visitor.http.stream("GET", "/s/acme", headers={"Accept-Encoding": "gzip"}) as raw:
        body = b"".join([chunk async for chunk in raw.aiter_raw()])
    assert gzip.decompress(body) == plain.content
    wire = int(zipped.headers["Content-Length"])
    assert wire == len(body)
    assert wire * 10 < int(plain.headers["Content-Length"]) == len(plain.content)
    for answer in (plain, zipped):
        assert answer.headers["Vary"] == "Accept-Encoding"
        assert answer.headers["Cache-Control"] == "public, max-age=60"
    # Two encodings are two representations, each with its own ETag; either is current.
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    for etag in (plain.headers["ETag"], zipped.headers["ETag"]):
        for encoding in ("identity", "gzip"):
            again = await visitor.get(
                "/s/acme", headers={"If-None-Match": etag, "Accept-Encoding": encoding}
            )
            assert again.status_code == 304 and again.content == b"", (etag, encoding)
    # HEAD: the gzipped answer's headers, its length too, without a body.
    head = await visitor.http.head("/s/acme", headers={"Accept-Encoding": "gzip"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(wire)
    assert head.headers["ETag"] == zipped.headers["ETag"]
    # gzip refused with q=0 (or not offered): the plain page.
    for header in ("gzip;q=0", "br", "gzip;q=0, *"):
        refused = await visitor.get("/s/acme", headers={"Accept-Encoding": header})
        assert "content-encoding" not in refused.headers, header
    assert (await visitor.get("/s/acme", headers={"Accept-Encoding": "*"})).headers.get(
        "content-encoding"
    ) == "gzip"


async def test_pages_with_a_csrf_token_are_never_compressed(alice: Browser, api: Api) -> None:
    # BREACH: a page that holds a secret (the CSRF token) beside text from the request (the
    # search box) must not be compressed, or its size would leak the secret bit by bit.
    await add_websites(api, await user_id(api, "alice"), 60)
    for path in ("/?q=csrf_token", "/websites/new", "/account", "/status-pages/new"):
        answer = await alice.get(path, headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200, path
        assert 'name="csrf_token"' in answer.text, path
        assert "content-encoding" not in answer.headers, path
