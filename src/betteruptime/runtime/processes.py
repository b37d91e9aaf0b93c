"""Process wiring of `betteruptime pusher`, `worker`, `alerter` and `serve`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Generator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.alerting.evaluator import Evaluator, EvaluatorConfig
from betteruptime.alerting.metrics import EvaluatorMetrics
from betteruptime.alerting.notifier import Notifier, NotifierConfig
from betteruptime.checks.registry import Checkers, close_checkers, make_checkers
from betteruptime.config import Settings, resolve_channel_keys
from betteruptime.db.retention import RetentionConfig
from betteruptime.db.session import create_engine
from betteruptime.db.ticks import StreakOptions
from betteruptime.log import get_logger
from betteruptime.notify.crypto import ChannelCipher
from betteruptime.notify.sender import Sender
from betteruptime.queue.base import CheckQueue
from betteruptime.queue.local import LocalQueue
from betteruptime.queue.redis_streams import RedisStreamQueue
from betteruptime.retry import Loops
from betteruptime.rules.incidents import Thresholds
from betteruptime.scheduler.heartbeats import watch_heartbeats
from betteruptime.scheduler.housekeeping import Housekeeping
from betteruptime.scheduler.metrics import PusherMetrics
from betteruptime.scheduler.pusher import Pusher, PusherConfig
from betteruptime.scheduler.retention import retention_steps
from betteruptime.scheduler.rollups import RollupSteps, rollup_steps
from betteruptime.worker.consumer import Worker, WorkerConfig
from betteruptime.worker.heap import tune_for_checks
from betteruptime.worker.metrics import WorkerMetrics, serve_metrics

DEFAULT_SERVE_REGION = "local"
# How often silent heartbeats are looked for: a DOWN comes at most this late.
HEARTBEAT_POLL_SECONDS = 1.0


def make_queue(settings: Settings) -> CheckQueue:
    """Return the Redis stream queue when Redis is configured, else the in-process one."""
    url = settings.redis_connection_url
    return RedisStreamQueue.from_url(url, settings.stream_key) if url else LocalQueue()


def make_checker_registry(settings: Settings) -> Checkers:
    """Return the checker of each kind, with the SSRF policy of the settings."""
    return make_checkers(
        settings.target_policy,
        max_body_bytes=settings.max_body_bytes,
        max_redirects=settings.max_redirects,
        dns_resolvers=settings.dns_resolvers,
    )


def make_notifier(settings: Settings, engine: AsyncEngine) -> Notifier:
    """Return the notifier: channel keys, SSRF policy and delivery settings from settings."""
    keys, generated = resolve_channel_keys(settings)
    if generated:
        get_logger(__name__).warning(
            "CHANNEL_KEY is not set; using a key generated in DATA_DIR. Every API node and "
            "alerter of a deployment must set the same CHANNEL_KEY.",
            key_file=str(settings.data_dir / "channel_key"),
        )
    sender = Sender(
        settings.target_policy,
        timeout=settings.notify_timeout_seconds,
        concurrency=settings.notify_concurrency,
    )
    config = NotifierConfig(
        public_url=settings.public_url,
        concurrency=settings.notify_concurrency,
        poll_seconds=settings.notify_poll_seconds,
        lease_seconds=settings.notify_lease_seconds,
        max_attempts=settings.notify_max_attempts,
        retry_seconds=settings.notify_retry_seconds,
    )
    return Notifier(engine, sender, ChannelCipher(keys), config)


def make_pusher(
    settings: Settings, engine: AsyncEngine, queue: CheckQueue, metrics: PusherMetrics
) -> Pusher:
    """Return a pusher configured from the settings."""
    config = PusherConfig(
        batch_size=settings.pusher_batch_size,
        poll_seconds=settings.pusher_poll_seconds,
        stream_maxlen=settings.stream_maxlen,
    )
    return Pusher(engine, queue, config, metrics)


def make_housekeeping(settings: Settings, engine: AsyncEngine) -> Housekeeping:
    """Return the housekeeping loop of the pusher (and `serve`): one named step per job."""
    retention = RetentionConfig(tick_retention_days=settings.tick_retention_days)
    every = settings.housekeeping_interval_seconds
    rollups = RollupSteps(
        hourly_retention_days=settings.hourly_retention_days,
        daily_retention_days=settings.daily_retention_days,
    )
    return Housekeeping(
        [*retention_steps(engine, retention, every), *rollup_steps(engine, rollups)]
    )


def make_worker(
    settings: Settings,
    engine: AsyncEngine,
    queue: CheckQueue,
    checkers: Checkers,
    region_id: str,
    metrics: WorkerMetrics,
) -> Worker:
    """Return a worker of region_id named WORKER_ID (or host-pid), configured from settings."""
    config = WorkerConfig(
        region_id=region_id,
        worker_id=settings.consumer_name,
        concurrency=settings.worker_concurrency,
        batch_size=settings.worker_batch_size,
        claim_idle_seconds=settings.claim_idle_seconds,
        max_deliveries=settings.max_deliveries,
        streak=StreakOptions(
            confirmation_checks=settings.confirmation_checks,
            recovery_checks=settings.recovery_checks,
            recheck_seconds=settings.recheck_seconds,
        ),
    )
    return Worker(engine, queue, checkers, config, metrics)


def make_evaluator(settings: Settings, engine: AsyncEngine, metrics: EvaluatorMetrics) -> Evaluator:
    """Return an evaluator configured from the settings."""
    config = EvaluatorConfig(
        defaults=Thresholds(
            confirmation_checks=settings.confirmation_checks,
            recovery_checks=settings.recovery_checks,
        ),
        region_failure_ratio=settings.region_failure_ratio,
        poll_seconds=settings.alerter_poll_seconds,
    )
    return Evaluator(engine, config, metrics)


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Generator[None, None, None]:
    """Set stop on SIGTERM or SIGINT while the block runs."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def run_pusher(settings: Settings) -> None:
    """Run the pusher and housekeeping until SIGTERM/SIGINT; raise LoopFailed if one ends
    otherwise."""
    engine = create_engine(settings.sqlalchemy_url, pool_size=3)
    queue = make_queue(settings)
    metrics = PusherMetrics()
    if settings.metrics_port:
        serve_metrics(settings.metrics_port)
    stop = asyncio.Event()
    try:
        with stop_on_signals(stop):
            loops = Loops(stop, get_logger(__name__).bind(component="pusher"))
            loops.start("pusher", make_pusher(settings, engine, queue, metrics).run(stop))
            # The late loop of heartbeats lives beside the schedule it complements.
            loops.start("heartbeats", watch_heartbeats(engine, stop, HEARTBEAT_POLL_SECONDS))
            loops.start("housekeeping", make_housekeeping(settings, engine).run(stop))
            await loops.wait()
    finally:
        await queue.close()
        await engine.dispose()


async def run_worker(settings: Settings, region_id: str) -> None:
    """Run one worker of region_id until SIGTERM/SIGINT, then drain and return.

    Raise LoopFailed (after draining) when one of the worker's loops ends otherwise.
    """
    engine = create_engine(settings.sqlalchemy_url, pool_size=4)
    queue = make_queue(settings)
    checkers = make_checker_registry(settings)
    metrics = WorkerMetrics()
    if settings.metrics_port:
        serve_metrics(settings.metrics_port)
    stop = asyncio.Event()
    try:
        with stop_on_signals(stop):
            worker = make_worker(settings, engine, queue, checkers, region_id, metrics)
            # A process of its own: its heap is the checks' (serve shares one with the API).
            tune_for_checks()
            loops = Loops(stop, get_logger(__name__).bind(component="worker"))
            loops.start("worker", worker.run(stop))
            loops.start("heartbeats", watch_heartbeats(engine, stop, HEARTBEAT_POLL_SECONDS))
            await loops.wait()
    finally:
        await close_checkers(checkers)
        await queue.close()
        await engine.dispose()


async def run_alerter(settings: Settings) -> None:
    """Run the evaluator and the notifier until SIGTERM/SIGINT; raise LoopFailed if one ends.

    Any number of alerters may run at once against one database.
    """
    engine = create_engine(settings.sqlalchemy_url, pool_size=4)
    metrics = EvaluatorMetrics()
    if settings.metrics_port:
        serve_metrics(settings.metrics_port)
    stop = asyncio.Event()
    try:
        with stop_on_signals(stop):
            loops = Loops(stop, get_logger(__name__).bind(component="alerter"))
            loops.start("alerter", make_evaluator(settings, engine, metrics).run(stop))
            loops.start("notifier", make_notifier(settings, engine).run(stop))
            await loops.wait()
    finally:
        await engine.dispose()


async def run_serve(settings: Settings, host: str, port: int) -> None:
    """Run the API, the pusher, housekeeping, one worker and the alerter (evaluator and
    notifier) in this process.

    Raise LoopFailed (after stopping the others) when one of them ends without a stop.
    """
    import uvicorn

    from betteruptime.app import create_app
    from betteruptime.db.migrate import upgrade_to_head

    class _Server(uvicorn.Server):
        # Signals are handled once, below, for all three components; uvicorn's own
        # handlers would re-raise the signal after its shutdown and kill the process.
        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    log = get_logger(__name__).bind(component="serve")
    engine = create_engine(settings.sqlalchemy_url)
    queue = make_queue(settings)
    checkers = make_checker_registry(settings)
    region_id = settings.region_id or DEFAULT_SERVE_REGION
    if settings.metrics_port:
        serve_metrics(settings.metrics_port)
    stop = asyncio.Event()
    try:
        # Migrate before the loops start, so they never meet a missing table.
        await upgrade_to_head(engine)
        app = create_app(settings, engine=engine)
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="on"
        )
        server = _Server(config)
        pusher = make_pusher(settings, engine, queue, PusherMetrics())
        worker = make_worker(settings, engine, queue, checkers, region_id, WorkerMetrics())
        evaluator = make_evaluator(settings, engine, EvaluatorMetrics())
        housekeeping = make_housekeeping(settings, engine)
        notifier = make_notifier(settings, engine)
        log.info(
            "serving",
            url=f"http://{host}:{port}",
            queue=type(queue).__name__,
            database=engine.url.render_as_string(hide_password=True),
            region=region_id,
        )
        with stop_on_signals(stop):
            loops = Loops(stop, log)
            loops.start("api", _serve_until(server, stop))
            loops.start("pusher", pusher.run(stop))
            loops.start("worker", worker.run(stop))
            loops.start("alerter", evaluator.run(stop))
            loops.start("heartbeats", watch_heartbeats(engine, stop, HEARTBEAT_POLL_SECONDS))
            loops.start("housekeeping", housekeeping.run(stop))
            loops.start("notifier", notifier.run(stop))
            await loops.wait()
    finally:
        await close_checkers(checkers)
        await queue.close()
        await engine.dispose()
    log.info("stopped")


async def _serve_until(server: Any, stop: asyncio.Event) -> None:
    """Run the uvicorn server until stop is set (or until it ends by itself)."""

    async def exit_on_stop() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(exit_on_stop())
    try:
        await server.serve()
    except SystemExit as exc:
        # uvicorn exits the process when it cannot start (port taken, start-up failed);
        # an exception instead lets the other loops stop cleanly first.
        raise RuntimeError(f"the API server exited with status {exc.code}") from exc
    finally:
        watcher.cancel()
