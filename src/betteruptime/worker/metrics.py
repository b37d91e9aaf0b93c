"""Prometheus metrics of the worker and the pusher, on a registry the caller chooses."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
_BATCH_BUCKETS = (1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


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
        self.check_latency = Histogram(
            "betteruptime_check_duration_seconds",
            "Wall time of one check, timeouts included",
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.queue_lag = Histogram(
            "betteruptime_check_lag_seconds",
            "Delay from a job's scheduled_at to its check",
            buckets=_LAG_BUCKETS,
            registry=reg,
        )
        self.in_flight = Gauge("betteruptime_checks_in_flight", "Checks running now", registry=reg)


class PusherMetrics:
    """What a pusher did: jobs enqueued, faults, and stream trimming."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = REGISTRY if registry is None else registry
        self.pushed = Counter(
            "betteruptime_jobs_pushed_total", "Jobs added to the stream", registry=reg
        )
        self.push_faults = Counter(
            "betteruptime_push_faults_total",
            "Push rounds that failed (database or queue) and were retried",
            registry=reg,
        )
        self.trimmed = Counter(
            "betteruptime_stream_trimmed_total",
            "Entries trimmed after every group acknowledged them",
            registry=reg,
        )
        self.trim_dropped = Counter(
            "betteruptime_stream_cap_dropped_total",
            "Unacknowledged entries dropped by the STREAM_MAXLEN cap",
            registry=reg,
        )
        self.stream_length = Gauge(
            "betteruptime_stream_length", "Stream entries after the last trim", registry=reg
        )


def serve_metrics(port: int, registry: CollectorRegistry | None = None) -> None:
    """Expose the registry on http://0.0.0.0:port/metrics from a background thread."""
    from prometheus_client import start_http_server

    start_http_server(port, registry=REGISTRY if registry is None else registry)
