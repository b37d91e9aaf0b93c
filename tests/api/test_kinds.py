"""Kinds on the API: each kind's options validated (422 naming the field), stored and shown."""

from __future__ import annotations

from typing import Any

import pytest

from betteruptime.db.models import Heartbeat, Website
from tests.api.conftest import Api, Client


async def _create(client: Client, body: dict[str, Any]) -> Any:
    response = await client.post("/website", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_http_options_are_stored_and_shown_with_defaults(owner: Client) -> None:
    site = await _create(
        owner,
        {
            "url": "https://example.com/health",
            "options": {
                "method": "POST",
                "headers": {"Authorization": "Bearer x"},
                "expected_status": ["200-299", 301],
                "assertions": ["[STATUS] == 200", "[BODY].status == UP"],
                "degraded_after_ms": 800,
            },
        },
    )
    assert site["kind"] == "http"
    options = site["options"]
    assert options["method"] == "POST"
    assert options["expected_status"] == ["200-299", 301]
    assert options["follow_redirects"] is True
    assert options["certificate_expiry_days"] == [30, 14, 7, 1]
    plain = await _create(owner, {"url": "https://example.org/"})
    assert plain["options"]["method"] == "GET"
    changed = await owner.patch(f"/website/{site['id']}", json={"options": {"method": "HEAD"}})
    assert changed.status_code == 200
    assert changed.json()["options"]["method"] == "HEAD"
    assert changed.json()["options"]["assertions"] == []


@pytest.mark.parametrize(
    ("options", "loc", "words"),
    [
        ({"method": "BREW"}, ["method"], "must be one of"),
        ({"expected_status": ["2xx"]}, ["expected_status"], "status code"),
        ({"expected_status": ["299-200"]}, ["expected_status"], "ends before"),
        ({"headers": {"Host": "evil"}}, ["headers"], "set by the checker"),
        ({"headers": {"X-A": "a\r\nb"}}, ["headers"], "one line"),
        ({"assertions": ["[STATUS] = 200"]}, ["assertions", 0], "position 10"),
        ({"assertions": ["[NOPE] == 1"]}, ["assertions", 0], "position 1"),
        ({"keyword_mode": "maybe"}, ["keyword_mode"], ""),
        ({"degraded_after_ms": 0}, ["degraded_after_ms"], ""),
        ({"surprise": 1}, ["surprise"], ""),
    ],
)
async def test_bad_http_options_are_422_naming_the_field(
    api: Api, owner: Client, options: dict[str, Any], loc: list[Any], words: str
) -> None:
    before = await api.snapshot()
    response = await owner.post("/website", json={"url": "https://e.com/", "options": options})
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "options", *loc]
    assert words in error["msg"]
    assert await api.snapshot() == before


async def test_tcp_and_dns_websites_are_made_from_their_options(owner: Client) -> None:
    tcp = await _create(owner, {"kind": "tcp", "options": {"host": "db.example.com", "port": 5432}})
    assert tcp["url"] == "tcp://db.example.com:5432"
    assert tcp["options"] == {
        "host": "db.example.com",
        "port": 5432,
        "tls": False,
        "degraded_after_ms": None,
    }
    dns = await _create(
        owner, {"kind": "dns", "options": {"host": "example.com", "record_type": "MX"}}
    )
    assert dns["url"] == "dns://example.com/MX"
    assert dns["options"]["expected_mode"] == "any"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"kind": "tcp", "options": {"host": "127.0.0.1", "port": 22}}, ["options", "host"]),
        ({"kind": "tcp", "options": {"host": "localhost", "port": 22}}, ["options", "host"]),
        ({"kind": "tcp", "options": {"host": "0x7f.1", "port": 22}}, ["options", "host"]),
        ({"kind": "tcp", "options": {"host": "a b", "port": 22}}, ["options", "host"]),
        ({"kind": "tcp", "options": {"host": "example.com", "port": 0}}, ["options", "port"]),
        ({"kind": "tcp", "options": {"host": "example.com"}}, ["options", "port"]),
        ({"kind": "dns", "options": {"host": "10.0.0.1"}}, ["options", "host"]),
        ({"kind": "dns", "options": {"host": "x.localhost"}}, ["options", "host"]),
        (
            {"kind": "dns", "options": {"host": "e.com", "record_type": "SOA"}},
            ["options", "record_type"],
        ),
        ({"kind": "dns", "url": "https://e.com/", "options": {"host": "e.com"}}, ["url"]),
        ({"kind": "http"}, ["url"]),
        ({"kind": "heartbeat", "options": {}}, ["options"]),
        (
            {"kind": "heartbeat", "options": {"period_seconds": 3600, "cron": "0 * * * *"}},
            ["options"],
        ),
        ({"kind": "heartbeat", "options": {"cron": "61 * * * *"}}, ["options"]),
        (
            {"kind": "heartbeat", "options": {"cron": "0 * * * *", "timezone": "Mars/Base"}},
            ["options"],
        ),
    ],
)
async def test_bad_targets_of_other_kinds_are_422(
    api: Api, owner: Client, body: dict[str, Any], loc: list[str]
) -> None:
    before = await api.snapshot()
    response = await owner.post("/website", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][: len(loc) + 1] == ["body", *loc]
    assert await api.snapshot() == before
    assert await api.count(Heartbeat) == 0


async def test_a_heartbeat_gets_a_secret_ping_key(api: Api, owner: Client, other: Client) -> None:
    beat = await _create(
        owner,
        {"kind": "heartbeat", "options": {"cron": "30 2 * * *", "timezone": "Europe/Berlin"}},
    )
    assert len(beat["ping_key"]) >= 22
    assert beat["options"]["grace_seconds"] == 3600
    # Status stays fresh for two intervals: a daily cron's interval is a day.
    assert beat["interval_seconds"] == 86_400
    assert await api.count(Heartbeat) == 1
    assert await api.count(Website) == 1
    hidden = await other.get(f"/website/{beat['id']}")
    assert hidden.status_code == 404
