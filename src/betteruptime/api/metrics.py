"""Prometheus metrics of the API: requests by route template, method and status, and latency."""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from betteruptime.api.errors import unauthorized
from betteruptime.rules.checks import HTTP_METHODS

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_METHODS = frozenset(HTTP_METHODS)
# Paths no route matched share one label, so scanners cannot grow the label set.
UNMATCHED = "unmatched"


class ApiMetrics:
    """The API's own collectors, on a registry per app (two apps in one process never clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "betteruptime_api_requests_total",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "betteruptime_api_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """Return this app's metrics and the process-wide ones, in Prometheus text format."""
        # The default registry holds the process, GC and (under `serve`) pipeline metrics.
        return generate_latest(self.registry) + generate_latest(REGISTRY)


class RequestRecorder:
    """Counts and times answered requests by route template, method and status."""

    def __init__(self, metrics: ApiMetrics) -> None:
        self.metrics = metrics
        # The labelled children, found once per label set: prometheus_client's labels()
        # takes a lock and builds a key on every call (12 µs a request for the two, 4 µs
        # with the children kept). The label sets are bounded (route templates, methods,
        # statuses), and so is this dict.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def record(self, scope: Scope, status: int, seconds: float) -> None:
        """Count one answered request of scope, labelled by the route it matched."""
        # The router writes the matched route into the request's scope dict. Its template
        # without convertors: /ping/{key}/{exit_status}, not {exit_status:int}.
        route = getattr(scope.get("route"), "path_format", None) or UNMATCHED
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.metrics.requests.labels(route, method, str(status)),
                self.metrics.latency.labels(route, method),
            )
            self._children[key] = children
        requests, latency = children
        requests.inc()
        latency.observe(seconds)

    async def serve(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Run app on the request, then count and time it (a 500 if app raised first)."""
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, recording_send)
        finally:
            self.record(scope, status, time.perf_counter() - started)


class MetricsMiddleware:
    """Count and time every HTTP request, labelled by the route template it matched."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.recorder = RequestRecorder(metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.recorder.serve(self.app, scope, receive, send)


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Return the metrics in Prometheus text format (bearer METRICS_TOKEN when it is set)."""
    state = request.app.state.core
    token = state.settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise unauthorized()
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
