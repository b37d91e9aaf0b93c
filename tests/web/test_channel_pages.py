"""Channels in a browser: add with the API's rules, masked URLs, Send test, delete, guards."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import select, text

from betteruptime.db.channels import website_channel_ids
from betteruptime.db.models import Channel, IncidentEvent, NotificationDelivery
from tests.api.conftest import Api, AppFactory, insert_incident
from tests.checks.servers import RecordingServer
from tests.notify.receivers import webhooks
from tests.web.conftest import PASSWORD, Browser, csrf_of, new_browser
from tests.web.helpers import add_websites, user_id

SECRET_URL = "json://hookuser:hookpa55@hooks.example.com/services/T0KEN-s3cr3t?sig=abc123def"
SECRETS = ("hookuser", "hookpa55", "T0KEN-s3cr3t", "abc123def")


def _errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error" id="e-(\w+)">([^<]*)</p>', html))


def _result(html: str) -> str:
    found = re.search(r'role="status"><strong>Test message to [^<]*:</strong> ([^<]*)</p>', html)
    assert found, "no test result on the page"
    return found.group(1)


async def _add(browser: Browser, url: str = SECRET_URL, name: str = "ops") -> str:
    response = await browser.submit("/channels", {"name": name, "url": url})
    assert response.status_code == 303, response.text[-3000:]
    location: str = response.headers["location"]
    assert location.startswith("/channels#channel-")
    return location.removeprefix("/channels#channel-")


async def _channel_ids(api: Api) -> list[uuid.UUID]:
    async with api.session() as session:
        return list(await session.scalars(select(Channel.id)))


async def test_add_a_channel_and_see_it_masked(alice: Browser, api: Api) -> None:
    form = (await alice.get("/channels")).text
    assert '<label for="f-name">Name</label>' in form
    assert '<label for="f-url">Apprise URL</label>' in form
    assert ">Add channel</button>" in form
    assert '<a href="/channels" aria-current="page">Channels</a>' in form
    channel_id = await _add(alice)
    listing = (await alice.get("/channels")).text
    assert f'id="channel-{channel_id}"' in listing
    assert "json://***@hooks.example.com/***" in listing
    detail = (await alice.get(f"/channels/{channel_id}")).text
    assert "json://***@hooks.example.com/***" in detail and ">Send test</button>" in detail
    for page in (listing, detail):
        for secret in SECRETS:
            assert secret not in page
    async with api.session() as session:
        dump = repr((await session.execute(text("SELECT * FROM channel"))).all())
    assert all(secret not in dump for secret in SECRETS)


async def test_bad_channels_show_the_error_by_the_field_keep_input_save_nothing(
    alice: Browser, api: Api
) -> None:
    for fields, field, message in (
        (
            {"name": "ops", "url": "nosuchservice://host/x"},
            "url",
            "Apprise URL is not a valid Apprise URL (unknown service or malformed)",
        ),
        (
            {"name": "ops", "url": "not a url"},
            "url",
            "Apprise URL must not contain spaces or control characters",
        ),
        ({"name": "", "url": "json://hooks.example.com/x"}, "name", "Name is required"),
        ({"name": "ops", "url": ""}, "url", "Apprise URL is required"),
    ):
        response = await alice.submit("/channels", fields)
        assert response.status_code == 422, fields
        assert _errors(response.text) == {field: message}
        assert f'value="{fields["name"]}"' in response.text
        assert f'value="{fields["url"]}"' in response.text  # the user's own input, kept
    assert await _channel_ids(api) == []


async def test_send_test_reaches_a_real_receiver(start_api: AppFactory) -> None:
    async with start_api(allow_private_targets=True) as api, webhooks() as hooks:
        browser = new_browser(api)
        await browser.register("alice")
        channel_id = await _add(browser, hooks.url("json", "/hook"))
        sent = await browser.submit(
            f"/channels/{channel_id}/test", {"from": "list"}, form_page="/channels"
        )
        assert sent.status_code == 200
        assert re.fullmatch(r"Delivered in \d+ ms\.", _result(sent.text))
        assert 'class="notice" role="status"' in sent.text
        assert "<h1>Notification channels</h1>" in sent.text  # back on the list
        [received] = hooks.on("/hook")
        assert received.json["title"] == "BetterUptime test notification"
        # From the channel's page, the answer is that page.
        hooks.status = 500
        failed = await browser.submit(
            f"/channels/{channel_id}/test", {"from": "channel"}, form_page=f"/channels/{channel_id}"
        )
        assert failed.status_code == 200
        assert _result(failed.text).startswith("Not delivered: ")
        assert "Latest notifications" in failed.text
        assert len(hooks.on("/hook")) == 2


async def test_send_test_to_loopback_is_blocked_by_default(alice: Browser) -> None:
    listener = await RecordingServer("127.0.0.1").start()
    try:
        channel_id = await _add(alice, f"json://127.0.0.1:{listener.port}/hook")
        sent = await alice.submit(f"/channels/{channel_id}/test", form_page="/channels")
    finally:
        await listener.stop()
    assert _result(sent.text) == (
        "Not delivered: blocked: refused to connect to loopback address 127.0.0.1."
    )
    assert listener.connections == []


async def test_send_test_is_limited_per_user_with_the_api(start_api: AppFactory) -> None:
    limited_api = start_api(allow_private_targets=True, channel_test_rate_limit="2/minute")
    async with limited_api as api, webhooks() as hooks:
        browser = new_browser(api)
        await browser.register("alice")
        channel_id = await _add(browser, hooks.url("json", "/hook"))
        login = await api.http.post("/user/login", json={"username": "alice", "password": PASSWORD})
        bearer = {"Authorization": f"Bearer {login.json()['token']}"}
        assert (await api.http.post(f"/channels/{channel_id}/test", headers=bearer)).is_success
        assert (
            await browser.submit(f"/channels/{channel_id}/test", form_page="/channels")
        ).is_success
        third = await browser.submit(f"/channels/{channel_id}/test", form_page="/channels")
        assert third.status_code == 429
        assert 1 <= int(third.headers["Retry-After"]) <= 60
        assert _result(third.text).startswith("Not sent: too many test messages. Retry in ")
        assert len(hooks.on("/hook")) == 2
        assert (
            await api.http.post(f"/channels/{channel_id}/test", headers=bearer)
        ).status_code == 429


async def test_delete_asks_first(alice: Browser, api: Api) -> None:
    channel_id = await _add(alice)
    confirm = await alice.get(f"/channels/{channel_id}/delete")
    assert confirm.status_code == 200
    assert ">Delete channel</button>" in confirm.text
    assert "json://***@hooks.example.com/***" in confirm.text
    assert await _channel_ids(api) == [uuid.UUID(channel_id)]  # asking deletes nothing
    deleted = await alice.submit(f"/channels/{channel_id}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/channels"
    assert await _channel_ids(api) == []
    assert (await alice.get(f"/channels/{channel_id}")).status_code == 404


async def test_another_users_channel_is_a_404_page(alice: Browser, api: Api) -> None:
    channel_id = await _add(alice)
    bob = new_browser(api)
    await bob.register("bob")
    token = csrf_of((await bob.get("/channels")).text)
    for path in (f"/channels/{channel_id}", f"/channels/{channel_id}/delete", "/channels/x"):
        response = await bob.get(path)
        assert response.status_code == 404, path
        assert "Channel not found" in response.text
    for path in (f"/channels/{channel_id}/test", f"/channels/{channel_id}/delete"):
        assert (await bob.post(path, {"csrf_token": token})).status_code == 404
    assert channel_id not in (await bob.get("/channels")).text
    assert await _channel_ids(api) == [uuid.UUID(channel_id)]


async def test_channel_forms_without_the_csrf_token_are_refused(start_api: AppFactory) -> None:
    async with start_api(allow_private_targets=True) as api, webhooks() as hooks:
        alice = new_browser(api)
        await alice.register("alice")
        channel_id = await _add(alice, hooks.url("json", "/hook"))
        for path, fields in (
            ("/channels", {"name": "evil", "url": "json://evil.example.com/x"}),
            (f"/channels/{channel_id}/test", {}),
            (f"/channels/{channel_id}/delete", {}),
        ):
            for token in (None, "0" * 64):
                data = fields if token is None else {**fields, "csrf_token": token}
                response = await alice.post(path, data)
                assert response.status_code == 403, path
                assert "Form expired" in response.text
        assert await _channel_ids(api) == [uuid.UUID(channel_id)]
        assert hooks.requests == []  # no test message went out


async def test_the_channel_page_lists_its_latest_deliveries(alice: Browser, api: Api) -> None:
    channel_id = uuid.UUID(await _add(alice))
    [website_id] = await add_websites(api, await user_id(api, "alice"), 1, name="shop")
    incident_id = await insert_incident(api, str(website_id))
    now = datetime.now(UTC)
    async with api.session() as session:
        [event_id] = list(
            await session.scalars(
                select(IncidentEvent.id).where(IncidentEvent.incident_id == uuid.UUID(incident_id))
            )
        )
        session.add_all(
            [
                NotificationDelivery(
                    event_id=event_id,
                    channel_id=channel_id,
                    state="failed",
                    attempts=5,
                    last_error="status 500",
                    next_attempt_at=now,
                    created_at=now,
                )
            ]
        )
        await session.commit()
    page = (await alice.get(f"/channels/{channel_id}")).text
    section = page.split("Latest notifications")[1]
    assert f'<a href="/incidents/{incident_id}">shop 0</a>' in section
    assert ">FAILED<" in section and "status 500" in section and "5 attempts" in section
    assert "Down" in section


async def test_the_api_still_answers_json_at_the_shared_paths(alice: Browser, api: Api) -> None:
    channel_id = await _add(alice)
    login = await api.http.post("/user/login", json={"username": "alice", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {login.json()['token']}", "Accept": "text/html"}
    listed = await api.http.get("/channels", headers=bearer)
    assert [c["id"] for c in listed.json()["items"]] == [channel_id]
    created = await api.http.post(
        "/channels", headers=bearer, json={"name": "b", "url": "ntfy://ntfy.sh/topic"}
    )
    assert created.status_code == 201 and created.json()["url"] == "ntfy://ntfy.sh/***"


async def test_a_website_added_here_notifies_every_channel(alice: Browser, api: Api) -> None:
    first = await _add(alice, name="a")
    second = await _add(alice, "ntfy://ntfy.sh/topic", name="b")
    added = await alice.submit(
        "/websites/new", {"url": "https://example.com/", "enabled": "on"}, form_page="/websites/new"
    )
    assert added.status_code == 303
    website_id = uuid.UUID(added.headers["location"].rsplit("/", 1)[1])
    async with api.session() as session:
        notified = await website_channel_ids(session, [website_id])
    assert sorted(notified[website_id]) == sorted([uuid.UUID(first), uuid.UUID(second)])
