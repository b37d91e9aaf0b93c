"""The checker of each kind: the worker dispatches every job through this registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from betteruptime.checks.dns import DnsChecker
from betteruptime.checks.http import HttpChecker
from betteruptime.checks.result import CheckResult
from betteruptime.checks.targets import TargetPolicy
from betteruptime.checks.tcp import TcpChecker
from betteruptime.rules.checks import CheckKind


class Checker(Protocol):
    """Checks a target and never raises for network faults: they are DOWN results."""

    async def check(
        self, url: str, timeout_seconds: float, options: str | None = None
    ) -> CheckResult:
        """Return the outcome of one check; options are the website's, as stored."""
        ...

    async def close(self) -> None:
        """Release connections; later checks may raise."""
        ...


Checkers = Mapping[CheckKind, Checker]


def make_checkers(
    policy: TargetPolicy,
    *,
    max_body_bytes: int = 65536,
    max_redirects: int = 5,
    dns_resolvers: Sequence[str] = (),
) -> dict[CheckKind, Checker]:
    """Return one checker per scheduled kind, all guarded by the same target policy."""
    # A new kind is one more entry here (and its module beside http.py). Heartbeats are
    # pushed, never on the stream, so they have no checker.
    return {
        CheckKind.HTTP: HttpChecker(
            policy, max_body_bytes=max_body_bytes, max_redirects=max_redirects
        ),
        CheckKind.TCP: TcpChecker(policy),
        CheckKind.DNS: DnsChecker(dns_resolvers),
    }


async def close_checkers(checkers: Checkers) -> None:
    """Close every checker of the registry."""
    for checker in checkers.values():
        await checker.close()
