"""tcp and dns kinds against a real TCP listener, a TLS listener and a local DNS server."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from betteruptime.checks.dns import DnsChecker
from betteruptime.checks.options import DnsOptions, TcpOptions, dump_options
from betteruptime.checks.targets import TargetPolicy
from betteruptime.checks.tcp import TcpChecker
from betteruptime.rules.status import Status
from tests.checks.certs import make_authority
from tests.checks.dns_server import DnsServer
from tests.checks.servers import closed_port

LOCAL = TargetPolicy(allow_private=True)
STRICT = TargetPolicy()


def tcp(**values: object) -> str:
    return dump_options(TcpOptions.model_validate(values)) or ""


def dns_opts(**values: object) -> str:
    return dump_options(DnsOptions.model_validate(values)) or ""


async def _listener(ssl_context: ssl.SSLContext | None = None) -> asyncio.Server:
    async def handle(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ssl_context)


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


async def test_tcp_is_up_when_the_port_accepts() -> None:
    server = await _listener()
    try:
        result = await TcpChecker(LOCAL).check("", 5, tcp(host="127.0.0.1", port=_port(server)))
    finally:
        server.close()
    assert result.status is Status.UP and result.response_time_ms is not None


async def test_tcp_is_down_when_refused_or_blocked() -> None:
    refused = await TcpChecker(LOCAL).check("", 5, tcp(host="127.0.0.1", port=closed_port()))
    assert (refused.status, refused.error) == (Status.DOWN, "connection refused")
    blocked = await TcpChecker(STRICT).check("", 5, tcp(host="127.0.0.1", port=22))
    assert blocked.status is Status.DOWN
    assert blocked.error == "blocked: loopback address 127.0.0.1"
    by_name = await TcpChecker(STRICT).check("", 5, tcp(host="localhost", port=22))
    assert by_name.error is not None and by_name.error.startswith("blocked: ")


async def test_tcp_with_tls_checks_the_handshake_and_its_certificate(tmp_path: Path) -> None:
    authority = make_authority(tmp_path)
    good = await _listener(authority.server_context())
    now = datetime.now(UTC)
    expired = await _listener(
        authority.server_context(
            not_before=now - timedelta(days=30),
            not_after=now - timedelta(days=2, hours=1),
            tag="expired",
        )
    )
    plain = await _listener()
    checker = TcpChecker(LOCAL, ssl_context=authority.client_context())
    try:
        up = await checker.check("", 5, tcp(host="127.0.0.1", port=_port(good), tls=True))
        old = await checker.check("", 5, tcp(host="127.0.0.1", port=_port(expired), tls=True))
        no_tls = await checker.check("", 5, tcp(host="127.0.0.1", port=_port(plain), tls=True))
    finally:
        for server in (good, expired, plain):
            server.close()
    assert up.status is Status.UP, up.error
    assert up.tls is not None and up.tls.issuer == "Test Authority"
    assert (old.status, old.error) == (Status.DOWN, "tls: certificate expired 2 days ago")
    assert no_tls.status is Status.DOWN and no_tls.error is not None


async def test_tcp_times_out_against_a_silent_tls_peer() -> None:
    # A listener that accepts but never speaks TLS: the handshake waits until the timeout.
    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        result = await TcpChecker(LOCAL).check(
            "", 0.3, tcp(host="127.0.0.1", port=_port(server), tls=True)
        )
    finally:
        server.close()
    assert (result.status, result.error) == (Status.DOWN, "timeout")


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    server = DnsServer(
        records={
            ("www.example.test", "A"): ["192.0.2.10", "192.0.2.11"],
            ("www.example.test", "AAAA"): ["2001:db8::10"],
            ("example.test", "MX"): ["10 mail.example.test."],
            ("example.test", "TXT"): ['"v=spf1 -all"'],
            ("example.test", "NS"): ["ns1.example.test."],
            ("alias.example.test", "CNAME"): ["www.example.test."],
        },
        servfail={"broken.example.test"},
        silent={"slow.example.test"},
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_dns_answers_and_expected_values(dns_server: DnsServer) -> None:
    checker = DnsChecker([dns_server.address])
    cases = [
        (dns_opts(host="www.example.test"), Status.UP, None),
        (dns_opts(host="www.example.test", expected=["192.0.2.11"]), Status.UP, None),
        (
            dns_opts(
                host="www.example.test", expected=["192.0.2.10", "192.0.2.99"], expected_mode="all"
            ),
            Status.DOWN,
            "dns: expected value not found",
        ),
        (
            dns_opts(host="www.example.test", record_type="AAAA", expected=["2001:db8:0::10"]),
            Status.UP,
            None,
        ),
        (
            dns_opts(host="example.test", record_type="MX", expected=["mail.example.test"]),
            Status.UP,
            None,
        ),
        (
            dns_opts(host="example.test", record_type="TXT", expected=["v=spf1 -all"]),
            Status.UP,
            None,
        ),
        (
            dns_opts(host="example.test", record_type="NS", expected=["NS1.example.test."]),
            Status.UP,
            None,
        ),
        (
            dns_opts(host="alias.example.test", record_type="CNAME", expected=["www.example.test"]),
            Status.UP,
            None,
        ),
        (dns_opts(host="example.test", record_type="AAAA"), Status.DOWN, "dns: no AAAA record"),
        (dns_opts(host="nowhere.example.test"), Status.DOWN, "dns: NXDOMAIN"),
        (dns_opts(host="broken.example.test"), Status.DOWN, "dns: SERVFAIL"),
    ]
    for options, status, error in cases:
        result = await checker.check("", 3, options)
        assert (result.status, result.error) == (status, error), options


async def test_dns_times_out(dns_server: DnsServer) -> None:
    result = await DnsChecker([dns_server.address]).check(
        "", 0.5, dns_opts(host="slow.example.test")
    )
    assert (result.status, result.error) == (Status.DOWN, "dns: timeout")
