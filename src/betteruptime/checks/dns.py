"""The dns check: ask the operator's resolvers for one record type of a name."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from betteruptime.checks.options import DnsOptions, load_options
from betteruptime.checks.result import CheckResult
from betteruptime.rules.checks import CheckKind
from betteruptime.rules.status import Status


def parse_resolver(text: str) -> tuple[str, int]:
    """Return (address, port) of "192.0.2.1", "192.0.2.1:5353", "2001:db8::1" or "[::1]:53"."""
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
    elif text.count(":") == 1:
        address, _, port_text = text.partition(":")
        port = int(port_text)
    else:
        address, port = text, 53
    ipaddress.ip_address(address)  # a resolver is an address: no lookup to find the resolver
    if not 1 <= port <= 65535:
        raise ValueError("port out of range")
    return address, port


class DnsChecker:
    """Resolves through DNS_RESOLVERS (or the system's resolvers when none is set)."""

    def __init__(self, resolvers: Sequence[str] = ()) -> None:
        # The user chooses only the name and the record type. The resolvers are the
        # operator's: a check cannot be aimed at a private resolver, and it never connects
        # to the addresses it resolves.
        if resolvers:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(*parse_resolver(r)) for r in resolvers
            ]
        else:
            self._resolver = dns.asyncresolver.Resolver()

    async def check(
        self, url: str, timeout_seconds: float, options: str | None = None
    ) -> CheckResult:
        """Return UP when the name has the records (and the expected values), else DOWN."""
        checked_at = datetime.now(UTC)
        try:
            spec: DnsOptions = load_options(CheckKind.DNS, options)
        except ValueError:
            return CheckResult(Status.DOWN, checked_at, error="invalid options")
        started = time.perf_counter()
        try:
            answer = await self._resolver.resolve(
                spec.host, spec.record_type, lifetime=timeout_seconds, search=False
            )
        except dns.resolver.NXDOMAIN:
            return self._down(checked_at, started, "dns: NXDOMAIN")
        except dns.resolver.NoAnswer:
            return self._down(checked_at, started, f"dns: no {spec.record_type} record")
        except dns.resolver.NoNameservers:
            # Every resolver answered SERVFAIL (or REFUSED) or could not be reached.
            return self._down(checked_at, started, "dns: SERVFAIL")
        except dns.exception.Timeout:
            return CheckResult(Status.DOWN, checked_at, error="dns: timeout")
        except dns.exception.DNSException as exc:
            return self._down(checked_at, started, f"dns: {type(exc).__name__}")
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        if spec.expected:
            seen = {_normal(spec.record_type, rdata.to_text()) for rdata in answer}
            wanted = {_normal(spec.record_type, value) for value in spec.expected}
            ok = wanted <= seen if spec.expected_mode == "all" else bool(wanted & seen)
            if not ok:
                # The answer is not echoed: a name may resolve to internal addresses.
                return CheckResult(
                    Status.DOWN, checked_at, None, elapsed_ms, "dns: expected value not found"
                )
        return CheckResult(Status.UP, checked_at, None, elapsed_ms)

    @staticmethod
    def _down(checked_at: datetime, started: float, error: str) -> CheckResult:
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        return CheckResult(Status.DOWN, checked_at, None, elapsed_ms, error)

    async def close(self) -> None:
        """Nothing to release: dnspython opens a socket per query."""


def _normal(record_type: str, text: str) -> str:
    """Return a record value in one spelling: addresses canonical, names lower-case."""
    value = text.strip()
    if record_type in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    if record_type == "TXT":
        # to_text() quotes each string; expected values are given bare.
        return "".join(part.strip('"') for part in value.split('" "'))
    if record_type == "MX":
        # "10 mail.example.com." matches "mail.example.com" and "10 mail.example.com".
        value = value.split()[-1]
    return value.lower().rstrip(".")
