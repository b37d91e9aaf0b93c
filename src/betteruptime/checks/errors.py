"""Short, URL-free descriptions of why a check failed."""

from __future__ import annotations

import errno
import ssl

import aiohttp

from betteruptime.rules.checks import ERROR_MAX_LENGTH


class BlockedAddressError(OSError):
    """Raised by the guard (resolver or socket factory) instead of connecting somewhere blocked."""

    def __init__(self, reason: str) -> None:
        # EACCES so that aiohappyeyeballs, which merges several OSErrors of one errno into
        # one, keeps a recognisable errno when every candidate address was refused.
        super().__init__(errno.EACCES, f"blocked: {reason}")
        self.reason = reason

    def __str__(self) -> str:
        return f"blocked: {self.reason}"


class CheckRefused(Exception):
    """Raised inside a check to end it as DOWN with the given error text."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


_ERRNO_TEXT = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection reset",
    errno.ETIMEDOUT: "timeout",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.EHOSTDOWN: "host down",
    errno.EADDRNOTAVAIL: "address not available",
}


def short(text: str) -> str:
    """Return text on one line, at most ERROR_MAX_LENGTH characters."""
    text = " ".join(text.split())
    if len(text) > ERROR_MAX_LENGTH:
        text = text[: ERROR_MAX_LENGTH - 1] + "…"
    return text


def describe(exc: BaseException) -> str:
    """Return the tick error for an exception raised while checking: short, no URL."""
    blocked = _find_blocked(exc)
    if blocked is not None:
        return short(blocked)
    if isinstance(exc, CheckRefused):
        return short(exc.error)
    if isinstance(exc, TimeoutError):  # includes aiohttp's ServerTimeoutError
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        detail = getattr(cert_error, "verify_message", None) or _ssl_reason(cert_error)
        return short(f"tls: {detail}")
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return short(f"tls: {_ssl_reason(exc)}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return short(f"dns: {_os_reason(exc.os_error)}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return short(_os_reason(exc.os_error))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    if isinstance(exc, aiohttp.ClientPayloadError):
        cause = exc.__cause__
        if isinstance(cause, OSError):
            return short(_os_reason(cause))
        return "invalid response body"
    if isinstance(exc, aiohttp.ClientResponseError):
        # Raised by the response parser (bad status line, oversized headers …); its message
        # can echo the request URL, so only the class of problem is kept.
        return "invalid response"
    if isinstance(exc, ValueError):  # aiohttp.InvalidURL and yarl's parse errors
        return "invalid URL"
    if isinstance(exc, OSError):
        return short(_os_reason(exc))
    if isinstance(exc, aiohttp.ClientError):
        return "connection error"
    return short(f"error: {type(exc).__name__}")


def _find_blocked(exc: BaseException) -> str | None:
    """Return the guard's message when the guard refused somewhere in the exception chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BlockedAddressError):
            return str(current)
        if isinstance(current, aiohttp.ClientConnectorError):
            inner = current.os_error
            if isinstance(inner, BlockedAddressError):
                return str(inner)
            # Several refused candidates merged into one OSError by aiohappyeyeballs.
            if inner.errno == errno.EACCES and "blocked: " in str(inner):
                return "blocked: every address of the host is blocked"
        current = current.__cause__ or current.__context__
    return None


def _os_reason(exc: OSError) -> str:
    text = _ERRNO_TEXT.get(exc.errno) if exc.errno is not None else None
    if text is not None:
        return text
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    reason = exc.strerror or type(exc).__name__
    return reason[:1].lower() + reason[1:]


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason.replace("_", " ").lower()
    inner = getattr(exc, "os_error", None)
    if isinstance(inner, ssl.SSLError) and inner.reason:
        return str(inner.reason).replace("_", " ").lower()
    return "handshake failed"
