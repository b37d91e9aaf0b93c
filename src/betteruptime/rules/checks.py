"""Facts every check shares, whatever its kind: the kinds, schedule bounds, the error limit."""

from __future__ import annotations

import enum


class CheckKind(enum.StrEnum):
    """What a website's check does; each kind has one checker (see checks/registry.py)."""

    HTTP = "http"
    TCP = "tcp"
    DNS = "dns"
    # Pushed, not pulled: the monitored job pings /ping/{key}; never put on the stream.
    HEARTBEAT = "heartbeat"


# The kinds the pusher schedules onto the stream (every kind but the pushed ones).
SCHEDULED_KINDS = (CheckKind.HTTP, CheckKind.TCP, CheckKind.DNS)

# Every HTTP method: what an http check may send and what a route of the API may answer.
HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


# Longest interval and timeout a website may have. The API refuses more, the settings'
# defaults may not exceed them, and other limits (e.g. claiming idle messages) relate to them.
MAX_INTERVAL_SECONDS = 86_400
MAX_TIMEOUT_SECONDS = 60

# Longest error text of a check result: checks shorten to it and the columns hold it.
ERROR_MAX_LENGTH = 255
