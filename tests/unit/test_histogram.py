"""The response-time histogram: its edges, bucketing, merging and percentile precision."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from betteruptime.rules import histogram
from betteruptime.rules.histogram import (
    BUCKETS,
    EDGES,
    GROWTH,
    bucket_bounds,
    bucket_of,
    histogram_of,
    merge,
    nearest_rank,
    quantile,
)

QUANTILES = (0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0)
response_times = st.lists(
    st.one_of(
        st.integers(min_value=0, max_value=120_000),
        st.integers(min_value=20, max_value=2_000),  # the usual range, drawn more often
    ),
    min_size=1,
    max_size=400,
)


def exact_quantile(values: list[int], q: float) -> int:
    """Return the nearest-rank q-quantile of values."""
    return sorted(values)[nearest_rank(q, len(values)) - 1]


def test_edges_follow_the_documented_rule() -> None:
    expected = [1]
    while expected[-1] < 60_000:
        expected.append(max(expected[-1] + 1, round(expected[-1] * GROWTH)))
    assert list(EDGES) == expected
    assert BUCKETS == 43
    # Every timeout (at most 60 s) lands in a bounded bucket.
    assert bucket_bounds(bucket_of(60_000))[1] is not None


def test_buckets_from_four_ms_are_at_most_thirty_percent_wide_plus_rounding() -> None:
    for index in range(bucket_of(4), BUCKETS - 1):
        low, high = bucket_bounds(index)
        assert high is not None
        assert high - low <= (GROWTH - 1) * low + 0.5


@pytest.mark.parametrize(
    ("value", "index"),
    [(-3, 0), (0, 0), (1, 1), (2, 2), (7, 6), (8, 7), (99, 16), (100, 16), (108, 17)],
)
def test_bucket_of_a_value(value: int, index: int) -> None:
    assert bucket_of(value) == index


@given(st.integers(min_value=0, max_value=10**7))
def test_every_value_lies_inside_its_bucket(value: int) -> None:
    low, high = bucket_bounds(bucket_of(value))
    assert low <= value
    assert high is None or value < high


def test_bucket_bounds_refuse_unknown_buckets() -> None:
    with pytest.raises(IndexError):
        bucket_bounds(BUCKETS)
    with pytest.raises(IndexError):
        bucket_bounds(-1)


@given(response_times, response_times)
def test_merging_equals_one_histogram_of_all_values(a: list[int], b: list[int]) -> None:
    assert merge(histogram_of(a), histogram_of(b)) == histogram_of(a + b)
    assert sum(histogram_of(a)) == len(a)


def test_merge_refuses_a_histogram_of_other_shape() -> None:
    with pytest.raises(ValueError, match="buckets"):
        merge((1, 2, 3))


def test_empty_histogram_has_no_quantile() -> None:
    assert quantile(histogram.empty(), 0.5) is None


@pytest.mark.parametrize(("q", "n", "rank"), [(0.5, 10, 5), (0.95, 20, 19), (0.99, 1, 1)])
def test_nearest_rank(q: float, n: int, rank: int) -> None:
    assert nearest_rank(q, n) == rank


def test_nearest_rank_refuses_q_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="q must be"):
        nearest_rank(0, 10)


@settings(max_examples=300)
@given(response_times)
def test_quantiles_are_within_one_bucket_of_the_exact_value(values: list[int]) -> None:
    counts = histogram_of(values)
    for q in QUANTILES:
        exact = exact_quantile(values, q)
        estimate = quantile(counts, q, low=min(values), high=max(values))
        assert estimate is not None
        low, high = bucket_bounds(bucket_of(exact))
        width = (max(values) if high is None else high) - low
        assert abs(estimate - exact) <= width
        # Within the same bucket, so in particular within the observed range.
        assert min(values) <= estimate <= max(values)
        assert bucket_of(int(estimate)) == bucket_of(exact)


@given(response_times)
def test_quantiles_without_min_and_max_stay_in_the_bucket(values: list[int]) -> None:
    counts = histogram_of(values)
    for q in QUANTILES:
        estimate = quantile(counts, q)
        assert estimate is not None
        assert bucket_of(int(estimate)) == bucket_of(exact_quantile(values, q))


def test_a_single_value_is_estimated_exactly_with_min_and_max() -> None:
    counts = histogram_of([250])
    assert quantile(counts, 0.99, low=250, high=250) == 250


def test_relative_error_of_typical_latencies_is_small() -> None:
    # 1,000 values spread from 100 to 1,100 ms: p95 is off by well under one bucket.
    values = list(range(100, 1100))
    estimate = quantile(histogram_of(values), 0.95, low=100, high=1099)
    assert estimate is not None
    assert abs(estimate - exact_quantile(values, 0.95)) / exact_quantile(values, 0.95) < 0.3
