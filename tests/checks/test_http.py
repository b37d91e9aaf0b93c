"""HTTP check behaviour against real local servers: status, errors, timing, bounds."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import struct
import subprocess
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from betteruptime.checks.http import HttpChecker
from betteruptime.checks.targets import TargetPolicy
from betteruptime.rules.status import Status
from tests.checks.servers import RawServer, RecordingServer, app_port, closed_port, start_app
from tests.conftest import unavailable

LOCAL = TargetPolicy(allow_private=True)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def checker() -> AsyncIterator[HttpChecker]:
    async with HttpChecker(LOCAL) as c:
        yield c


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """Return the base URL of a local app with the routes the tests need."""
    app = web.Application()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def slow_headers(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("s", "0.2")))
        return web.Response(text="late")

    async def hop(request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        location = "/ok" if left == 0 else f"/hop/{left - 1}"
        raise web.HTTPFound(location)

    async def absolute_hop(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(str(request.url.with_path("/status/200")))

    async def see_other(request: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/status/503")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/loop")

    async def no_location(request: web.Request) -> web.Response:
        return web.Response(status=302)

    async def echo_headers(request: web.Request) -> web.Response:
        response = web.Response(text=request.headers.get("User-Agent", ""))
        response.set_cookie("session", "tenant-a")
        cookies = request.headers.get("Cookie")
        if cookies:
            return web.Response(status=500, text=cookies)
        return response

    app.router.add_get("/ok", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow-headers", slow_headers)
    app.router.add_get("/hop/{n}", hop)
    app.router.add_get("/absolute", absolute_hop)
    app.router.add_get("/see-other", see_other)
    app.router.add_get("/loop", loop)
    app.router.add_get("/no-location", no_location)
    app.router.add_get("/headers", echo_headers)
    runner = await start_app(app)
    yield f"http://127.0.0.1:{app_port(runner)}"
    await runner.cleanup()


async def test_200_is_up_with_code_and_time(checker: HttpChecker, site: str) -> None:
    result = await checker.check(f"{site}/ok", 5)
    assert result.status is Status.UP
    assert result.status_code == 200
    assert result.error is None
    assert result.response_time_ms is not None and 0 <= result.response_time_ms < 1000


@pytest.mark.parametrize("code", [200, 204, 299, 304, 399])
async def test_2xx_and_3xx_without_redirect_are_up(
    checker: HttpChecker, site: str, code: int
) -> None:
    result = await checker.check(f"{site}/status/{code}", 5)
    assert result.status is Status.UP
    assert result.status_code == code


@pytest.mark.parametrize("code", [400, 404, 500, 503, 599])
async def test_other_statuses_are_down_with_status_error(
    checker: HttpChecker, site: str, code: int
) -> None:
    result = await checker.check(f"{site}/status/{code}", 5)
    assert result.status is Status.DOWN
    assert result.status_code == code
    assert result.error == f"status {code}"
    assert result.response_time_ms is not None


async def test_closed_port_is_connection_refused(checker: HttpChecker) -> None:
    result = await checker.check(f"http://127.0.0.1:{closed_port()}/", 5)
    assert result.status is Status.DOWN
    assert result.error == "connection refused"
    assert result.status_code is None


async def test_slow_server_times_out_at_about_the_timeout(checker: HttpChecker, site: str) -> None:
    started = time.perf_counter()
    result = await checker.check(f"{site}/slow-headers?s=10", 0.5)
    elapsed = time.perf_counter() - started
    assert result.status is Status.DOWN
    assert result.error == "timeout"
    assert 0.45 <= elapsed < 1.5


async def test_response_time_is_time_to_headers(checker: HttpChecker, site: str) -> None:
    result = await checker.check(f"{site}/slow-headers?s=0.2", 5)
    assert result.status is Status.UP
    assert result.response_time_ms is not None
    assert 200 <= result.response_time_ms < 1000


async def test_redirect_chain_is_followed(checker: HttpChecker, site: str) -> None:
    result = await checker.check(f"{site}/hop/4", 5)  # 5 redirects, then /ok
    assert result.status is Status.UP
    assert result.status_code == 200


async def test_redirect_limit_is_enforced(checker: HttpChecker, site: str) -> None:
    result = await checker.check(f"{site}/hop/5", 5)  # 6 redirects
    assert result.status is Status.DOWN
    assert result.error == "too many redirects"
    loop = await checker.check(f"{site}/loop", 5)
    assert loop.error == "too many redirects"


async def test_redirect_limit_is_configurable(site: str) -> None:
    async with HttpChecker(LOCAL, max_redirects=1) as checker:
        assert (await checker.check(f"{site}/hop/0", 5)).status is Status.UP
        assert (await checker.check(f"{site}/hop/1", 5)).error == "too many redirects"


async def test_redirect_kinds(checker: HttpChecker, site: str) -> None:
    absolute = await checker.check(f"{site}/absolute", 5)
    assert (absolute.status, absolute.status_code) == (Status.UP, 200)
    see_other = await checker.check(f"{site}/see-other", 5)
    assert (see_other.status, see_other.error) == (Status.DOWN, "status 503")
    bare = await checker.check(f"{site}/no-location", 5)
    assert (bare.status, bare.status_code) == (Status.UP, 302)


async def test_user_agent_sent_and_cookies_never_kept(site: str) -> None:
    async with HttpChecker(LOCAL, user_agent="Probe/9") as checker:
        first = await checker.check(f"{site}/headers", 5)
        # The server set a cookie; a second check must not send it back (it answers 500
        # when it receives any cookie).
        second = await checker.check(f"{site}/headers", 5)
    assert first.status is Status.UP
    assert second.status is Status.UP


async def test_every_check_opens_a_fresh_connection() -> None:
    server = await RecordingServer("127.0.0.1").start()
    try:
        async with HttpChecker(LOCAL) as checker:
            for _ in range(5):
                assert (await checker.check(f"http://127.0.0.1:{server.port}/", 5)).status is (
                    Status.UP
                )
        assert len(server.connections) == 5
        assert len({port for _, port in server.connections}) == 5
        assert all(b"GET / HTTP/1.1" in head for head in server.requests)
    finally:
        await server.stop()


async def _endless_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    while True:
        writer.write(framed)
        await writer.drain()


async def _huge_declared_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\n\r\n")
    chunk = b"y" * 65536
    while True:
        writer.write(chunk)
        await writer.drain()


@pytest.mark.parametrize("handler", [_endless_body, _huge_declared_body])
async def test_endless_or_huge_body_is_bounded_in_memory_and_time(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> None:
    server = await RawServer(handler).start()
    try:
        async with HttpChecker(LOCAL, max_body_bytes=65536) as checker:
            await checker.check(f"http://127.0.0.1:{server.port}/", 5)  # warm up imports
            tracemalloc.start()
            started = time.perf_counter()
            result = await checker.check(f"http://127.0.0.1:{server.port}/", 5)
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    finally:
        await server.stop()
    assert result.status is Status.UP
    assert elapsed < 1.0  # it did not read until the 5 s timeout
    assert peak < 4 * 1024 * 1024


async def _trickle_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    while True:
        writer.write(b"z")
        await writer.drain()
        await asyncio.sleep(0.05)


async def test_trickling_body_cannot_hold_the_check_past_its_timeout() -> None:
    server = await RawServer(_trickle_body).start()
    try:
        async with HttpChecker(LOCAL) as checker:
            started = time.perf_counter()
            result = await checker.check(f"http://127.0.0.1:{server.port}/", 0.5)
            elapsed = time.perf_counter() - started
    finally:
        await server.stop()
    assert result.status is Status.DOWN
    assert result.error == "timeout"
    assert result.status_code == 200  # what was learned before the timeout is kept
    assert elapsed < 1.5


async def _close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    sock = writer.get_extra_info("socket")
    # SO_LINGER with a zero timeout turns close() into a RST.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    await writer.drain()


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (_close_at_once, {"server disconnected"}),
        (_reset, {"connection reset", "server disconnected"}),
        (_garbage, {"invalid response"}),
    ],
)
async def test_broken_servers_give_short_errors(
    checker: HttpChecker,
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    expected: set[str],
) -> None:
    server = await RawServer(handler).start()
    try:
        result = await checker.check(f"http://127.0.0.1:{server.port}/", 5)
    finally:
        await server.stop()
    assert result.status is Status.DOWN
    assert result.error in expected


async def test_tls_to_a_plain_server_is_a_tls_error(checker: HttpChecker, site: str) -> None:
    result = await checker.check(site.replace("http://", "https://") + "/ok", 5)
    assert result.status is Status.DOWN
    assert result.error is not None and result.error.startswith("tls: ")


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        unavailable("openssl (to make a self-signed certificate)", FileNotFoundError())
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_untrusted_certificate_is_a_tls_error(
    checker: HttpChecker, self_signed: ssl.SSLContext
) -> None:
    async def secret(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    app = web.Application()
    app.router.add_get("/", secret)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    tls_site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed)
    await tls_site.start()
    try:
        result = await checker.check(f"https://127.0.0.1:{app_port(runner)}/", 5)
    finally:
        await runner.cleanup()
    assert result.status is Status.DOWN
    assert result.error is not None and result.error.startswith("tls: ")
    assert "certificate" in result.error


async def test_dns_failure_is_a_dns_error(checker: HttpChecker) -> None:
    result = await checker.check("http://no-such-host.invalid/", 5)
    assert result.status is Status.DOWN
    assert result.error is not None and result.error.startswith("dns: ")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "not a url", "http://[::1/", "http:///nohost", "mailto:a@b"]
)
async def test_bad_urls_are_down_not_raised(checker: HttpChecker, url: str) -> None:
    result = await checker.check(url, 5)
    assert result.status is Status.DOWN
    assert result.error


async def test_errors_never_contain_credentials_or_the_url(checker: HttpChecker) -> None:
    port = closed_port()
    for url in (
        f"http://admin:hunter2@127.0.0.1:{port}/private/path?token=abc",
        "http://admin:hunter2@no-such-host.invalid/private/path?token=abc",
        f"https://admin:hunter2@127.0.0.1:{port}/private/path?token=abc",
    ):
        result = await checker.check(url, 5)
        assert result.error is not None
        for secret in ("hunter2", "admin", "private/path", "token", "://"):
            assert secret not in result.error, (url, result.error)


async def test_errors_are_at_most_255_characters() -> None:
    long_name = ".".join(["a" * 63] * 3) + ".test"
    from tests.checks.servers import StaticResolver

    resolver = StaticResolver({long_name: ["127.0.0.1"]})
    async with HttpChecker(TargetPolicy(), resolver=resolver) as checker:
        result = await checker.check(f"http://{long_name}/", 5)
    assert result.error is not None and result.error.startswith("blocked:")
    assert len(result.error) <= 255


async def test_many_concurrent_checks_share_one_session(site: str) -> None:
    async with HttpChecker(LOCAL) as checker:
        results = await asyncio.gather(*(checker.check(f"{site}/ok", 10) for _ in range(300)))
    assert all(r.status is Status.UP for r in results)


async def test_closed_checker_refuses_new_checks(site: str) -> None:
    checker = HttpChecker(LOCAL)
    assert (await checker.check(f"{site}/ok", 5)).status is Status.UP
    await checker.close()
    with pytest.raises(RuntimeError):
        await checker.check(f"{site}/ok", 5)


async def test_failure_after_a_redirect_does_not_report_the_redirect_status() -> None:
    port = closed_port()

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.1:{port}/")

    app = web.Application()
    app.router.add_get("/", redirect)
    runner = await start_app(app)
    try:
        async with HttpChecker(LOCAL) as checker:
            result = await checker.check(f"http://127.0.0.1:{app_port(runner)}/", 5)
    finally:
        await runner.cleanup()
    assert result.status is Status.DOWN
    assert result.error == "connection refused"
    assert result.status_code is None
    assert result.response_time_ms is None
