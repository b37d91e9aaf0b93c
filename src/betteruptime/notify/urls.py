"""Apprise channel URLs: validation without sending, the scheme, and a masked form."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise

from betteruptime.checks.targets import parse_ip_literal
from betteruptime.notify.crypto import ChannelCipher, UndecryptableUrl

CHANNEL_URL_MAX_LENGTH = 2048  # bytes of UTF-8: the encrypted form must fit its column
SCHEME_MAX_LENGTH = 32
MASK = "***"


class InvalidChannelUrl(ValueError):
    """The URL is not one Apprise can send to."""


@dataclass(frozen=True)
class ChannelUrl:
    """A validated channel URL: its scheme and a form safe to show and log."""

    url: str
    scheme: str
    masked: str


def parse_channel_url(url: str) -> ChannelUrl:
    """Return the validated URL; raise InvalidChannelUrl (with a value-free reason)."""
    if len(url.encode()) > CHANNEL_URL_MAX_LENGTH:
        raise InvalidChannelUrl(f"must be at most {CHANNEL_URL_MAX_LENGTH} bytes")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidChannelUrl("must not contain spaces or control characters")
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme or len(scheme) > SCHEME_MAX_LENGTH:
        raise InvalidChannelUrl("must be an Apprise URL such as json://host/path or mailto://…")
    # instantiate() parses and builds the plugin without sending anything: None for an
    # unknown scheme or a URL its plugin rejects (a missing token, a bad port …).
    if apprise.Apprise.instantiate(url) is None:
        raise InvalidChannelUrl("is not a valid Apprise URL (unknown service or malformed)")
    return ChannelUrl(url=url, scheme=scheme.lower(), masked=mask_url(url))


def mask_url(url: str) -> str:
    """Return scheme and host of the URL with credentials, tokens, path and query masked.

    Many services carry their secret where a host would be (`slack://TokenA/TokenB`,
    `tgram://bot-token/chat`), so the host is shown only when it looks like a host: an IP
    address, `localhost`, or a dotted name.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return MASK
    try:
        parts = urlsplit(f"x://{rest}")
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return f"{scheme.lower()}://{MASK}"
    shown = host if _looks_like_host(host) else MASK
    netloc = f"{MASK}@" if "@" in parts.netloc else ""
    netloc += f"[{shown}]" if ":" in shown else shown
    if port is not None and shown != MASK:
        netloc += f":{port}"
    tail = f"/{MASK}" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return f"{scheme.lower()}://{netloc}{tail}"


def masked_stored_url(cipher: ChannelCipher, url_encrypted: str, scheme: str) -> str:
    """Return the masked form of a stored channel URL (`scheme://***` when undecryptable)."""
    try:
        return mask_url(cipher.decrypt(url_encrypted))
    except UndecryptableUrl:
        # Encrypted under a key this node lacks: still listable (and deletable).
        return f"{scheme}://{MASK}"


def _looks_like_host(host: str) -> bool:
    if not host:
        return False
    if host == "localhost" or (parse_ip_literal(host) is not None and "." in host):
        return True
    if ":" in host:  # an IPv6 literal
        return parse_ip_literal(host) is not None
    labels = host.split(".")
    return (
        len(labels) >= 2
        and all(label and label.replace("-", "").isalnum() for label in labels)
        and not labels[-1].isdigit()
    )
