"""Cyclic garbage collector settings for a worker process."""

from __future__ import annotations

import gc

# Objects allocated (net of those freed) between two young collections; Python's default
# is 700. With 500 checks in flight, tens of thousands of tracked objects (tasks, futures,
# transports, requests) are alive at any moment and each lives for one check: at 700 the
# collector walks them again and again and promotes them, which made full collections
# frequent. Measured with benchmark 1 (40,000 checks, 500 in flight, loaded machine): the
# collector took 7.7 of the worker's 34 CPU seconds with the defaults and under 0.3 s
# with this threshold and the freeze below; peak RSS did not change (130 MB).
YOUNG_COLLECTION_THRESHOLD = 50_000


def tune_for_checks() -> None:
    """Freeze the start-up heap and collect young objects less often (whole process)."""
    # Modules, classes, SQLAlchemy and pydantic metadata live as long as the process:
    # frozen, full collections no longer walk them (about 130,000 objects).
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)
