"""The tcp check: UP when a connection (and, if asked, a TLS handshake) succeeds in time."""

from __future__ import annotations

import asyncio
import ssl
import time
from datetime import UTC, datetime

from betteruptime.checks.connect import guarded_connect
from betteruptime.checks.errors import describe
from betteruptime.checks.options import TcpOptions, load_options
from betteruptime.checks.result import CheckResult
from betteruptime.checks.targets import TargetPolicy
from betteruptime.checks.tls import facts_from_ssl, inspect, refusal_reason
from betteruptime.rules.checks import CheckKind
from betteruptime.rules.status import Status


class TcpChecker:
    """Opens one guarded connection per check and closes it at once."""

    def __init__(self, policy: TargetPolicy, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._policy = policy
        self._ssl = ssl_context or ssl.create_default_context()

    async def check(
        self, url: str, timeout_seconds: float, options: str | None = None
    ) -> CheckResult:
        """Return UP when host:port accepts a connection within the timeout, else DOWN."""
        checked_at = datetime.now(UTC)
        try:
            spec: TcpOptions = load_options(CheckKind.TCP, options)
        except ValueError:
            return CheckResult(Status.DOWN, checked_at, error="invalid options")
        started = time.perf_counter()
        tls = None
        try:
            async with asyncio.timeout(timeout_seconds):
                _, writer = await guarded_connect(
                    spec.host,
                    spec.port,
                    self._policy,
                    ssl_context=self._ssl if spec.tls else None,
                    server_hostname=spec.host if spec.tls else None,
                )
            elapsed_ms = round((time.perf_counter() - started) * 1000)
            if spec.tls:
                tls = facts_from_ssl(writer.get_extra_info("ssl_object"))
            writer.close()
        except TimeoutError:
            return CheckResult(Status.DOWN, checked_at, error="timeout")
        except ssl.SSLCertVerificationError as exc:
            error = describe(exc)
            facts = await inspect(spec.host, spec.port, self._policy, max(timeout_seconds, 1.0))
            if facts is not None:
                error = refusal_reason(facts, datetime.now(UTC)) or error
            return CheckResult(Status.DOWN, checked_at, error=error, tls=facts)
        except (OSError, ssl.SSLError, ValueError) as exc:
            return CheckResult(Status.DOWN, checked_at, error=describe(exc))
        limit = spec.degraded_after_ms
        if limit is not None and elapsed_ms > limit:
            return CheckResult(
                Status.UP,
                checked_at,
                None,
                elapsed_ms,
                f"degraded: slower than {limit} ms",
                degraded=True,
                tls=tls,
            )
        return CheckResult(Status.UP, checked_at, None, elapsed_ms, tls=tls)

    async def close(self) -> None:
        """Nothing to release: every check closes its own connection."""
