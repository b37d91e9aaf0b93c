"""Real-browser tests: Debian's Chromium, driven by Playwright, against `betteruptime serve`.

Outside CI a missing Chromium (or Playwright) skips these tests with the reason; under CI
(CI=true) it fails them, as a missing PostgreSQL or Redis does.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import UNDER_CI
from tests.pipeline.helpers import free_port, spawn, stop_process, wait_for_serve

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"


def _missing(what: str) -> None:
    message = f"{what}; install it with `apt-get install chromium` to run the browser tests"
    if UNDER_CI:
        pytest.fail(f"{message} (CI=true requires it)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """Return a launched headless Chromium."""
    if not CHROMIUM.exists():
        _missing(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Served:
    """A running `betteruptime serve` and its address."""

    base: str
    log: Path


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """Start `betteruptime serve` on a free port with a fresh data folder."""
    port = free_port()
    log = tmp_path / "serve.log"
    proc = spawn(
        ["serve", "--port", str(port)],
        {"DATA_DIR": str(tmp_path / "data"), "ALLOW_PRIVATE_TARGETS": "true"},
        log,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_for_serve(proc, log, base)
        yield Served(base, log)
    finally:
        code = await stop_process(proc)
        assert code == 0, log.read_text()[-5000:]


@dataclass
class Problems:
    """Console errors and uncaught page errors seen while browsing (CSP violations included)."""

    messages: list[str] = field(default_factory=list)
    # Pages the test opens on purpose with an error status: Chromium logs the status of
    # such a document as a console error, which is then no problem of the page.
    expected_statuses: dict[str, int] = field(default_factory=dict)

    def expect_status(self, path: str, status: int) -> None:
        """Allow the console line Chromium writes when the document at path has status."""
        self.expected_statuses[path] = status

    def watch(self, page: Any) -> None:
        """Collect this page's problems."""

        def console(msg: Any) -> None:
            if msg.type not in {"error", "warning"}:
                return
            path = "/" + page.url.split("/", 3)[-1] if page.url.count("/") >= 3 else page.url
            status = self.expected_statuses.get(path)
            if status is not None and msg.text == (
                f"Failed to load resource: the server responded with a status of {status} "
                f"({_REASONS[status]})"
            ):
                return
            self.messages.append(f"{page.url}: console {msg.type}: {msg.text}")

        page.on("console", console)
        page.on("pageerror", lambda exc: self.messages.append(f"{page.url}: pageerror: {exc}"))


_REASONS = {403: "Forbidden", 404: "Not Found", 422: "Unprocessable Entity"}
