"""The real `betteruptime api` command on a fresh data folder, driven by the README's curl."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
README_BASE = "http://127.0.0.1:8080"


@dataclass
class Server:
    base_url: str
    data_dir: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"api exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"api did not become healthy:\n{log.read_text()}")


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[Server]:
    """Run `betteruptime api` on a free port with a fresh DATA_DIR and no JWT_SECRET."""
    port = _free_port()
    data_dir = tmp_path / "data"
    log = tmp_path / "api.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"JWT_SECRET", "DATABASE_URL", "REDIS_URL", "REDIS_ADDR"}
    }
    env.update({"DATA_DIR": str(data_dir), "LOG_LEVEL": "INFO"})
    command = Path(sys.executable).parent / "betteruptime"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(command), "api", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base_url, process, log)
        yield Server(base_url, data_dir, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def readme_api_examples() -> str:
    """Return the bash blocks of the README's `api` section, joined in order."""
    text = README.read_text()
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "the README api section has no ```bash examples"
    return "\n".join(blocks)


def _run_bash(script: str, base_url: str) -> str:
    """Run script with the README's address replaced by base_url; return its output."""
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script.replace(README_BASE, base_url)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def test_readme_curl_examples_work_as_printed_and_again(api_server: Server) -> None:
    script = readme_api_examples()
    assert README_BASE in script
    # First an interrupted run that stops before the website is deleted; then the whole
    # block twice in a row: the user exists and the website is monitored already.
    interrupted = script.split("# Stop monitoring it", 1)[0]
    assert interrupted != script
    _run_bash(interrupted, api_server.base_url)
    for _ in range(2):
        out = _run_bash(script, api_server.base_url)
        assert '"status":"UNKNOWN"' in out  # the status example, before any check
        assert '"name":"Example home page"' in out  # the PATCH example
        assert '"items":[]' in out  # no ticks yet
        assert "}204\n" in out  # the DELETE example prints the status after the ticks JSON
        assert out.rstrip().endswith('{"status":"ok","database":"ok","redis":"not configured"}')


def test_generated_jwt_secret_is_private_and_never_logged(api_server: Server) -> None:
    secret_file = api_server.data_dir / "jwt_secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret) >= 32
    log = api_server.log.read_text()
    assert "Multi-node deployments must set the same JWT_SECRET" in log
    assert secret not in log
    # The database was migrated at start: registering works straight away.
    response = httpx.post(
        f"{api_server.base_url}/user/register",
        json={"username": "bob", "email": "bob@example.com", "password": "long enough"},
    )
    assert response.status_code == 201
    assert response.json()["token"] not in api_server.log.read_text()


def readme_kind_examples() -> str:
    """Return the bash blocks of the README's "Kinds of checks" section, joined in order."""
    section = README.read_text().split("\n## Kinds of checks\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 4, "one example per kind: http, tcp, dns, heartbeat"
    return "\n".join(blocks)


def test_readme_examples_of_every_kind_work_as_printed(api_server: Server) -> None:
    login = readme_api_examples().split("# Monitor a website", 1)[0]
    out = _run_bash(login + readme_kind_examples(), api_server.base_url)
    assert '"kind":"http"' in out and '"method":"POST"' in out
    assert "}422\n" in out  # the condition that does not parse (after the JSON)
    assert '"url":"tcp://example.com:443"' in out
    assert '"url":"dns://example.com/MX"' in out
    assert out.endswith("OK\nOK\nOK\n")  # start, success with a body, exit status 0
