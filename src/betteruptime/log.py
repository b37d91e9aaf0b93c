"""Structured logging: one JSON line per event on stdout."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from betteruptime.redact import redact_event


class _MigrationSteps(logging.Filter):
    """Pass Alembic's "Running upgrade 0001 -> 0002" lines; drop its set-up narration."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage().startswith("Running ")


_MIGRATION_STEPS = _MigrationSteps()


def _library_levels(level: int) -> dict[str, int]:
    """Return the level each chatty library logger gets when ours is `level`."""
    debug = level <= logging.DEBUG
    # An idle component at INFO prints nothing, yet SQLAlchemy logs every statement at
    # INFO (about ten a second from the pusher's and worker's loops) and Alembic its plugin
    # set-up. At DEBUG statements may show, but never their values: engines are created
    # with hide_parameters, SQLAlchemy's own DEBUG adds result rows (password hashes, URLs)
    # and the drivers' DEBUG lines quote parameters, so none of them goes below INFO.
    quiet = logging.INFO if debug else logging.WARNING
    return {
        "sqlalchemy.engine": quiet,
        "sqlalchemy.pool": quiet,
        "aiosqlite": max(logging.INFO, level),
        "asyncpg": max(logging.INFO, level),
        "alembic": quiet,
        # urllib3 logs each request line at DEBUG: for a notification webhook, its path is
        # a channel's secret token.
        "urllib3": max(logging.INFO, level),
        # Its "Running upgrade" lines are state changes; the filter below keeps only them.
        "alembic.runtime.migration": max(logging.INFO, level),
    }


def configure_logging(level: str = "INFO", **context: Any) -> None:
    """Send JSON lines to stdout, each carrying the given context (component, region …)."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Libraries (uvicorn, asyncio, alembic) log through the standard library: render their
    # records as the same JSON lines, so every line on stdout parses the same way.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_event,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    logging.basicConfig(handlers=[handler], level=level, force=True)
    numeric_level: int = logging.getLevelName(level)
    for name, library_level in _library_levels(numeric_level).items():
        logging.getLogger(name).setLevel(library_level)
    migration = logging.getLogger("alembic.runtime.migration")
    migration.removeFilter(_MIGRATION_STEPS)
    if numeric_level > logging.DEBUG:
        migration.addFilter(_MIGRATION_STEPS)
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            redact_event,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**context)


def get_logger(name: str) -> Any:
    """Return a structured logger for the named module."""
    return structlog.get_logger(name)
