"""The text of a notification: what happened to which website, and where to look."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from betteruptime.notify.sender import Severity

_SEVERITY = {
    "opened": Severity.FAILURE,
    "reminder": Severity.WARNING,
    "acknowledged": Severity.INFO,
    "resolved": Severity.SUCCESS,
}


@dataclass(frozen=True)
class Message:
    """A notification's title, body and how services should colour it."""

    title: str
    body: str
    severity: Severity


@dataclass(frozen=True)
class EventFacts:
    """What a message says: the event, its incident and its website."""

    kind: str
    at: datetime
    incident_id: str
    started_at: datetime
    resolved_at: datetime | None
    cause: dict[str, Any]
    website_name: str | None
    website_url: str


def compose(facts: EventFacts, public_url: str) -> Message:
    """Return the message for one incident event."""
    site = facts.website_name or facts.website_url
    named = f"{facts.website_name} ({facts.website_url})" if facts.website_name else site
    link = f"{public_url}/incidents/{facts.incident_id}"
    started = f"Started: {_when(facts.started_at)}"
    if facts.kind == "resolved":
        end = facts.resolved_at or facts.at
        title = f"UP: {site}"
        lines = [
            f"{named} is up again after {format_duration(end - facts.started_at)}.",
            started,
            f"Resolved: {_when(end)}",
            f"Cause was: {_cause(facts.cause)}",
        ]
    elif facts.kind == "acknowledged":
        title = f"ACKNOWLEDGED: {site}"
        lines = [
            f"The incident of {named} was acknowledged; no more reminders will be sent.",
            started,
            f"Cause: {_cause(facts.cause)}",
        ]
    else:
        still = facts.kind == "reminder"
        title = f"{'STILL DOWN' if still else 'DOWN'}: {site}"
        lines = [
            f"{named} is down"
            + (f" (for {format_duration(facts.at - facts.started_at)})." if still else "."),
            f"Cause: {_cause(facts.cause)}",
            f"Failing regions: {_regions(facts.cause)}",
            started,
        ]
    lines.append(f"Incident: {link}")
    return Message(
        title=title, body="\n".join(lines), severity=_SEVERITY.get(facts.kind, Severity.INFO)
    )


def format_duration(delta: timedelta) -> str:
    """Return a duration as people say it: 45s, 3m 20s, 2h 5m, 1d 4h."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _cause(cause: dict[str, Any]) -> str:
    error = str(cause.get("error") or "").strip()
    code = cause.get("status_code")
    if error and code:
        return f"{error} (HTTP {code})"
    if code:
        return f"HTTP {code}"
    return error or "unknown"


def _regions(cause: dict[str, Any]) -> str:
    regions = cause.get("regions") or []
    names = [str(r.get("region_id", r)) if isinstance(r, dict) else str(r) for r in regions]
    return ", ".join(names) or "unknown"
