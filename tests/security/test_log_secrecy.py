"""No password, token, Authorization value or URL credential ever reaches a log or error body.

Runs the real `betteruptime serve` (API, pusher and worker; uvicorn included) at DEBUG,
drives every path that handles a secret, then searches everything the process printed.
"""

from __future__ import annotations

import base64
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import structlog

from betteruptime.log import configure_logging, get_logger
from betteruptime.redact import REDACTED, redact_text

PASSWORD = "first-password-7Hq2"
NEW_PASSWORD = "second-password-9Zx4"
WRONG_PASSWORD = "wrong-password-3Kd8"
URL_SECRET = "url-secret-5Wm1"
REDIRECT_SECRET = "redirect-secret-2Pn6"
CHANNEL_PASSWORD = "channel-pass-4Vb7"
CHANNEL_TOKEN = "channel-token-6Yt3"
CHANNEL_QUERY = "channel-query-1Ds9"
BASIC = base64.b64encode(b"carol:basic-secret-8Lr0").decode()


class _Target(BaseHTTPRequestHandler):
    """Redirects to a URL carrying credentials, then answers 200 there."""

    def do_GET(self) -> None:
        if self.path == "/start":
            port = self.server.server_port  # type: ignore[attr-defined]
            location = f"http://bob:{REDIRECT_SECRET}@127.0.0.1:{port}/landed"
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_POST(self) -> None:  # a notification webhook
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_serve(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"JWT_SECRET", "DATABASE_URL", "REDIS_URL", "REDIS_ADDR"}
    }
    env.update(
        {"DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "DEBUG", "ALLOW_PRIVATE_TARGETS": "true"}
    )
    command = Path(sys.executable).parent / "betteruptime"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(command), "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base, log
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"serve did not start:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_no_secret_reaches_logs_or_error_bodies(tmp_path: Path, target: str) -> None:
    process, base, log = _start_serve(tmp_path)
    secrets: list[str] = [PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, URL_SECRET, REDIRECT_SECRET]
    secrets += [BASIC, CHANNEL_PASSWORD, CHANNEL_TOKEN, CHANNEL_QUERY]
    bodies: list[str] = []  # error bodies and the tick list
    try:
        with httpx.Client(base_url=base, timeout=10) as http:

            def call(method: str, path: str, **kwargs: object) -> httpx.Response:
                response = http.request(method, path, **kwargs)  # type: ignore[arg-type]
                if response.status_code >= 400:
                    bodies.append(response.text)  # error bodies; a token response holds one
                return response

            user = {"username": "carol", "email": "carol@example.com", "password": PASSWORD}
            registered = call("POST", "/user/register", json=user)
            assert registered.status_code == 201
            first_token = registered.json()["token"]
            login = {"username": "carol", "password": PASSWORD}
            second_token = call("POST", "/user/login", json=login).json()["token"]
            wrong = {"username": "carol", "password": WRONG_PASSWORD}
            assert call("POST", "/user/login", json=wrong).status_code == 401
            # Invalid input that contains a secret: 422 bodies must not echo the value.
            too_long = {**user, "username": "dave", "password": PASSWORD * 20}
            assert call("POST", "/user/register", json=too_long).status_code == 422
            as_number = {"username": "carol", "password": [PASSWORD]}
            assert call("POST", "/user/login", json=as_number).status_code == 422

            auth = {"Authorization": f"Bearer {second_token}"}
            change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
            changed = call("POST", "/user/password", json=change, headers=auth)
            assert changed.status_code == 200
            token = changed.json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            bad_change = {"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD}
            assert call("POST", "/user/password", json=bad_change, headers=auth).status_code == 403

            revoked = {"Authorization": f"Bearer {first_token}"}
            assert call("GET", "/websites", headers=revoked).status_code == 401
            forged = {"Authorization": f"Bearer {token[:-6]}AAAAAA"}
            assert call("GET", "/websites", headers=forged).status_code == 401
            basic = {"Authorization": f"Basic {BASIC}"}
            assert call("GET", "/websites", headers=basic).status_code == 401

            with_credentials = {"url": f"http://carol:{URL_SECRET}@127.0.0.1:9/"}
            refused = call("POST", "/website", json=with_credentials, headers=auth)
            assert refused.status_code == 422
            # A notification channel whose URL is full of secrets, sent to twice.
            host = target.removeprefix("http://")
            channel_url = (
                f"json://carol:{CHANNEL_PASSWORD}@{host}/hook/{CHANNEL_TOKEN}?key={CHANNEL_QUERY}"
            )
            channel = call(
                "POST", "/channels", json={"name": "c", "url": channel_url}, headers=auth
            )
            assert channel.status_code == 201
            bodies.append(channel.text)
            tested = call("POST", f"/channels/{channel.json()['id']}/test", headers=auth)
            assert tested.json()["ok"] is True, tested.text
            dead = channel_url.replace(host, f"127.0.0.1:{_free_port()}")
            patched = call(
                "PATCH", f"/channels/{channel.json()['id']}", json={"url": dead}, headers=auth
            )
            bodies.append(patched.text)
            failed = call("POST", f"/channels/{channel.json()['id']}/test", headers=auth)
            assert failed.json()["ok"] is False
            bodies.append(failed.text)
            bad_channel = {"name": "c", "url": f"nosuch://{CHANNEL_TOKEN}"}
            assert call("POST", "/channels", json=bad_channel, headers=auth).status_code == 422
            site = call("POST", "/website", json={"url": f"{target}/start"}, headers=auth)
            assert site.status_code == 201
            # Let the pusher and worker check it once, following the redirect with credentials.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                ticks = http.get(f"/website/{site.json()['id']}/ticks", headers=auth).json()
                if ticks["items"]:
                    bodies.append(str(ticks))
                    break
                time.sleep(0.2)
            else:
                pytest.fail("no tick was written")
        secrets += [first_token, second_token, token]
        secrets.append((tmp_path / "data" / "channel_key").read_text().strip())
    finally:
        _stop(process)

    output = log.read_text()
    # The capture works: the process logged at DEBUG from the API and the pipeline.
    assert '"event": "api started"' in output and "pusher" in output
    assert '"event": "channel tested"' in output
    for secret in secrets:
        assert secret not in output, f"a secret leaked into the log: {secret[:6]}…"
        for body in bodies:
            assert secret not in body, f"a secret leaked into a response body: {secret[:6]}…"


def test_the_log_processor_scrubs_what_code_passes_it(capsys: pytest.CaptureFixture[str]) -> None:
    # The last line of defence, for messages not under our control (driver errors, reprs).
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("DEBUG", component="test")
    try:
        get_logger("test").warning(
            "fetch failed",
            error=f"GET https://ann:{URL_SECRET}@example.com/ refused",
            headers={"Authorization": f"Bearer {token}", "Accept": "*/*"},
            password=PASSWORD,
            new_password=NEW_PASSWORD,
            detail=f"token {token}",
            secret_file="/data/jwt_secret",
        )
        logging.getLogger("some.library").error("cannot reach redis://:%s@cache:6379/0", URL_SECRET)
    finally:
        # Later tests must not log into this test's (then closed) captured stdout.
        structlog.reset_defaults()
        root.handlers[:], root.level = saved[0], saved[1]
    out = capsys.readouterr().out
    for secret in (URL_SECRET, token, PASSWORD, NEW_PASSWORD):
        assert secret not in out
    assert "https://[redacted]@example.com/" in out
    assert "redis://[redacted]@cache:6379/0" in out  # standard-library records too
    assert '"secret_file": "/data/jwt_secret"' in out  # safe fields stay readable
    assert redact_text(f"Authorization: Basic {BASIC}") == f"Authorization: Basic {REDACTED}"
