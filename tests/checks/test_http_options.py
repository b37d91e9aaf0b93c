"""HTTP options against real local servers: methods, statuses, keywords, conditions, TLS."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from betteruptime.checks.http import HttpChecker
from betteruptime.checks.options import HttpOptions, dump_options
from betteruptime.checks.targets import TargetPolicy
from betteruptime.rules.status import Status
from tests.checks.certs import Authority, make_authority
from tests.checks.servers import app_port, start_app

LOCAL = TargetPolicy(allow_private=True)


def opts(**values: object) -> str:
    """Return stored options as the API would store them."""
    return dump_options(HttpOptions.model_validate(values)) or ""


async def _echo(request: web.Request) -> web.Response:
    body = await request.text()
    return web.json_response(
        {
            "method": request.method,
            "token": request.headers.get("X-Token"),
            "body": body,
            "status": "UP",
            "items": [{"ok": True}, {"ok": False}],
        }
    )


async def _slow(_: web.Request) -> web.Response:
    await asyncio.sleep(0.3)
    return web.Response(text="slow but fine")


async def _teapot(_: web.Request) -> web.Response:
    return web.Response(status=418, text="short and stout")


async def _moved(_: web.Request) -> web.Response:
    raise web.HTTPFound("/echo")


async def _text(_: web.Request) -> web.Response:
    return web.Response(text="All Systems Operational")


@pytest.fixture
async def site() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/echo", _echo)
    app.router.add_get("/teapot", _teapot)
    app.router.add_get("/moved", _moved)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/text", _text)
    runner = await start_app(app)
    try:
        yield f"http://127.0.0.1:{app_port(runner)}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def checker() -> AsyncIterator[HttpChecker]:
    async with HttpChecker(LOCAL) as c:
        yield c


async def test_method_headers_and_body_are_sent(checker: HttpChecker, site: str) -> None:
    options = opts(
        method="POST",
        headers={"X-Token": "s3cret"},
        body="ping",
        assertions=["[BODY].method == POST", "[BODY].token == s3cret", "[BODY].body == ping"],
    )
    result = await checker.check(f"{site}/echo", 5, options)
    assert result.status is Status.UP, result.error


async def test_expected_status_accepts_codes_and_ranges(checker: HttpChecker, site: str) -> None:
    assert (await checker.check(f"{site}/teapot", 5)).error == "status 418"
    up = await checker.check(f"{site}/teapot", 5, opts(expected_status=["200-299", 418]))
    assert up.status is Status.UP
    down = await checker.check(f"{site}/echo", 5, opts(expected_status=[201]))
    assert (down.status, down.error) == (Status.DOWN, "status 200")


async def test_redirects_can_be_left_unfollowed(checker: HttpChecker, site: str) -> None:
    assert (await checker.check(f"{site}/moved", 5)).status_code == 200
    result = await checker.check(
        f"{site}/moved", 5, opts(follow_redirects=False, expected_status=[302])
    )
    assert (result.status, result.status_code) == (Status.UP, 302)
    refused = await checker.check(f"{site}/moved", 5, opts(follow_redirects=False))
    assert refused.status is Status.UP  # 302 is in the default 200-399


async def test_keyword_present_absent_and_case(checker: HttpChecker, site: str) -> None:
    url = f"{site}/text"
    assert (await checker.check(url, 5, opts(keyword="operational"))).status is Status.UP
    strict = await checker.check(url, 5, opts(keyword="operational", keyword_case_sensitive=True))
    assert (strict.status, strict.error) == (Status.DOWN, "keyword absent")
    absent = await checker.check(url, 5, opts(keyword="Outage", keyword_mode="absent"))
    assert absent.status is Status.UP
    present = await checker.check(url, 5, opts(keyword="systems", keyword_mode="absent"))
    assert (present.status, present.error) == (Status.DOWN, "keyword present")


async def test_failed_assertions_name_the_condition_and_what_was_seen(
    checker: HttpChecker, site: str
) -> None:
    cases = {
        "[STATUS] == 200": ("/teapot", "assertion [STATUS] == 200 failed: 418"),
        "[BODY].status == DOWN": ("/echo", "assertion [BODY].status == DOWN failed: UP"),
        "[BODY].items[1].ok == true": (
            "/echo",
            "assertion [BODY].items[1].ok == true failed: false",
        ),
        "len([BODY].items) > 2": ("/echo", "assertion len([BODY].items) > 2 failed: 2"),
        "[BODY].missing == 1": ("/echo", "assertion [BODY].missing == 1 failed: missing"),
        "[RESPONSE_TIME] < 1": ("/slow", None),
        "[CERTIFICATE_EXPIRATION] > 72h": (
            "/echo",
            "assertion [CERTIFICATE_EXPIRATION] > 72h failed: no certificate",
        ),
    }
    for condition, (path, error) in cases.items():
        result = await checker.check(f"{site}{path}", 5, opts(assertions=[condition]))
        assert result.status is Status.DOWN, condition
        if error is not None:
            assert result.error == error
        else:
            assert result.error is not None and result.error.startswith(
                f"assertion {condition} failed: "
            )
    passing = ["[STATUS] == 200", "len([BODY].items) > 0", "[BODY].items[0].ok == true"]
    assert (await checker.check(f"{site}/echo", 5, opts(assertions=passing))).status is Status.UP


async def test_a_whole_body_is_never_echoed(checker: HttpChecker, site: str) -> None:
    result = await checker.check(f"{site}/text", 5, opts(assertions=["[BODY] == nope"]))
    assert result.error is not None
    assert "Operational" not in result.error
    assert result.error == "assertion [BODY] == nope failed: body of 23 bytes"


async def test_slower_than_the_threshold_is_degraded_but_up(
    checker: HttpChecker, site: str
) -> None:
    result = await checker.check(f"{site}/slow", 5, opts(degraded_after_ms=100))
    assert (result.status, result.degraded) == (Status.UP, True)
    assert result.error == "degraded: slower than 100 ms"
    fast = await checker.check(f"{site}/text", 5, opts(degraded_after_ms=5000))
    assert (fast.status, fast.degraded, fast.error) == (Status.UP, False, None)


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return make_authority(tmp_path)


async def _ok(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _tls_site(context: object) -> web.AppRunner:
    app = web.Application()
    app.router.add_get("/", _ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)  # type: ignore[arg-type]
    await site.start()
    return runner


async def test_https_results_carry_the_certificate_facts(authority: Authority) -> None:
    runner = await _tls_site(authority.server_context())
    try:
        async with HttpChecker(LOCAL, ssl_context=authority.client_context()) as checker:
            url = f"https://127.0.0.1:{app_port(runner)}/"
            result = await checker.check(url, 5)
            assert result.status is Status.UP, result.error
            assert result.tls is not None
            assert result.tls.issuer == "Test Authority"
            assert result.tls.hostname_ok is True
            left = result.tls.expires_at - datetime.now(UTC)
            assert timedelta(days=89) < left <= timedelta(days=90)
            checked = await checker.check(
                url, 5, opts(assertions=["[CERTIFICATE_EXPIRATION] > 72h"])
            )
            assert checked.status is Status.UP, checked.error
            too_soon = await checker.check(
                url, 5, opts(assertions=["[CERTIFICATE_EXPIRATION] > 100d"])
            )
            assert too_soon.status is Status.DOWN
    finally:
        await runner.cleanup()


async def test_an_expired_certificate_is_down_saying_since_when(authority: Authority) -> None:
    now = datetime.now(UTC)
    context = authority.server_context(
        not_before=now - timedelta(days=30), not_after=now - timedelta(days=3, hours=1)
    )
    runner = await _tls_site(context)
    try:
        async with HttpChecker(LOCAL, ssl_context=authority.client_context()) as checker:
            result = await checker.check(f"https://127.0.0.1:{app_port(runner)}/", 5)
    finally:
        await runner.cleanup()
    assert (result.status, result.error) == (Status.DOWN, "tls: certificate expired 3 days ago")
    assert result.tls is not None and result.tls.issuer == "Test Authority"


async def test_a_certificate_for_another_name_is_down(authority: Authority) -> None:
    runner = await _tls_site(authority.server_context(("other.example",)))
    try:
        async with HttpChecker(LOCAL, ssl_context=authority.client_context()) as checker:
            result = await checker.check(f"https://127.0.0.1:{app_port(runner)}/", 5)
    finally:
        await runner.cleanup()
    assert result.status is Status.DOWN
    assert result.error == "tls: certificate is not valid for this host name"
    assert result.tls is not None and result.tls.hostname_ok is False


async def test_options_that_do_not_parse_are_down_not_an_exception(checker: HttpChecker) -> None:
    result = await checker.check("http://127.0.0.1:9/", 5, json.dumps({"method": "BREW"}))
    assert (result.status, result.error) == (Status.DOWN, "invalid options")
