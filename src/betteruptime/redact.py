"""Scrub credentials from text bound for logs: URL userinfo, bearer tokens, JWTs."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

REDACTED = "[redacted]"

# scheme://user:password@host → scheme://[redacted]@host (also inside longer text, such
# as an exception message that quotes a URL).
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#@]*@")
_BEARER = re.compile(r"(?i)\b(?P<scheme>bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
# A JWT anywhere: three base64url parts, the first two starting with '{"' encoded.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
# Field names that hold a secret: `password`, `new_password`, `jwt_secret`, `token` …
# (but not `secret_file` or `tokens_valid_after`, which are safe and useful).
_SECRET_KEY = re.compile(
    r"(?:^|[_-])(?:password|passwd|secret|token|authorization|cookie|api_key)s?$", re.IGNORECASE
)


def redact_text(text: str) -> str:
    """Return text with URL credentials, Authorization values and JWTs replaced."""
    text = _URL_USERINFO.sub(rf"\g<scheme>{REDACTED}@", text)
    text = _BEARER.sub(rf"\g<scheme> {REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_key(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def redact_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """Return the structlog event with secret-named fields and credentials in text removed."""
    # The last line of defence: code should not log secrets in the first place, but an
    # exception message (a driver error quoting a URL, say) is not under our control.
    for key, value in list(event.items()):
        event[key] = REDACTED if _is_secret_key(key) else _scrub(value)
    return event
