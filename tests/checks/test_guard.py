"""Acceptance for the SSRF guard: a recording server on loopback is never reached."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from ipaddress import ip_network

import aiohttp
import pytest
from aiohttp import web

from betteruptime.checks.errors import BlockedAddressError, describe
from betteruptime.checks.guard import GuardedResolver, guarded_socket_factory
from betteruptime.checks.http import HttpChecker
from betteruptime.checks.targets import TargetPolicy
from betteruptime.rules.status import Status
from tests.checks.servers import (
    RebindingResolver,
    RecordingServer,
    StaticResolver,
    app_port,
    start_app,
)

TIMEOUT = 3.0


def _ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture
async def target() -> AsyncIterator[RecordingServer]:
    server = await RecordingServer("127.0.0.1").start()
    yield server
    await server.stop()


def notations(port: int) -> list[str]:
    urls = [
        f"http://127.0.0.1:{port}/",
        f"http://2130706433:{port}/",
        f"http://0x7f000001:{port}/",
        f"http://0x7f.1:{port}/",
        f"http://0177.0.0.1:{port}/",
        f"http://127.1:{port}/",
        f"http://127.0.0.1.:{port}/",
        f"http://%31%32%37.0.0.1:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://localhost:{port}/",
        f"http://LocalHost.:{port}/",
        f"http://loopback.test:{port}/",  # resolved by the test resolver
        f"http://mixed.test:{port}/",  # resolves to a blocked address only
        f"https://127.0.0.1:{port}/",
        f"http://user:secret@127.0.0.1:{port}/",
    ]
    return urls


def make_resolver() -> StaticResolver:
    return StaticResolver(
        {
            "loopback.test": ["127.0.0.1"],
            "mixed.test": ["127.0.0.1", "::ffff:127.0.0.1", "169.254.169.254"],
            "localhost": ["127.0.0.1", "::1"],
            "localhost.": ["127.0.0.1", "::1"],
        }
    )


async def test_every_notation_is_blocked_and_never_connects(target: RecordingServer) -> None:
    async with HttpChecker(TargetPolicy(), resolver=make_resolver()) as checker:
        for url in notations(target.port):
            result = await checker.check(url, TIMEOUT)
            assert result.status is Status.DOWN, url
            assert result.error is not None
            assert result.error.startswith("blocked:"), (url, result.error)
            assert "secret" not in result.error
            assert result.status_code is None
    assert target.connections == []


async def test_real_localhost_lookup_is_blocked(target: RecordingServer) -> None:
    # Through the system resolver (getaddrinfo), not a test one.
    async with HttpChecker(TargetPolicy()) as checker:
        result = await checker.check(f"http://localhost:{target.port}/", TIMEOUT)
    assert result.error is not None and result.error.startswith("blocked:")
    assert target.connections == []


async def test_same_checks_connect_when_private_targets_are_allowed(
    target: RecordingServer,
) -> None:
    urls = [u for u in notations(target.port) if "mixed.test" not in u and "https" not in u]
    async with HttpChecker(TargetPolicy(allow_private=True), resolver=make_resolver()) as checker:
        for url in urls:
            result = await checker.check(url, TIMEOUT)
            assert result.status is Status.UP, (url, result.error)
            assert result.status_code == 200
    # One fresh connection per check.
    assert len(target.connections) == len(urls)


@pytest.mark.skipif(not _ipv6_loopback_works(), reason="no IPv6 loopback here")
async def test_ipv6_loopback_is_blocked_then_allowed() -> None:
    server = await RecordingServer("::1").start()
    try:
        url = f"http://[::1]:{server.port}/"
        async with HttpChecker(TargetPolicy()) as checker:
            result = await checker.check(url, TIMEOUT)
        assert result.error is not None and result.error.startswith("blocked:")
        assert server.connections == []
        async with HttpChecker(TargetPolicy(allow_private=True)) as checker:
            result = await checker.check(url, TIMEOUT)
        assert result.status is Status.UP
        assert len(server.connections) == 1
    finally:
        await server.stop()


async def test_dns_rebinding_cannot_reach_loopback(target: RecordingServer) -> None:
    # An allowed server on 127.0.0.2 (the stand-in for a public address) and the blocked
    # target on 127.0.0.1 share one port, so one URL can lead to either.
    allowed_app = web.Application()
    hits: list[str] = []

    async def allowed(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="allowed")

    allowed_app.router.add_get("/", allowed)
    runner = await start_app(allowed_app, "127.0.0.2", target.port)
    try:
        policy = TargetPolicy(allowed_networks=(ip_network("127.0.0.2/32"),))
        resolver = RebindingResolver(first="127.0.0.2", then="127.0.0.1")
        url = f"http://rebind.test:{target.port}/"

        # Whoever looked first (an input validator, an earlier check) saw an allowed address.
        first = await resolver.resolve("rebind.test", target.port)
        assert first[0]["host"] == "127.0.0.2"

        async with HttpChecker(policy, resolver=resolver) as checker:
            result = await checker.check(url, TIMEOUT)
        assert result.status is Status.DOWN
        assert result.error is not None and result.error.startswith("blocked:")
        assert target.connections == []
        assert resolver.calls == 2

        # And the other order: the check's own lookup answers allowed, then the name
        # rebinds; a later checker still refuses the new answer.
        resolver = RebindingResolver(first="127.0.0.2", then="127.0.0.1")
        async with HttpChecker(policy, resolver=resolver) as checker:
            assert (await checker.check(url, TIMEOUT)).status is Status.UP
        async with HttpChecker(policy, resolver=resolver) as checker:
            result = await checker.check(url, TIMEOUT)
        assert result.error is not None and result.error.startswith("blocked:")
        assert hits == ["/"]
        assert target.connections == []
    finally:
        await runner.cleanup()


async def test_resolver_answers_are_filtered_not_just_checked(target: RecordingServer) -> None:
    # A name with one blocked and one allowed answer connects only to the allowed one.
    other = await RecordingServer("127.0.0.2", target.port).start()
    try:
        policy = TargetPolicy(allowed_networks=(ip_network("127.0.0.2/32"),))
        resolver = StaticResolver({"both.test": ["127.0.0.1", "127.0.0.2"]})
        async with HttpChecker(policy, resolver=resolver) as checker:
            for _ in range(3):
                result = await checker.check(f"http://both.test:{target.port}/", TIMEOUT)
                assert result.status is Status.UP
        assert target.connections == []
        assert len(other.connections) == 3
    finally:
        await other.stop()


def _redirecting_app(location: str, hits: list[str]) -> web.Application:
    async def redirect(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound(location)

    app = web.Application()
    app.router.add_get("/", redirect)
    return app


async def test_redirect_from_allowed_target_to_loopback_is_blocked(
    target: RecordingServer,
) -> None:
    locations = [
        f"http://127.0.0.1:{target.port}/",
        f"http://2130706433:{target.port}/",
        f"http://0x7f.1:{target.port}/",
        f"http://[::ffff:127.0.0.1]:{target.port}/",
        f"http://localhost:{target.port}/",
        f"//127.1:{target.port}/",
    ]
    policy = TargetPolicy(allowed_networks=(ip_network("127.0.0.2/32"),))
    for location in locations:
        hits: list[str] = []
        runner = await start_app(_redirecting_app(location, hits), "127.0.0.2")
        try:
            async with HttpChecker(policy) as checker:
                result = await checker.check(f"http://127.0.0.2:{app_port(runner)}/", TIMEOUT)
        finally:
            await runner.cleanup()
        assert hits == ["/"], location  # the first hop was allowed and followed
        assert result.status is Status.DOWN
        assert result.error is not None and result.error.startswith("blocked:"), location
    assert target.connections == []


async def test_redirect_to_loopback_connects_when_private_targets_are_allowed(
    target: RecordingServer,
) -> None:
    hits: list[str] = []
    runner = await start_app(
        _redirecting_app(f"http://127.0.0.1:{target.port}/", hits), "127.0.0.2"
    )
    try:
        async with HttpChecker(TargetPolicy(allow_private=True)) as checker:
            result = await checker.check(f"http://127.0.0.2:{app_port(runner)}/", TIMEOUT)
    finally:
        await runner.cleanup()
    assert result.status is Status.UP
    assert hits == ["/"]
    assert len(target.connections) == 1


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "ftp://example.com/"]
)
async def test_redirect_to_non_http_scheme_is_refused(location: str) -> None:
    hits: list[str] = []
    runner = await start_app(_redirecting_app(location, hits))
    try:
        async with HttpChecker(TargetPolicy(allow_private=True)) as checker:
            result = await checker.check(f"http://127.0.0.1:{app_port(runner)}/", TIMEOUT)
    finally:
        await runner.cleanup()
    assert hits == ["/"]
    assert result.status is Status.DOWN
    assert result.error is not None and result.error.startswith("blocked:")


async def test_socket_factory_alone_refuses_blocked_addresses(target: RecordingServer) -> None:
    # The last line of defence on its own: no guarded resolver, no literal check.
    connector = aiohttp.TCPConnector(
        force_close=True, socket_factory=guarded_socket_factory(TargetPolicy())
    )
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.get(f"http://127.0.0.1:{target.port}/")
    assert describe(caught.value).startswith("blocked:")
    assert target.connections == []


async def test_socket_factory_merges_several_refusals_into_blocked(
    target: RecordingServer,
) -> None:
    # Two candidate addresses, both refused with different reasons: aiohappyeyeballs merges
    # the errors, and the result must still read as blocked.
    connector = aiohttp.TCPConnector(
        force_close=True,
        socket_factory=guarded_socket_factory(TargetPolicy()),
        resolver=StaticResolver({"two.test": ["127.0.0.1", "::ffff:127.0.0.1"]}),
    )
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.get(f"http://two.test:{target.port}/")
    assert describe(caught.value).startswith("blocked:")
    assert target.connections == []


async def test_guarded_resolver_refuses_when_every_answer_is_blocked() -> None:
    resolver = GuardedResolver(
        TargetPolicy(), StaticResolver({"meta.test": ["169.254.169.254", "10.0.0.1"]})
    )
    with pytest.raises(BlockedAddressError) as caught:
        await resolver.resolve("meta.test", 80)
    assert "metadata" in str(caught.value)
    assert str(caught.value).startswith("blocked:")


async def test_link_local_with_zone_is_blocked() -> None:
    async with HttpChecker(TargetPolicy()) as checker:
        result = await checker.check("http://[fe80::1%25lo]:9/", TIMEOUT)
    assert result.error is not None and result.error.startswith("blocked: link-local")


async def test_name_without_addresses_is_a_dns_error() -> None:
    async with HttpChecker(TargetPolicy(), resolver=StaticResolver({"empty.test": []})) as checker:
        result = await checker.check("http://empty.test/", TIMEOUT)
    assert result.status is Status.DOWN
    assert result.error is not None and result.error.startswith("dns: ")
