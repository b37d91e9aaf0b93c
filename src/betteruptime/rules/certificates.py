"""When a certificate's expiry is announced: the lowest threshold crossed, once each."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta


def days_left(expires_at: datetime, now: datetime) -> int:
    """Return the whole days left before expiry, rounded up (0 once expired)."""
    return max(0, math.ceil((expires_at - now) / timedelta(days=1)))


def due_threshold(
    expires_at: datetime, now: datetime, thresholds: Iterable[int], notified_days: int | None
) -> int | None:
    """Return the threshold (days) to announce now, or None.

    Crossing several thresholds at once (a new certificate that is already close to
    expiry, or an alerter that was down) announces only the lowest of them: one notice
    that says how close it is, not a burst of stale ones. An expired certificate is not
    announced here: its checks are DOWN and open an incident.
    """
    if expires_at <= now:
        return None
    left = expires_at - now
    crossed = [t for t in thresholds if left <= timedelta(days=t)]
    if not crossed:
        return None
    lowest = min(crossed)
    if notified_days is not None and lowest >= notified_days:
        return None
    return lowest
