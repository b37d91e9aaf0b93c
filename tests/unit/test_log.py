"""Every line a component prints is one JSON object, its own and its libraries' alike."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from betteruptime.log import configure_logging, get_logger


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_structlog_and_stdlib_lines_are_json_with_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", component="worker", region="eu-west-1")
    get_logger("betteruptime.test").info("batch written", ticks=3)
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    logging.getLogger("uvicorn.error").debug("not shown below INFO")

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert [line["event"] for line in lines] == ["batch written", "Application startup complete."]
    for line in lines:
        assert line["component"] == "worker"
        assert line["region"] == "eu-west-1"
        assert line["level"] == "info"
        assert "timestamp" in line
    assert lines[0]["ticks"] == 3
    assert lines[1]["logger"] == "uvicorn.error"


def test_database_drivers_never_log_statement_parameters_even_at_debug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("DEBUG", component="api")
    logging.getLogger("aiosqlite").debug("executing %s with ('$argon2id$secret-hash',)", "INSERT")
    get_logger("betteruptime.test").debug("debug is on")

    out = capsys.readouterr().out
    assert "secret-hash" not in out
    assert "debug is on" in out


def test_info_drops_sql_and_migration_set_up_but_keeps_migration_steps(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", component="serve")
    logging.getLogger("sqlalchemy.engine.Engine").info("SELECT 1")
    logging.getLogger("sqlalchemy.pool.impl.NullPool").info("connection checked out")
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.tables")
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("alembic.runtime.migration").info("Running %s", "upgrade  -> 0001, x")
    logging.getLogger("sqlalchemy.engine.Engine").warning("a warning still shows")

    events = [json.loads(line)["event"] for line in capsys.readouterr().out.splitlines()]

    assert events == ["Running upgrade  -> 0001, x", "a warning still shows"]


def test_debug_shows_statements_but_not_result_rows(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", component="serve")
    logging.getLogger("sqlalchemy.engine.Engine").info("SELECT users.password_hash FROM users")
    logging.getLogger("sqlalchemy.engine.Engine").debug("Row ('$argon2id$v=19$secret',)")
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")

    out = capsys.readouterr().out
    assert "SELECT users.password_hash FROM users" in out
    assert "Context impl SQLiteImpl." in out
    assert "$argon2id" not in out
