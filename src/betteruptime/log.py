"""Structured logging: one JSON line per event on stdout."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from betteruptime.redact import redact_event

# urllib3 logs each request line at DEBUG: for a notification webhook, its path is a
# channel's secret token.
_CHATTY_DRIVERS = ("aiosqlite", "asyncpg", "sqlalchemy.engine", "urllib3")


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
    # Drivers log every statement with its parameters (password hashes, URLs) at DEBUG;
    # debugging the monitor never needs that, so they stay at INFO or above.
    for name in _CHATTY_DRIVERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(level)))
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
