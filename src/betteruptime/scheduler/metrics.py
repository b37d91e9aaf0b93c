"""Prometheus metrics of the pusher, on a registry the caller chooses."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge


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
