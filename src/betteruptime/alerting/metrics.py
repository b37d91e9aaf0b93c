"""Prometheus metrics of the evaluator, on a registry the caller chooses."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge


class EvaluatorMetrics:
    """What the evaluator decided, the regions it ignores, and its faults."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = REGISTRY if registry is None else registry
        self.evaluations = Counter(
            "betteruptime_evaluations_total", "Websites evaluated for incidents", registry=reg
        )
        self.opened = Counter(
            "betteruptime_incidents_opened_total", "Incidents opened", registry=reg
        )
        self.resolved = Counter(
            "betteruptime_incidents_resolved_total",
            "Incidents that resolved by themselves",
            registry=reg,
        )
        self.reminders = Counter(
            "betteruptime_incident_reminders_total", "Reminder events written", registry=reg
        )
        self.faults = Counter(
            "betteruptime_alerter_faults_total",
            "Evaluator rounds that failed (database) and were retried",
            ["loop"],
            registry=reg,
        )
        self.votes_ignored = Gauge(
            "betteruptime_region_votes_ignored",
            "1 while the probe-side outage guard ignores the region's votes",
            ["region"],
            registry=reg,
        )
