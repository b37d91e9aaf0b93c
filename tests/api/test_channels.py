"""Channels: per-user Apprise URLs, validated without sending, encrypted at rest, masked."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from betteruptime.db.models import Channel
from tests.api.conftest import Api, AppFactory, Client, create_website
from tests.checks.servers import RecordingServer
from tests.notify.receivers import webhooks

SECRET_URL = "json://hookuser:hookpa55@hooks.example.com/services/T0KEN-s3cr3t?sig=abc123def"
SECRETS = ("hookuser", "hookpa55", "T0KEN-s3cr3t", "abc123def")


async def create_channel(
    client: Client, url: str = SECRET_URL, name: str = "ops"
) -> dict[str, str]:
    response = await client.post("/channels", json={"name": name, "url": url})
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


async def test_create_list_get_show_the_url_masked(owner: Client) -> None:
    created = await create_channel(owner)
    assert created["url"] == "json://***@hooks.example.com/***"
    assert created["scheme"] == "json"
    listed = (await owner.get("/channels")).json()["items"]
    assert [c["id"] for c in listed] == [created["id"]]
    got = (await owner.get(f"/channels/{created['id']}")).json()
    assert got == created
    for body in (str(listed), str(got)):
        for secret in SECRETS:
            assert secret not in body


async def test_database_holds_the_url_only_encrypted(api: Api, owner: Client) -> None:
    await create_channel(owner)
    async with api.session() as session:
        rows = (await session.execute(text("SELECT * FROM channel"))).all()
    dump = repr(rows)
    assert SECRET_URL not in dump
    for secret in (*SECRETS, "hooks.example.com", "services"):
        assert secret not in dump
    assert "json" in dump  # the scheme is kept in plain text, for display


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "url": "nosuchservice://host/path"},
        {"name": "x", "url": "https://hooks.example.com/x"},
        {"name": "x", "url": "json://"},
        {"name": "x", "url": "slack://"},
        {"name": "x", "url": "not a url"},
        {"name": "", "url": "json://hooks.example.com/x"},
        {"url": "json://hooks.example.com/x"},
        {"name": "x"},
        {"name": "x", "url": 5},
        {"name": "x", "url": "json://hooks.example.com/x", "extra": 1},
    ],
)
async def test_bad_channels_are_422_and_change_nothing(
    api: Api, owner: Client, body: dict[str, object]
) -> None:
    response = await owner.post("/channels", json=body)
    assert response.status_code == 422, response.text
    assert "hooks.example.com" not in response.text
    assert await api.count(Channel) == 0


async def test_another_users_channel_is_404_for_every_operation(
    owner: Client, other: Client
) -> None:
    channel = await create_channel(owner)
    path = f"/channels/{channel['id']}"
    for method, url, kwargs in [
        ("GET", path, {}),
        ("PATCH", path, {"json": {"name": "mine"}}),
        ("DELETE", path, {}),
        ("POST", f"{path}/test", {}),
        ("GET", f"/channels/{uuid.uuid4()}", {}),
    ]:
        response = await other.request(method, url, **kwargs)
        assert response.status_code == 404, (method, url)
        assert response.json() == {"detail": "channel not found"}
    assert (await other.get("/channels")).json() == {"items": []}
    assert (await owner.get(path)).json()["name"] == "ops"


async def test_patch_changes_name_and_url_and_delete_removes(owner: Client) -> None:
    channel = await create_channel(owner)
    path = f"/channels/{channel['id']}"
    changed = await owner.patch(path, json={"name": "pager", "url": "ntfy://ntfy.sh/secret-topic"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "pager"
    assert changed.json()["url"] == "ntfy://ntfy.sh/***"
    assert changed.json()["scheme"] == "ntfy"
    assert (await owner.patch(path, json={"url": "bogus://x"})).status_code == 422
    assert (await owner.patch(path, json={"name": None})).status_code == 422
    assert (await owner.get(path)).json()["url"] == "ntfy://ntfy.sh/***"
    assert (await owner.delete(path)).status_code == 204
    assert (await owner.get(path)).status_code == 404


async def test_test_send_reaches_the_receiver(start_api: AppFactory) -> None:
    async with start_api(allow_private_targets=True) as api, webhooks() as hooks:
        owner = await api.make_user("owner")
        channel = await create_channel(owner, hooks.url("json", "/t"))
        response = await owner.post(f"/channels/{channel['id']}/test")
        assert response.status_code == 200, response.text
        assert response.json()["ok"] is True
        assert response.json()["error"] is None
        [received] = hooks.on("/t")
        assert received.json["title"] == "BetterUptime test notification"


async def test_test_sends_are_limited_per_user(start_api: AppFactory) -> None:
    limited_api = start_api(allow_private_targets=True, channel_test_rate_limit="2/minute")
    async with limited_api as api, webhooks() as hooks:
        owner = await api.make_user("owner")
        other = await api.make_user("other")
        channel = await create_channel(owner, hooks.url("json", "/t"))
        path = f"/channels/{channel['id']}/test"
        for _ in range(2):
            assert (await owner.post(path)).status_code == 200
        limited = await owner.post(path)
        assert limited.status_code == 429, limited.text
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "too many attempts" in limited.json()["detail"]
        assert len(hooks.on("/t")) == 2  # the refused one sent nothing
        # Another user has their own allowance.
        theirs = await create_channel(other, hooks.url("json", "/o"))
        assert (await other.post(f"/channels/{theirs['id']}/test")).status_code == 200
        assert len(hooks.on("/o")) == 1


async def test_test_send_to_a_loopback_target_is_blocked_by_default(owner: Client) -> None:
    listener = await RecordingServer("127.0.0.1").start()
    try:
        channel = await create_channel(owner, f"json://127.0.0.1:{listener.port}/hook")
        result = (await owner.post(f"/channels/{channel['id']}/test")).json()
    finally:
        await listener.stop()
    assert result["ok"] is False
    assert result["error"] == "blocked: refused to connect to loopback address 127.0.0.1"
    assert listener.connections == []


async def test_website_notifies_all_channels_by_default_or_the_given_ones(
    owner: Client, other: Client
) -> None:
    first = await create_channel(owner, name="a")
    second = await create_channel(owner, "ntfy://ntfy.sh/topic", name="b")
    theirs = await create_channel(other, name="theirs")
    default = await create_website(owner, "https://a.example.com/")
    assert sorted(default["channel_ids"]) == sorted([first["id"], second["id"]])
    chosen = await create_website(owner, "https://b.example.com/", channel_ids=[second["id"]])
    assert chosen["channel_ids"] == [second["id"]]
    none = await create_website(owner, "https://c.example.com/", channel_ids=[])
    assert none["channel_ids"] == []

    for bad in ([theirs["id"]], [str(uuid.uuid4())], ["not-a-uuid"], None):
        response = await owner.patch(f"/website/{chosen['id']}", json={"channel_ids": bad})
        assert response.status_code == 422, bad
    response = await owner.post(
        "/website", json={"url": "https://d.example.com/", "channel_ids": [theirs["id"]]}
    )
    assert response.status_code == 422
    assert "d.example.com" not in str((await owner.get("/websites")).json())

    patched = await owner.patch(f"/website/{chosen['id']}", json={"channel_ids": [first["id"]]})
    assert patched.json()["channel_ids"] == [first["id"]]
    assert (await owner.get(f"/website/{chosen['id']}")).json()["channel_ids"] == [first["id"]]
    await owner.delete(f"/channels/{first['id']}")
    listed = {w["id"]: w["channel_ids"] for w in (await owner.get("/websites")).json()["items"]}
    assert listed[chosen["id"]] == []
    assert listed[default["id"]] == [second["id"]]
