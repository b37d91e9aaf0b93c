"""Send one message to one channel URL through Apprise: bounded in time, guarded, logged."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise

from betteruptime.checks.targets import TargetPolicy
from betteruptime.log import get_logger
from betteruptime.notify.crypto import ChannelCipher, UndecryptableUrl
from betteruptime.notify.guard import guarded
from betteruptime.notify.urls import MASK, mask_url
from betteruptime.redact import redact_text

log = get_logger(__name__)

ERROR_MAX_LENGTH = 255
TEST_TITLE = "BetterUptime test notification"
TEST_BODY = "This channel works: BetterUptime will send incident notifications here."
# Apprise logs what it sends (payloads, sometimes URLs) on its own logger; the sender
# reports each outcome itself, masked, so those lines never reach the process output.
logging.getLogger("apprise").propagate = False


class Severity(StrEnum):
    """How a message looks on services that colour it."""

    FAILURE = "failure"
    SUCCESS = "success"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class SendResult:
    """The outcome of one attempt: ok, a short masked error, and how long it took."""

    ok: bool
    error: str | None
    elapsed_ms: int


class Sender:
    """Sends through Apprise at most `concurrency` at a time, each within `timeout` seconds."""

    def __init__(self, policy: TargetPolicy, *, timeout: float, concurrency: int) -> None:
        self._policy = policy
        self._timeout = timeout
        self._slots = asyncio.Semaphore(concurrency)
        # In memory only: Apprise's default persistent store would write under $HOME.
        self._asset = apprise.AppriseAsset(
            storage_mode=apprise.PersistentStoreMode.MEMORY, secure_logging=True
        )

    async def send(self, url: str, title: str, body: str, severity: Severity) -> SendResult:
        """Return the outcome of sending title and body to the channel URL once."""
        async with self._slots:
            started = time.monotonic()
            result = await self._send(url, title, body, severity)
            elapsed = int((time.monotonic() - started) * 1000)
        ok, error = result
        return SendResult(
            ok=ok, error=None if ok else _masked(error or "failed", url), elapsed_ms=elapsed
        )

    async def _send(
        self, url: str, title: str, body: str, severity: Severity
    ) -> tuple[bool, str | None]:
        ap = apprise.Apprise(asset=self._asset)
        if not ap.add(url):
            return False, "not a valid Apprise URL"
        with guarded(self._policy) as guard:
            try:
                # Apprise's own timeout stops waiting for the plugin's worker thread; the
                # outer one is a backstop should Apprise itself hang.
                result = await asyncio.wait_for(
                    ap.async_notify(
                        body=body,
                        title=title,
                        notify_type=apprise.NotifyType(severity.value),
                        timeout=self._timeout,
                    ),
                    self._timeout + 5,
                )
            except TimeoutError:
                return False, f"timed out after {self._timeout:g} s"
        if result:
            return True, None
        if guard.refused:
            return False, f"blocked: {guard.refused[0]}"
        if result.status == apprise.AppriseResultStatus.TIMEOUT:
            return False, f"timed out after {self._timeout:g} s"
        messages = [
            entry.message
            for entry in result.logs()
            if entry.level in {"WARNING", "ERROR", "CRITICAL"}
        ]
        return False, "; ".join(messages[-2:]) or f"failed ({result.status.name.lower()})"


async def send_test_message(
    sender: Sender, cipher: ChannelCipher, channel_id: uuid.UUID, url_encrypted: str
) -> SendResult:
    """Return the outcome of sending the test message to a stored channel now (logged, masked)."""
    try:
        url = cipher.decrypt(url_encrypted)
    except UndecryptableUrl as exc:
        return SendResult(ok=False, error=str(exc), elapsed_ms=0)
    result = await sender.send(url, TEST_TITLE, TEST_BODY, Severity.INFO)
    log.info(
        "channel tested",
        channel_id=str(channel_id),
        url=mask_url(url),
        ok=result.ok,
        error=result.error,
        elapsed_ms=result.elapsed_ms,
    )
    return result


def _secret_parts(url: str) -> list[str]:
    """Return the pieces of a channel URL that may be secret, longest first."""
    scheme, _, rest = url.partition("://")
    try:
        parts = urlsplit(f"x://{rest}")
    except ValueError:
        return [rest] if rest else []
    pieces = [rest]
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        pieces += [unquote(p) for p in userinfo.split(":")] + userinfo.split(":")
    host = parts.hostname or ""
    if host and MASK in mask_url(f"{scheme}://{host}"):
        pieces.append(host)
    pieces += [unquote(p) for p in parts.path.split("/")] + parts.path.split("/")
    pieces += [v for _, v in parse_qsl(parts.query)]
    return sorted({p for p in pieces if len(p) >= 3}, key=len, reverse=True)


def _masked(error: str, url: str) -> str:
    """Return the error without any secret part of url, shortened to fit the delivery log."""
    text = error
    for piece in _secret_parts(url):
        text = text.replace(piece, MASK)
    text = redact_text(" ".join(text.split()))
    return text if len(text) <= ERROR_MAX_LENGTH else text[: ERROR_MAX_LENGTH - 1] + "…"
