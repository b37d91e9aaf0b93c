"""The FastAPI application: create_app(settings) wires API, pages, errors and the lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.api import metrics
from betteruptime.api.batching import GroupCommit
from betteruptime.api.body_limit import BodySizeLimitMiddleware
from betteruptime.api.errors import install_error_handlers
from betteruptime.api.metrics import ApiMetrics, MetricsMiddleware
from betteruptime.api.openapi import install_openapi
from betteruptime.api.ping_path import PingPath
from betteruptime.api.routes import (
    badges,
    channels,
    health,
    incidents,
    pings,
    stats,
    status,
    status_pages,
    users,
    websites,
)
from betteruptime.api.state import AppState
from betteruptime.checks.targets import TargetPolicy
from betteruptime.config import Settings, resolve_channel_keys, resolve_jwt_secret
from betteruptime.db.heartbeats import PingWriter
from betteruptime.db.migrate import upgrade_to_head
from betteruptime.db.session import create_engine, create_sessionmaker
from betteruptime.log import get_logger
from betteruptime.notify.crypto import ChannelCipher
from betteruptime.notify.sender import Sender
from betteruptime.ratelimit import make_rate_limits
from betteruptime.routes import add_routes
from betteruptime.web.mount import install_web, make_web_state

log = get_logger(__name__)


def create_app(settings: Settings, *, engine: AsyncEngine | None = None) -> FastAPI:
    """Return the API app; it migrates the database and opens connections at start."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        db = create_engine(settings.sqlalchemy_url) if engine is None else engine
        redis: aioredis.Redis | None = None
        ping_writer = PingWriter(db)
        try:
            await upgrade_to_head(db)
            secret, generated = resolve_jwt_secret(settings)
            if generated:
                log.warning(
                    "JWT_SECRET is not set; using a secret generated in DATA_DIR. "
                    "Multi-node deployments must set the same JWT_SECRET on every API node.",
                    secret_file=str(settings.data_dir / "jwt_secret"),
                )
            keys, keys_generated = resolve_channel_keys(settings)
            if keys_generated:
                log.warning(
                    "CHANNEL_KEY is not set; using a key generated in DATA_DIR. Every API "
                    "node and alerter of a deployment must set the same CHANNEL_KEY.",
                    key_file=str(settings.data_dir / "channel_key"),
                )
            if settings.redis_connection_url:
                redis = aioredis.from_url(
                    settings.redis_connection_url, socket_connect_timeout=3, socket_timeout=3
                )
            rate_limits = make_rate_limits(settings, redis)
            sessionmaker = create_sessionmaker(db)
            cipher = ChannelCipher(keys)
            sender = Sender(
                TargetPolicy(
                    allow_private=settings.allow_private_targets,
                    allowed_networks=settings.allowed_target_networks,
                ),
                timeout=settings.notify_timeout_seconds,
                concurrency=settings.notify_concurrency,
            )
            app.state.core = AppState(
                settings=settings,
                engine=db,
                sessionmaker=sessionmaker,
                jwt_secret=secret,
                redis=redis,
                rate_limits=rate_limits,
                metrics=api_metrics,
                cipher=cipher,
                sender=sender,
                pings=GroupCommit(ping_writer.record),
            )
            # The pages share the API's database pool, limits, cipher and sender, not its
            # code: one concurrency bound for the test sends of both doors.
            app.state.web = make_web_state(
                settings, sessionmaker, secret, rate_limits, cipher, sender
            )
            log.info("api started", database=db.url.render_as_string(hide_password=True))
            # What exists now (modules, routes, models: ~185,000 objects) lives as long as
            # the app: kept out of the collector's full passes, each walks ~15,000 objects
            # instead of ~200,000. Those passes came every few status pages and paused the
            # process 150-400 ms each on the busy machine; now 10-20 ms.
            gc.collect()
            gc.freeze()
            yield
        finally:
            gc.unfreeze()
            await ping_writer.aclose()
            if redis is not None:
                await redis.aclose()
            if own_engine:
                await db.dispose()

    app = FastAPI(
        title="BetterUptime",
        version=version("betteruptime"),
        summary="Multi-region website uptime monitor",
        lifespan=lifespan,
        # The API's metrics are Prometheus (api/metrics.py). FastAPI's OpenTelemetry bridge
        # would look for a configured provider on every request (about 0.02 ms of CPU)
        # to find none: no OpenTelemetry SDK is installed.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    api_metrics = ApiMetrics()
    # Order matters: the last middleware added is the outermost. The size limit sits
    # inside the catch-all so its 413 is never turned into a 500; metrics sit outside
    # everything so they count the 500s too.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=api_metrics)
    # Outermost: the pings skip the stack above and get what it gives them (ping_path.py).
    app.add_middleware(
        PingPath,
        routes=pings.serving_routes,
        metrics=api_metrics,
        max_bytes=settings.max_request_bytes,
    )
    install_openapi(app, settings)
    # Routes are matched in order, one regex each: the machine-driven ones (pings, probes)
    # first. No other route serves a path under /ping/ or /healthz. The ping serving routes
    # are here too (PingPath answers their requests first) so the router knows them.
    app.router.routes.extend(pings.serving_routes)
    add_routes(app, pings.router)
    add_routes(app, health.router)
    # Pages before the API: at a path both serve (GET /status-pages) a browser gets the page.
    install_web(app)
    for router in (
        users.router,
        websites.router,
        status.router,
        incidents.router,
        status_pages.router,
        badges.router,
        stats.router,
        channels.router,
        metrics.router,
    ):
        add_routes(app, router)
    return app
