"""A fixed, log-spaced histogram of response times, and percentiles estimated from it.

Response times are whole milliseconds. Bucket 0 holds 0 ms; bucket k (1 <= k <= 41) holds
[EDGES[k-1], EDGES[k]); the last bucket holds everything from EDGES[-1] up. Each edge is
the previous one times 1.3, rounded, and at least one more: 43 buckets cover 0 ms to past
the longest timeout (60 s), and from 4 ms up a bucket is never wider than 30 % of its
lower edge plus half a millisecond of rounding. A percentile estimated from the counts
lies in the same bucket as the exact one, so it is off by less than that bucket's width.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

GROWTH = 1.3
# Stored rollups are counts per bucket: these numbers must never change, or every
# histogram already written would be read against the wrong edges. A test checks that
# they follow the rule in the module docstring.
EDGES: tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 8, 10, 13, 17, 22, 29, 38, 49, 64, 83, 108, 140, 182, 237, 308,
    400, 520, 676, 879, 1143, 1486, 1932, 2512, 3266, 4246, 5520, 7176, 9329, 12128,
    15766, 20496, 26645, 34638, 45029, 58538, 76099,
)  # fmt: skip
BUCKETS = len(EDGES) + 1


def bucket_of(value_ms: int) -> int:
    """Return the index of the bucket holding a response time (negative counts as 0)."""
    return bisect.bisect_right(EDGES, value_ms)


def bucket_bounds(index: int) -> tuple[int, int | None]:
    """Return the lowest value of a bucket and its exclusive upper edge (None: unbounded)."""
    if not 0 <= index < BUCKETS:
        raise IndexError(f"bucket {index} outside 0..{BUCKETS - 1}")
    low = 0 if index == 0 else EDGES[index - 1]
    high = EDGES[index] if index < len(EDGES) else None
    return low, high


def empty() -> tuple[int, ...]:
    """Return a histogram with no values."""
    return (0,) * BUCKETS


def histogram_of(values_ms: Iterable[int]) -> tuple[int, ...]:
    """Return the bucket counts of some response times."""
    counts = [0] * BUCKETS
    for value in values_ms:
        counts[bucket_of(value)] += 1
    return tuple(counts)


def merge(*histograms: Sequence[int]) -> tuple[int, ...]:
    """Return the bucket-wise sum of histograms (what one histogram of all values would be)."""
    counts = [0] * BUCKETS
    for histogram in histograms:
        if len(histogram) != BUCKETS:
            raise ValueError(f"a histogram has {BUCKETS} buckets, not {len(histogram)}")
        for i, n in enumerate(histogram):
            counts[i] += n
    return tuple(counts)


def nearest_rank(q: float, n: int) -> int:
    """Return the 1-based rank of the q-quantile of n sorted values (nearest-rank method)."""
    if not 0 < q <= 1:
        raise ValueError("q must be in (0, 1]")
    # Rounded first: 0.95 * 20 is 18.999999999999996 in floating point, not 19.
    return min(n, max(1, math.ceil(round(q * n, 9))))


def quantile(
    histogram: Sequence[int], q: float, *, low: int | None = None, high: int | None = None
) -> float | None:
    """Return an estimate of the q-quantile, or None for an empty histogram.

    The estimate interpolates inside the bucket holding the wanted rank, so it lies in the
    same bucket as the exact value. low and high, the smallest and largest values when
    known, narrow the first and last buckets (and bound the unbounded top bucket).
    """
    total = sum(histogram)
    if total == 0:
        return None
    rank = nearest_rank(q, total)
    # The extremes are known exactly when given.
    if rank == total and high is not None:
        return float(high)
    if rank == 1 and low is not None:
        return float(low)
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            bottom, edge = bucket_bounds(index)
            # Values are whole milliseconds: the bucket's largest possible value is edge - 1.
            top = bottom if edge is None else edge - 1
            if high is not None:
                top = max(bottom, min(top, high) if edge is not None else high)
            if low is not None:
                bottom = max(bottom, min(low, top))
            # The rank's place among this bucket's values, spread evenly over its range.
            position = (rank - seen - 0.5) / count
            return bottom + position * (top - bottom)
        seen += count
    raise AssertionError("unreachable: the ranks add up to the total")
