"""Benchmark 9: a storm: 1,000 websites go down at the same moment.

2,500 websites on a 30 s interval with the default thresholds; 1,000 of them (40 %, under
the probe-side guard's 50 % of one region) start failing together. Every one must get
exactly one DOWN notification, within 60 s.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from bench import alerting
from bench.env import backends
from bench.procs import running
from bench.results import Figure

TARGET_SECONDS = 60.0


@dataclass(frozen=True)
class Sizes:
    """Websites monitored, how many go down together, their interval and recheck delay."""

    websites: int = 2_500
    down: int = 1_000
    interval: int = 30
    recheck_seconds: float = 10.0


QUICK = Sizes(websites=50, down=20, interval=2, recheck_seconds=1.0)


async def run(sizes: Sizes) -> list[Figure]:
    """Return the time to the last DOWN notification, and how many were doubled or missing."""
    key = alerting.new_key()
    async with backends("storm") as b, alerting.switchboard() as board:
        parked_due = await alerting.fill(b, board, sizes.websites, sizes.interval, key)
        async with running() as procs:
            started = await alerting.start(
                b,
                procs,
                key,
                parked_due,
                recheck_seconds=sizes.recheck_seconds,
                min_interval=sizes.interval,
            )
            await alerting.wait_all_checked(b, procs, sizes.websites, sizes.interval * 3 + 30)
            chosen = random.sample(range(sizes.websites), sizes.down)
            went_down = time.time()
            for index in chosen:
                board.switch_down(index)
            await alerting.wait_delivered(
                board, procs, sizes.down, sizes.interval + sizes.recheck_seconds + 120
            )
            alerter = started[-1]
            alerter.sample()
            detected = await alerting.detected_at(b)
    arrivals = {i: board.received[i] for i in chosen if i in board.received}
    missing = sizes.down - len(arrivals)
    doubled = sum(1 for times in arrivals.values() if len(times) > 1)
    last_after_down = max((t[0] for t in arrivals.values()), default=went_down) - went_down
    after_detection = [t[0] - detected[i] for i, t in arrivals.items() if i in detected]
    detection = [detected[i] - went_down for i in chosen if i in detected]
    details = {
        "websites": sizes.websites,
        "went_down": sizes.down,
        "notified": len(arrivals),
        "missing": missing,
        "doubled": doubled,
        "unexpected_notifications": len(board.other_titles),
        "interval_seconds": sizes.interval,
        "recheck_seconds": sizes.recheck_seconds,
        "last_notification_after_detection_seconds": round(max(after_detection, default=0), 2),
        "median_notification_after_detection_seconds": round(
            alerting.percentile(after_detection, 0.5), 2
        ),
        "last_incident_detected_after_down_seconds": round(max(detection, default=0), 2),
        "median_incident_detected_after_down_seconds": round(
            alerting.percentile(detection, 0.5), 2
        ),
        "first_notification_after_down_seconds": round(
            min((t[0] for t in arrivals.values()), default=went_down) - went_down, 2
        ),
        "alerter_cpu_seconds": round(alerter.cpu_seconds, 1),
        "alerter_peak_rss_mb": round(alerter.peak_rss / 2**20, 1),
    }
    ok = missing == 0 and doubled == 0
    return [
        Figure(
            benchmark="11 notification storm",
            name=f"{sizes.down:,} websites down together: last DOWN notification after going down",
            value=last_after_down,
            unit="s",
            target=f"<= {TARGET_SECONDS:.0f} s",
            met=last_after_down <= TARGET_SECONDS and missing == 0,
            details=details,
        ),
        Figure(
            benchmark="11 notification storm",
            name="last DOWN notification after its incident opened",
            value=max(after_detection, default=0.0),
            unit="s",
            target=f"<= {TARGET_SECONDS:.0f} s",
            met=bool(after_detection) and max(after_detection) <= TARGET_SECONDS,
            details=details,
        ),
        Figure(
            benchmark="11 notification storm",
            name="websites notified more than once, or never",
            value=float(missing + doubled),
            unit="",
            target="0",
            met=ok,
            details=details,
        ),
    ]
