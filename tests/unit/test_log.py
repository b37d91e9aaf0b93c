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
