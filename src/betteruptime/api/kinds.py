"""What each kind needs on input: its options validated, its target judged, its url made."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from betteruptime.api.errors import InputError
from betteruptime.checks.options import (
    DnsOptions,
    HeartbeatOptions,
    TcpOptions,
    dump_options,
    validate_options,
)
from betteruptime.checks.targets import host_blocked, parse_ip_literal
from betteruptime.config import Settings
from betteruptime.inputs import validate_target_url
from betteruptime.rules.checks import MAX_INTERVAL_SECONDS, CheckKind
from betteruptime.rules.heartbeat import Schedule, down_at, parse_schedule

_OPTIONS_LOC = ("body", "options")


@dataclass(frozen=True, slots=True)
class KindInput:
    """A website's kind-specific values, validated: what the database stores."""

    url: str
    options: str | None
    # Heartbeats only: the schedule (to compute when silence is DOWN).
    schedule: Schedule | None = None
    grace: timedelta | None = None
    # Heartbeats: the interval that keeps their status fresh between pings (see README).
    interval_seconds: int | None = None


def validate_kind(
    kind: CheckKind,
    url: str | None,
    raw_options: dict[str, Any] | None,
    settings: Settings,
    *,
    heartbeat_url: str | None = None,
) -> KindInput:
    """Return the validated url and options of a website of this kind; raise a 422."""
    try:
        options = validate_options(kind, raw_options)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {"loc": (*_OPTIONS_LOC, *e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors()
            ]
        ) from None
    stored = dump_options(options)
    if kind is CheckKind.HTTP:
        if url is None:
            raise InputError(("body", "url"), "is required for an http website")
        return KindInput(validate_target_url(url, settings), stored)
    if url is not None:
        raise InputError(("body", "url"), f"a {kind.value} website has no url; use options")
    if isinstance(options, TcpOptions):
        _refuse_blocked_host(options.host, settings)
        return KindInput(f"tcp://{_bracketed(options.host)}:{options.port}", stored)
    if isinstance(options, DnsOptions):
        # The check only asks the operator's resolvers about the name and never connects
        # to what it resolves to; names that always mean this machine are still refused.
        _refuse_blocked_host(options.host, settings)
        return KindInput(f"dns://{options.host}/{options.record_type}", stored)
    assert isinstance(options, HeartbeatOptions)
    schedule = parse_schedule(options.period_seconds, options.cron, options.timezone)
    period = options.period_seconds or MAX_INTERVAL_SECONDS
    return KindInput(
        heartbeat_url or f"heartbeat://{secrets.token_hex(16)}",
        stored,
        schedule,
        timedelta(seconds=options.grace_seconds),
        min(max(period, settings.min_interval_seconds), MAX_INTERVAL_SECONDS),
    )


def _refuse_blocked_host(host: str, settings: Settings) -> None:
    reason = host_blocked(host, settings.target_policy)
    if reason is not None:
        raise InputError((*_OPTIONS_LOC, "host"), f"is not an allowed target: {reason}")


def _bracketed(host: str) -> str:
    address = parse_ip_literal(host)
    return f"[{address}]" if address is not None and address.version == 6 else host


def new_ping_key() -> str:
    """Return a fresh secret ping key (128 random bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def first_down_at(kind_input: KindInput, since: datetime) -> datetime | None:
    """Return when a heartbeat with no ping since the given time becomes DOWN."""
    if kind_input.schedule is None or kind_input.grace is None:
        return None
    return down_at(kind_input.schedule, kind_input.grace, since, None)
