"""The service refuses to start with a weak JWT secret or a malformed limit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMAND = Path(sys.executable).parent / "betteruptime"


def _run(command: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "JWT_SECRET"}}
    environ.update({"DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run(
        [str(COMMAND), command, "--port", "1"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )


@pytest.mark.parametrize("command", ["api", "serve"])
def test_a_short_jwt_secret_is_refused_at_start(command: str, tmp_path: Path) -> None:
    result = _run(command, tmp_path, JWT_SECRET="short-secret")
    assert result.returncode == 2
    assert "JWT_SECRET: Value error, must be at least 32 bytes" in result.stderr
    assert "short-secret" not in result.stderr + result.stdout
    # Refused before anything was created.
    assert not (tmp_path / "data").exists()


def test_a_bad_rate_limit_is_refused_at_start(tmp_path: Path) -> None:
    result = _run("api", tmp_path, JWT_SECRET="x" * 40, REGISTER_RATE_LIMIT="lots")
    assert result.returncode == 2
    assert "REGISTER_RATE_LIMIT" in result.stderr and "10/minute" in result.stderr


@pytest.mark.parametrize("args", [["serve", "--port", "1"], ["worker"], ["pusher"]])
def test_a_claim_time_not_above_the_longest_timeout_is_refused_at_start(
    args: list[str], tmp_path: Path
) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "JWT_SECRET"}}
    environ.update(
        DATA_DIR=str(tmp_path / "data"),
        CLAIM_IDLE_SECONDS="60",
        REGION_ID="eu-west-1",
        REDIS_ADDR="127.0.0.1:1",
    )
    result = subprocess.run(
        [str(COMMAND), *args], env=environ, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2, result.stderr
    assert "CLAIM_IDLE_SECONDS (60) must be above MAX_TIMEOUT_SECONDS (60)" in result.stderr
    assert not (tmp_path / "data").exists()
