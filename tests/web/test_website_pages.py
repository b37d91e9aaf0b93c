"""Websites in a browser: add, see, edit with the API's rules, delete; the dashboard."""

from __future__ import annotations

import re
import uuid

import pytest

from betteruptime.db.models import Website
from betteruptime.rules.status import Status
from tests.api.conftest import Api
from tests.web.conftest import Browser, new_browser
from tests.web.helpers import add_websites, counting_statements, user_id

FORM = {"url": "https://example.com/", "name": "Example", "interval_seconds": "60"}


def _errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error" id="e-(\w+)">([^<]*)</p>', html))


async def _add(browser: Browser, **fields: str) -> str:
    response = await browser.submit("/websites/new", {**FORM, "enabled": "on", **fields})
    assert response.status_code == 303, response.text[:3000]
    location: str = response.headers["location"]
    return location.rsplit("/", 1)[1]


async def test_the_form_has_its_labels_and_buttons(alice: Browser) -> None:
    page = (await alice.get("/websites/new")).text
    for label in ("URL", "Name", "Check interval (seconds)", "Timeout (seconds)"):
        assert f">{label}</label>" in page
    assert ">Add website</button>" in page
    website_id = await _add(alice)
    edit = (await alice.get(f"/websites/{website_id}/edit")).text
    assert ">Save</button>" in edit and 'value="https://example.com/"' in edit


async def test_added_website_is_stored_and_listed(alice: Browser, api: Api) -> None:
    website_id = await _add(alice, name="My <b>shop</b>")
    async with api.session() as session:
        website = await session.get(Website, uuid.UUID(website_id))
    assert website is not None
    assert (website.url, website.interval_seconds, website.enabled) == (
        "https://example.com/",
        60,
        True,
    )
    assert website.timeout_seconds == 10  # the API's default
    detail = await alice.get(f"/websites/{website_id}")
    assert "UNKNOWN" in detail.text
    dashboard = (await alice.get("/")).text
    assert "My &lt;b&gt;shop&lt;/b&gt;" in dashboard  # escaped, never markup
    assert "<b>shop</b>" not in dashboard
    assert 'class="status status-unknown">UNKNOWN<' in dashboard


async def test_bad_values_show_errors_keep_input_and_save_nothing(alice: Browser, api: Api) -> None:
    website_id = await _add(alice)
    before = await api.snapshot()
    bad = {
        "url": "ftp://example.com/",
        "name": "renamed",
        "interval_seconds": "abc",
        "timeout_seconds": "10",
    }
    response = await alice.submit(
        f"/websites/{website_id}/edit", bad, form_page=f"/websites/{website_id}/edit"
    )
    assert response.status_code == 422
    errors = _errors(response.text)
    assert errors["interval_seconds"] == "Check interval (seconds) must be a whole number"
    assert 'value="abc"' in response.text and 'value="renamed"' in response.text
    assert await api.snapshot() == before

    for fields, field, message in (
        ({"url": "ftp://example.com/"}, "url", "must start with http:// or https://"),
        ({"interval_seconds": "1"}, "interval_seconds", "must be between 10 and 86400"),
        ({"timeout_seconds": "120"}, "timeout_seconds", "60"),
        ({"interval_seconds": "20", "timeout_seconds": "30"}, "timeout_seconds", "exceed"),
        ({"url": "http://127.0.0.1/"}, "url", "is not an allowed target"),
        ({"name": "n" * 201}, "name", "200"),
    ):
        response = await alice.submit(
            f"/websites/{website_id}/edit",
            {**FORM, **fields},
            form_page=f"/websites/{website_id}/edit",
        )
        assert response.status_code == 422, fields
        assert message in _errors(response.text).get(field, ""), (fields, response.text[-3000:])
    assert await api.snapshot() == before


async def test_form_and_api_refuse_the_same_values_with_the_same_words(
    alice: Browser, api: Api
) -> None:
    token = (
        await api.http.post(
            "/user/login", json={"username": "alice", "password": "correct horse battery staple"}
        )
    ).json()["token"]
    for url in ("ftp://example.com/", "http://user:pw@example.com/", "http://localhost/"):
        answer = await api.http.post(
            "/website", json={"url": url}, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 422
        api_message = answer.json()["detail"][0]["msg"]
        page = await alice.submit("/websites/new", {**FORM, "url": url})
        assert page.status_code == 422
        assert _errors(page.text)["url"] == f"URL {api_message}"


async def test_duplicate_url_and_edit_save(alice: Browser, api: Api) -> None:
    website_id = await _add(alice)
    again = await alice.submit("/websites/new", FORM)
    assert again.status_code == 409
    assert _errors(again.text)["url"] == "URL you already monitor this URL"
    saved = await alice.submit(
        f"/websites/{website_id}/edit",
        {"url": "https://example.org/", "name": "", "interval_seconds": "120"},
        form_page=f"/websites/{website_id}/edit",
    )
    assert saved.status_code == 303
    async with api.session() as session:
        website = await session.get(Website, uuid.UUID(website_id))
    assert website is not None
    assert (website.url, website.name, website.interval_seconds, website.enabled) == (
        "https://example.org/",
        None,
        120,
        False,  # the box was not ticked
    )


async def test_delete_asks_first_then_deletes(alice: Browser, api: Api) -> None:
    website_id = await _add(alice)
    confirm = await alice.get(f"/websites/{website_id}/delete")
    assert confirm.status_code == 200
    assert f'action="/websites/{website_id}/delete"' in confirm.text
    assert await api.count(Website) == 1
    done = await alice.submit(
        f"/websites/{website_id}/delete", form_page=f"/websites/{website_id}/delete"
    )
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert await api.count(Website) == 0
    assert (await alice.get(f"/websites/{website_id}")).status_code == 404


async def test_another_users_website_is_a_404_page(alice: Browser, api: Api) -> None:
    website_id = await _add(alice)
    bob = new_browser(api)
    await bob.register("bob")
    before = await api.snapshot()
    for path in ("", "/edit", "/delete"):
        response = await bob.get(f"/websites/{website_id}{path}")
        assert response.status_code == 404
        assert "Website not found" in response.text
        assert response.headers["content-type"].startswith("text/html")
    for path in ("/edit", "/delete", "/badge-key"):
        response = await bob.submit(f"/websites/{website_id}{path}", FORM, form_page="/")
        assert response.status_code == 404
    assert await api.snapshot() == before
    for bad in ("not-a-uuid", "0", str(uuid.uuid4()), "%00"):
        assert (await bob.get(f"/websites/{bad}")).status_code == 404


async def test_badge_key_can_be_replaced_from_the_page(alice: Browser, api: Api) -> None:
    website_id = await _add(alice)
    async with api.session() as session:
        website = await session.get(Website, uuid.UUID(website_id))
        assert website is not None
        old = website.badge_key
    page = (await alice.get(f"/websites/{website_id}")).text
    assert f"/badge/{old}/status.svg" in page
    response = await alice.submit(
        f"/websites/{website_id}/badge-key", form_page=f"/websites/{website_id}"
    )
    assert response.status_code == 303
    assert (await alice.get(f"/badge/{old}/status.svg")).status_code == 404


async def test_dashboard_searches_filters_and_pages(alice: Browser, api: Api) -> None:
    owner = await user_id(api, "alice")
    await add_websites(api, owner, 120, statuses=[Status.UP, Status.UP, Status.DOWN])
    await add_websites(api, owner, 3, name="quiet")  # never checked: UNKNOWN
    first = (await alice.get("/")).text
    assert "123 websites" in first and "page 1 of 3" in first
    assert first.count('<td class="site">') == 50
    third = (await alice.get("/?p=3")).text
    assert third.count('<td class="site">') == 23
    down = (await alice.get("/?status=DOWN")).text
    assert "40 websites match" in down
    assert "status-up" not in down and down.count("status-down") == 40
    unknown = (await alice.get("/?status=unknown")).text
    assert "3 websites match" in unknown and "quiet 0" in unknown
    found = (await alice.get("/?q=site+11")).text
    # "site 11" and "site 110" to "site 119"
    assert "11 websites match" in found
    literal = (await alice.get("/?q=%25")).text  # % is searched for, not a wildcard
    assert "0 websites match" in literal
    for bad in ("/?p=0", "/?p=x", "/?p=99999999", "/?status=SIDEWAYS"):
        response = await alice.get(bad)
        assert response.status_code == 400, bad
        assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("status_filter", ["", "DOWN"])
async def test_dashboard_runs_the_same_queries_for_5_and_50_websites(
    alice: Browser, api: Api, status_filter: str
) -> None:
    owner = await user_id(api, "alice")
    counts = []
    for more in (5, 45):
        await add_websites(api, owner, more, statuses=[Status.UP, Status.DOWN], name=f"n{more}")
        with counting_statements(api) as statements:
            response = await alice.get(f"/?status={status_filter}")
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
