"""Prometheus metrics of the worker, on a registry the caller chooses."""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
_BATCH_BUCKETS = (1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class LocalHistogram(Collector):
    """A histogram observed without locks, exported at scrape time.

    prometheus_client's Histogram takes two mutexes per observation; at thousands of
    checks a second that was a tenth of the worker's CPU. Observations happen on the
    event loop thread only, so plain integers suffice; a scrape from the metrics thread
    may see one observation half-counted, which is harmless.
    """

    def __init__(
        self, name: str, documentation: str, buckets: tuple[float, ...], registry: CollectorRegistry
    ) -> None:
        self._name = name
        self._doc = documentation
        self._bounds = list(buckets)
        self._counts = [0] * (len(buckets) + 1)
        self._sum = 0.0
        registry.register(self)

    def observe(self, value: float) -> None:
        """Count one observation."""
        self._counts[bisect.bisect_left(self._bounds, value)] += 1
        self._sum += value

    def collect(self) -> Iterator[HistogramMetricFamily]:
        """Return the histogram in Prometheus form (cumulative buckets)."""
        cumulative, total = [], 0
        labels = [*map(floatToGoString, self._bounds), "+Inf"]
        for bound, count in zip(labels, self._counts, strict=True):
            total += count
            cumulative.append((bound, total))
        family = HistogramMetricFamily(self._name, self._doc)
        family.add_metric([], cumulative, self._sum)
        yield family


class WorkerMetrics:
    """What a worker did: checks, skips, claims, poison, writes, latency and lag."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # Tests pass their own registry; a process uses the default one (once).
        reg = REGISTRY if registry is None else registry
        self.checks = Counter(
            "betteruptime_checks_total", "Checks stored and acknowledged", ["status"], registry=reg
        )
        self.skipped_stale = Counter(
            "betteruptime_checks_skipped_stale_total",
            "Jobs acknowledged unchecked because their deadline had passed",
            registry=reg,
        )
        self.claimed = Counter(
            "betteruptime_messages_claimed_total",
            "Messages claimed from idle consumers with XAUTOCLAIM",
            registry=reg,
        )
        self.poison = Counter(
            "betteruptime_messages_poison_total",
            "Messages acknowledged unchecked: malformed or delivered too many times",
            registry=reg,
        )
        self.write_failures = Counter(
            "betteruptime_tick_write_failures_total",
            "Batch writes that failed and were retried",
            registry=reg,
        )
        self.queue_faults = Counter(
            "betteruptime_queue_faults_total",
            "Queue calls that failed and were retried",
            registry=reg,
        )
        self.batch_size = Histogram(
            "betteruptime_tick_batch_size",
            "Ticks per batch write",
            buckets=_BATCH_BUCKETS,
            registry=reg,
        )
        self.check_latency = LocalHistogram(
            "betteruptime_check_duration_seconds",
            "Wall time of one check, timeouts included",
            _LATENCY_BUCKETS,
            reg,
        )
        self.queue_lag = LocalHistogram(
            "betteruptime_check_lag_seconds",
            "Delay from a job's scheduled_at to its check",
            _LAG_BUCKETS,
            reg,
        )
        # Read at scrape time from the worker (set_function), not updated per check.
        self.in_flight = Gauge("betteruptime_checks_in_flight", "Checks running now", registry=reg)


def serve_metrics(port: int, registry: CollectorRegistry | None = None) -> None:
    """Expose the registry on http://0.0.0.0:port/metrics from a background thread."""
    from prometheus_client import start_http_server

    start_http_server(port, registry=REGISTRY if registry is None else registry)
