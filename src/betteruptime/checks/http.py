"""The HTTP check: one request on a fresh connection; the SSRF guard on every redirect hop."""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from betteruptime.checks.errors import CheckRefused, describe
from betteruptime.checks.guard import GuardedResolver, guarded_socket_factory
from betteruptime.checks.http_spec import HttpSpec, http_spec
from betteruptime.checks.result import CheckResult, TlsFacts
from betteruptime.checks.targets import TargetPolicy, parse_ip_literal
from betteruptime.checks.tls import facts_from_ssl, inspect, refusal_reason
from betteruptime.log import get_logger
from betteruptime.rules.status import Status

log = get_logger(__name__)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SCHEMES = frozenset({"http", "https"})
_READ_CHUNK = 16384


class _Progress:
    """What a check learned before it ended, so a timeout can still report it."""

    __slots__ = ("body", "elapsed", "status_code", "target", "tls")

    def __init__(self) -> None:
        self.status_code: int | None = None
        self.elapsed: float | None = None
        self.target: URL | None = None
        self.tls: TlsFacts | None = None
        self.body: bytes | None = None


# The check being run in this task: the connector notes the certificate of each new
# connection there (a small answer releases its connection before `request` returns).
_CURRENT: ContextVar[_Progress | None] = ContextVar("http_check_progress", default=None)


class _CertificateNotingConnector(aiohttp.TCPConnector):
    """A TCPConnector that notes each TLS connection's certificate facts for its check."""

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109
        # aiohttp's hook where a new connection exists and its handshake is done.
        proto = await super()._create_connection(req, traces, timeout)
        progress = _CURRENT.get()
        transport = getattr(proto, "transport", None)
        if progress is not None and transport is not None:
            progress.tls = facts_from_ssl(transport.get_extra_info("ssl_object"))
        return proto


class HttpChecker:
    """Checks URLs with one shared session; every check opens its own connection."""

    def __init__(
        self,
        policy: TargetPolicy,
        *,
        max_body_bytes: int = 65536,
        max_redirects: int = 5,
        resolver: AbstractResolver | None = None,
        user_agent: str = "BetterUptime/0.1",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._policy = policy
        self._max_body_bytes = max(0, max_body_bytes)
        self._max_redirects = max(0, max_redirects)
        self._inner_resolver = resolver
        self._user_agent = user_agent
        # None: the system's trust store (tests pass a context trusting their own CA).
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        # Per-checker cache: the same few thousand hosts are checked over and over.
        self._decide_host = functools.lru_cache(maxsize=4096)(self._decide_host_uncached)

    async def __aenter__(self) -> HttpChecker:
        self._get_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on first use rather than in __init__: aiohttp wants a running loop, and
        # callers build checkers in plain constructors. No await between the test and the
        # assignment, so concurrent first checks still share one session.
        if self._session is None:
            if self._closed:
                raise RuntimeError("HttpChecker is closed")
            connector = _CertificateNotingConnector(
                # The worker bounds concurrency itself; a connector limit would only queue.
                limit=0,
                # A fresh connection per check, so connect and TLS time are measured for real
                # and a server cannot hand one check's connection to the next.
                force_close=True,
                resolver=GuardedResolver(self._policy, self._inner_resolver),
                socket_factory=guarded_socket_factory(self._policy),
                ssl=self._ssl,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # Checks of different users' sites must never share cookies.
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self._user_agent, "Accept-Encoding": "identity"},
                # The body is read raw and bounded; no decompression bomb can expand it.
                auto_decompress=False,
                # The whole check runs under asyncio.timeout; aiohttp's own timers would
                # only add per-request cost (and round timeouts above 5 s up to seconds).
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=None, sock_read=None),
                read_bufsize=min(max(self._max_body_bytes, 16384), 262144),
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        """Close the session and its connector; later checks raise RuntimeError."""
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def check(
        self, url: str, timeout_seconds: float, options: str | None = None
    ) -> CheckResult:
        """Return UP or DOWN for one request to url; network faults become DOWN, never raise."""
        checked_at = datetime.now(UTC)
        # Plain checks (no options) take the seed's path: GET, 200-399, body discarded.
        try:
            spec = http_spec(options) if options else None
        except ValueError:
            return CheckResult(Status.DOWN, checked_at, error="invalid options")
        session = self._get_session()
        progress = _Progress()
        _CURRENT.set(progress)
        started = time.perf_counter()
        error: str | None = None
        deadline = asyncio.timeout(timeout_seconds)
        try:
            async with deadline:
                await self._fetch(session, url, started, progress, spec)
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientConnectorCertificateError as exc:
            error = describe(exc)
            left = timeout_seconds - (time.perf_counter() - started)
            error = await self._explain_certificate(progress, error, max(left, 1.0))
        except (aiohttp.ClientError, OSError, ValueError, CheckRefused) as exc:
            # A library may turn the deadline's cancellation into its own error on the way
            # out; the deadline is still the reason.
            error = "timeout" if deadline.expired() else describe(exc)
        except Exception as exc:  # a bug must not take the worker's batch down with it
            log.warning("check_failed_unexpectedly", error_type=type(exc).__name__)
            error = describe(exc)

        response_time_ms = None if progress.elapsed is None else round(progress.elapsed * 1000)
        code = progress.status_code
        if error is None and code is not None:
            if spec is None:
                if 200 <= code <= 399:
                    return CheckResult(
                        Status.UP, checked_at, code, response_time_ms, tls=progress.tls
                    )
                error = f"status {code}"
            else:
                error = spec.judge(code, response_time_ms, progress.body, progress.tls, checked_at)
                if error is None:
                    return _up(spec, checked_at, code, response_time_ms, progress.tls)
        if error is None:
            error = f"status {code}"
        return CheckResult(Status.DOWN, checked_at, code, response_time_ms, error, tls=progress.tls)

    async def _explain_certificate(self, progress: _Progress, error: str, seconds: float) -> str:
        """Return a precise reason for a refused certificate, reading it without trust."""
        target = progress.target
        if target is None or target.raw_host is None:
            return error
        facts = await inspect(target.raw_host, target.port or 443, self._policy, seconds)
        if facts is None:
            return error
        progress.tls = facts
        return refusal_reason(facts, datetime.now(UTC)) or error

    async def _fetch(
        self,
        session: aiohttp.ClientSession,
        url: str,
        started: float,
        progress: _Progress,
        spec: HttpSpec | None,
    ) -> None:
        target = URL(url)
        if target.scheme not in _SCHEMES:
            raise CheckRefused("unsupported URL scheme")
        method = "GET" if spec is None else spec.method
        data = None if spec is None else spec.body
        headers = None if spec is None else spec.headers
        follow = spec is None or spec.follow_redirects
        redirects = 0
        while True:
            target = self._guard_literal(target)
            progress.target = target
            async with session.request(
                method, target, allow_redirects=False, data=data, headers=headers
            ) as response:
                # The status line and headers are in: time to first byte.
                progress.elapsed = time.perf_counter() - started
                progress.status_code = response.status
                location = response.headers.get("Location")
                if follow and response.status in _REDIRECT_STATUSES and location:
                    if redirects >= self._max_redirects:
                        raise CheckRefused("too many redirects")
                    redirects += 1
                    # What a hop answered is not the site's answer: a later failure must
                    # not be reported with this hop's 3xx and timing.
                    progress.status_code = progress.elapsed = None
                    progress.tls = None
                    target = _redirect_target(response.url, location)
                    if response.status == 303 or (
                        response.status in (301, 302) and method == "POST"
                    ):
                        # What browsers do: the next hop is a GET without the body.
                        method, data = "GET", None
                    # Leaving the block drops this hop's connection unread (force_close).
                    continue
                if spec is not None and spec.reads_body:
                    progress.body = await self._read_kept(response)
                else:
                    await self._read_bounded(response)
                return

    def _guard_literal(self, target: URL) -> URL:
        """Return target with a canonical IP host, or raise CheckRefused when it is blocked.

        aiohttp connects to IP literals without asking the resolver, and getaddrinfo would
        read odd notations (0x7f.1, 127.1) as IPv4 too; so the literal is decided here the
        way the socket layer would decide it, checked, and written back canonically.
        """
        host = target.raw_host
        if not host:
            raise CheckRefused("invalid URL")
        canonical, reason = self._decide_host(host)
        if reason is not None:
            raise CheckRefused(f"blocked: {reason}")
        return target if canonical is None or canonical == host else target.with_host(canonical)

    def _decide_host_uncached(self, host: str) -> tuple[str | None, str | None]:
        """Return (canonical IP text or None for a name, blocked reason or None)."""
        address = parse_ip_literal(host)
        if address is None:
            return None, None  # a name: the guarded resolver checks what it resolves to
        return str(address), self._policy.blocked_reason(address)

    async def _read_kept(self, response: aiohttp.ClientResponse) -> bytes:
        """Return at most max_body_bytes of the body, for keywords and assertions."""
        chunks = []
        remaining = self._max_body_bytes
        content = response.content
        while remaining > 0:
            chunk = await content.read(min(remaining, _READ_CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    async def _read_bounded(self, response: aiohttp.ClientResponse) -> None:
        """Read and discard at most max_body_bytes of the body; the rest is never read."""
        remaining = self._max_body_bytes
        content = response.content
        while remaining > 0:
            chunk = await content.read(min(remaining, _READ_CHUNK))
            if not chunk:
                return
            remaining -= len(chunk)


def _up(
    spec: HttpSpec,
    checked_at: datetime,
    code: int,
    response_time_ms: int | None,
    tls: TlsFacts | None,
) -> CheckResult:
    """Return the UP result, degraded when slower than the website's threshold."""
    limit = spec.degraded_after_ms
    if limit is not None and response_time_ms is not None and response_time_ms > limit:
        return CheckResult(
            Status.UP,
            checked_at,
            code,
            response_time_ms,
            f"degraded: slower than {limit} ms",
            degraded=True,
            tls=tls,
        )
    return CheckResult(Status.UP, checked_at, code, response_time_ms, tls=tls)


def _redirect_target(current: URL, location: str) -> URL:
    """Return the absolute URL a Location header points to, if it is http(s)."""
    try:
        target = current.join(URL(location))
    except ValueError as exc:
        raise CheckRefused("invalid redirect location") from exc
    if target.scheme not in _SCHEMES:
        raise CheckRefused(f"blocked: redirect to a non-HTTP URL scheme {target.scheme[:20]!r}")
    return target
