"""Incidents in a browser: the list, one incident, Acknowledge and Resolve, and their guards."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import select

from betteruptime.db.models import Incident, IncidentEvent
from betteruptime.rules.status import Status
from tests.api.conftest import Api, insert_incident
from tests.web.conftest import Browser, csrf_of, new_browser
from tests.web.helpers import add_websites, user_id


async def _site(api: Api, username: str, name: str = "shop") -> str:
    [website_id] = await add_websites(api, await user_id(api, username), 1, name=name)
    return str(website_id)


async def _state(api: Api, incident_id: str) -> tuple[str, uuid.UUID | None, uuid.UUID | None]:
    async with api.session() as session:
        row = await session.get(Incident, uuid.UUID(incident_id))
        assert row is not None
        return row.state, row.acknowledged_by, row.resolved_by


def _titles(html: str) -> list[str]:
    """Return the incident links of a list page, in order."""
    return re.findall(r'class="incident-title" href="/incidents/([0-9a-f-]{36})"', html)


def _buttons(html: str, incident_id: str) -> list[str]:
    """Return the buttons of the forms that act on one incident."""
    return re.findall(
        rf'action="/incidents/{incident_id}/(acknowledge|resolve)"', html, flags=re.MULTILINE
    )


async def test_list_shows_open_first_with_times_cause_and_the_right_buttons(
    alice: Browser, api: Api
) -> None:
    site = await _site(api, "alice")
    old = await insert_incident(api, site, started_ago=timedelta(days=3), resolved_ago=timedelta(2))
    recent = await insert_incident(
        api, site, started_ago=timedelta(hours=5), resolved_ago=timedelta(hours=4)
    )
    other_site = await _site(api, "alice", name="blog")
    acked = await insert_incident(
        api, other_site, started_ago=timedelta(days=4), state="acknowledged"
    )
    opened = await insert_incident(api, site, started_ago=timedelta(minutes=5))

    page = await alice.get("/incidents")
    assert page.status_code == 200
    # Unresolved first (newest first among them), then resolved, newest first.
    assert _titles(page.text) == [opened, acked, recent, old]
    assert "shop 0" in page.text and "https://shop-0.example.com/" in page.text
    assert "blog 0" in page.text
    assert 'class="status status-open">OPEN<' in page.text
    assert 'class="status status-acknowledged">ACKNOWLEDGED<' in page.text
    assert page.text.count('class="status status-resolved">RESOLVED<') == 2
    assert "status 503 (in eu, us)" in page.text
    assert "1 h" in page.text  # the recent one lasted an hour
    assert "so far" in page.text  # the open ones still run
    assert ">Started<" in page.text and ">Acknowledged<" in page.text and ">Resolved<" in page.text
    assert _buttons(page.text, opened) == ["acknowledge", "resolve"]
    assert _buttons(page.text, acked) == ["resolve"]
    assert _buttons(page.text, recent) == [] and _buttons(page.text, old) == []
    assert '<a href="/incidents" aria-current="page">Incidents</a>' in page.text

    only_open = await alice.get("/incidents?show=open")
    assert _titles(only_open.text) == [opened, acked]
    of_blog = await alice.get(f"/incidents?website={other_site}")
    assert _titles(of_blog.text) == [acked]
    assert "Incidents of blog 0" in of_blog.text


async def test_the_list_is_paged(alice: Browser, api: Api) -> None:
    site = await _site(api, "alice")
    resolved = [
        await insert_incident(
            api, site, started_ago=timedelta(hours=i + 2), resolved_ago=timedelta(hours=i + 1)
        )
        for i in range(25)
    ]
    opened = await insert_incident(api, site, started_ago=timedelta(minutes=1))
    first = await alice.get("/incidents")
    assert _titles(first.text) == [opened, *resolved[:24]]
    assert "1 open incident · page 1<" in first.text
    assert ">Open (1)<" in first.text
    assert 'href="/incidents?p=2" rel="next"' in first.text
    second = await alice.get("/incidents?p=2")
    assert _titles(second.text) == [resolved[24]]
    assert "page 2<" in second.text and 'rel="next"' not in second.text
    assert 'href="/incidents" rel="prev"' in second.text
    for bad in ("0", "x", "-1"):
        assert (await alice.get(f"/incidents?p={bad}")).status_code == 400
    assert (await alice.get("/incidents?show=closed")).status_code == 400


async def test_acknowledge_then_resolve_through_the_forms(alice: Browser, api: Api) -> None:
    alice_id = await user_id(api, "alice")
    site = await _site(api, "alice")
    incident_id = await insert_incident(api, site)
    detail = f"/incidents/{incident_id}"

    page = await alice.get(detail)
    assert page.status_code == 200
    assert ">Acknowledge</button>" in page.text and ">Resolve</button>" in page.text
    acked = await alice.submit(
        f"{detail}/acknowledge", {"next": "/incidents?show=open"}, form_page=detail
    )
    assert acked.status_code == 303 and acked.headers["location"] == "/incidents?show=open"
    assert await _state(api, incident_id) == ("acknowledged", alice_id, None)
    page = await alice.get(detail)
    assert ">Acknowledge</button>" not in page.text and ">Resolve</button>" in page.text
    assert "Acknowledged by you" in page.text

    # An off-site `next` goes to the incident instead.
    resolved = await alice.submit(
        f"{detail}/resolve", {"next": "//evil.example/"}, form_page=detail
    )
    assert resolved.status_code == 303 and resolved.headers["location"] == detail
    assert await _state(api, incident_id) == ("resolved", alice_id, alice_id)
    page = await alice.get(detail)
    assert "RESOLVED" in page.text and "Resolved by you" in page.text
    assert "<button" not in page.text.split("<main>")[1].split("Timeline")[0].replace(
        'class="link">Log out', ""
    )
    async with api.session() as session:
        kinds = list(
            await session.scalars(
                select(IncidentEvent.kind)
                .where(IncidentEvent.incident_id == uuid.UUID(incident_id))
                .order_by(IncidentEvent.id)
            )
        )
    assert kinds == ["opened", "acknowledged", "resolved"]


async def test_acknowledging_a_resolved_incident_changes_nothing(alice: Browser, api: Api) -> None:
    site = await _site(api, "alice")
    incident_id = await insert_incident(api, site)
    detail = f"/incidents/{incident_id}"
    token = csrf_of((await alice.get(detail)).text)
    # Resolved in another tab, then the stale Acknowledge button is pressed.
    assert (await alice.post(f"{detail}/resolve", {"csrf_token": token})).status_code == 303
    stale = await alice.post(f"{detail}/acknowledge", {"csrf_token": token})
    assert stale.status_code == 303 and stale.headers["location"] == detail
    state, acknowledged_by, _ = await _state(api, incident_id)
    assert (state, acknowledged_by) == ("resolved", None)


async def test_another_users_incident_is_a_404_page(alice: Browser, api: Api) -> None:
    site = await _site(api, "alice")
    incident_id = await insert_incident(api, site)
    bob = new_browser(api)
    await bob.register("bob")
    token = csrf_of((await bob.get("/incidents")).text)
    for path in (f"/incidents/{incident_id}", f"/incidents/{uuid.uuid4()}", "/incidents/nope"):
        response = await bob.get(path)
        assert response.status_code == 404, path
        assert "Incident not found" in response.text
        assert response.headers["content-type"].startswith("text/html")
    for action in ("acknowledge", "resolve"):
        response = await bob.post(f"/incidents/{incident_id}/{action}", {"csrf_token": token})
        assert response.status_code == 404
    assert (await bob.get(f"/incidents?website={site}")).status_code == 404
    assert _titles((await bob.get("/incidents")).text) == []
    assert await _state(api, incident_id) == ("open", None, None)


async def test_forms_without_the_csrf_token_are_refused(alice: Browser, api: Api) -> None:
    site = await _site(api, "alice")
    incident_id = await insert_incident(api, site)
    for action in ("acknowledge", "resolve"):
        for fields in ({}, {"csrf_token": "0" * 64}):
            response = await alice.post(f"/incidents/{incident_id}/{action}", fields)
            assert response.status_code == 403
            assert "Form expired" in response.text
    assert await _state(api, incident_id) == ("open", None, None)


async def test_the_api_still_answers_json_at_the_shared_paths(alice: Browser, api: Api) -> None:
    site = await _site(api, "alice")
    incident_id = await insert_incident(api, site)
    login = await api.http.post(
        "/user/login", json={"username": "alice", "password": "correct horse battery staple"}
    )
    bearer = {"Authorization": f"Bearer {login.json()['token']}", "Accept": "text/html"}
    listed = await api.http.get("/incidents", headers=bearer)
    assert listed.headers["content-type"] == "application/json"
    assert [i["id"] for i in listed.json()["items"]] == [incident_id]
    acked = await api.http.post(f"/incidents/{incident_id}/acknowledge", headers=bearer)
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
    # Without a token and without asking for HTML: the API's 401, not a page.
    assert (await api.http.get(f"/incidents/{incident_id}")).status_code == 401


async def test_the_website_page_lists_its_incidents(alice: Browser, api: Api) -> None:
    [website_id] = await add_websites(api, await user_id(api, "alice"), 1, statuses=[Status.DOWN])
    other = await _site(api, "alice", name="other")
    await insert_incident(api, other)  # another website's: not listed
    resolved = await insert_incident(
        api, str(website_id), started_ago=timedelta(days=2), resolved_ago=timedelta(days=1)
    )
    page = await alice.get(f"/websites/{website_id}")
    section = page.text.split('id="incidents"')[1].split("</section>")[0]
    ids = re.findall(r'href="/incidents/([0-9a-f-]{36})"', section)
    async with api.session() as session:
        opened = await session.scalar(
            select(Incident.id).where(Incident.website_id == website_id, Incident.state == "open")
        )
    assert ids == [str(opened), resolved]
    assert "OPEN" in section and "RESOLVED" in section and "1 d" in section
    assert f'href="/incidents?website={website_id}"' in section
