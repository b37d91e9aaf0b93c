"""Rules on website input that need the settings: the target URL and the schedule."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from betteruptime.api.errors import InputError
from betteruptime.checks.targets import literal_host_blocked
from betteruptime.config import Settings
from betteruptime.db.models import URL_MAX_LENGTH
from betteruptime.rules.checks import MAX_INTERVAL_SECONDS

ALLOWED_SCHEMES = frozenset({"http", "https"})
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")


def validate_target_url(
    url: str, settings: Settings, loc: tuple[str, ...] = ("body", "url")
) -> str:
    """Return the URL when a check may target it; raise InputError (a 422) otherwise."""
    # The single gate for every URL a user gives, on create and on change.
    if len(url) > URL_MAX_LENGTH:
        raise InputError(loc, f"must be at most {URL_MAX_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InputError(loc, "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host
        raise InputError(loc, "is not a valid URL") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise InputError(loc, "must start with http:// or https://")
    if "@" in parts.netloc:
        raise InputError(loc, "must not contain a username or password")
    host = parts.hostname
    if not host:
        raise InputError(loc, "must have a host")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port outside 0-65535 or not a number
    except ValueError:
        raise InputError(loc, "has an invalid port") from None
    if not _valid_host(host, bracketed=parts.netloc.split(":")[0].startswith("[")):
        raise InputError(loc, "has an invalid host")
    # Refuse early what the checker would refuse anyway (it re-checks every address it
    # connects to, since a DNS name can point anywhere): 127.1, [::ffff:10.0.0.1], localhost.
    reason = literal_host_blocked(url, settings.target_policy)
    if reason is not None:
        raise InputError(loc, f"is not an allowed target: {reason}")
    return url


def _valid_host(host: str, *, bracketed: bool) -> bool:
    if bracketed:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return False
        return True
    if host.isascii():
        labels = host.rstrip(".").split(".")
        return set(host) <= _HOST_CHARS and all(0 < len(label) <= 63 for label in labels)
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


def validate_schedule(interval_seconds: int, timeout_seconds: int, settings: Settings) -> None:
    """Raise InputError unless the interval and timeout fit the settings and each other."""
    if not settings.min_interval_seconds <= interval_seconds <= MAX_INTERVAL_SECONDS:
        raise InputError(
            ("body", "interval_seconds"),
            f"must be between {settings.min_interval_seconds} and {MAX_INTERVAL_SECONDS}",
        )
    if not 1 <= timeout_seconds <= settings.max_timeout_seconds:
        raise InputError(
            ("body", "timeout_seconds"), f"must be between 1 and {settings.max_timeout_seconds}"
        )
    if timeout_seconds > interval_seconds:
        raise InputError(("body", "timeout_seconds"), "must not exceed interval_seconds")
