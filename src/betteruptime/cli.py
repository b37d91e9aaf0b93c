"""The `betteruptime` command: api | migrate | pusher | worker | alerter | serve."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import click

from betteruptime.config import Settings, SettingsError, load_settings
from betteruptime.log import configure_logging


def _settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        click.echo(f"betteruptime: {exc}", err=True)
        sys.exit(2)


def _run(main: Callable[[], Any]) -> None:
    """Run a coroutine function on uvloop when available; exit 1 when a loop failed."""
    from betteruptime.retry import LoopFailed

    try:
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is missing only on Windows
            asyncio.run(main())
        else:
            uvloop.run(main())
    except LoopFailed:
        # Already logged where it happened; a non-zero status makes the supervisor
        # (systemd Restart=on-failure, Kubernetes, Docker restart policies) start it again.
        sys.exit(1)


@click.group()
def main() -> None:
    """BetterUptime: multi-region website uptime monitor."""


@main.command()
# The API is the networked component of a deployment; `serve` defaults to loopback.
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
def api(host: str, port: int) -> None:
    """Serve the HTTP API (migrates the database at start)."""
    import uvicorn

    from betteruptime.app import create_app

    settings = _settings_or_exit()
    configure_logging(settings.log_level, component="api")
    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, loop="uvloop", log_config=None, access_log=False)


@main.command()
def migrate() -> None:
    """Upgrade the database schema to the newest version."""
    from betteruptime.db.migrate import upgrade_to_head
    from betteruptime.db.session import create_engine
    from betteruptime.log import get_logger

    settings = _settings_or_exit()
    configure_logging(settings.log_level, component="migrate")

    async def run() -> None:
        engine = create_engine(settings.sqlalchemy_url)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()
        get_logger(__name__).info("migrated", database=engine.url.render_as_string())

    _run(run)


@main.command()
def pusher() -> None:
    """Enqueue due websites onto the stream (needs DATABASE_URL and REDIS_ADDR/REDIS_URL)."""
    from betteruptime.runtime.processes import run_pusher

    settings = _settings_or_exit()
    if not settings.redis_connection_url:
        click.echo("betteruptime: the pusher needs REDIS_ADDR or REDIS_URL", err=True)
        sys.exit(2)
    configure_logging(settings.log_level, component="pusher")
    _run(lambda: run_pusher(settings))


@main.command()
def worker() -> None:
    """Check websites for region REGION_ID as consumer WORKER_ID (needs Redis)."""
    from betteruptime.runtime.processes import run_worker

    settings = _settings_or_exit()
    if not settings.region_id:
        click.echo("betteruptime: the worker needs REGION_ID, e.g. REGION_ID=us-east-1", err=True)
        sys.exit(2)
    if not settings.redis_connection_url:
        click.echo("betteruptime: the worker needs REDIS_ADDR or REDIS_URL", err=True)
        sys.exit(2)
    configure_logging(
        settings.log_level,
        component="worker",
        region=settings.region_id,
        worker=settings.consumer_name,
    )
    region_id = settings.region_id
    _run(lambda: run_worker(settings, region_id))


@main.command()
def alerter() -> None:
    """Open and resolve incidents, and send their notifications (needs DATABASE_URL)."""
    from betteruptime.runtime.processes import run_alerter

    settings = _settings_or_exit()
    configure_logging(settings.log_level, component="alerter")
    _run(lambda: run_alerter(settings))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Run API, pusher, one worker and the alerter in one process (SQLite, in-process queue)."""
    from betteruptime.runtime.processes import run_serve

    settings = _settings_or_exit()
    configure_logging(settings.log_level, component="serve")
    _run(lambda: run_serve(settings, host, port))
