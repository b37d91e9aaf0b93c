"""Gzip for public pages: compressed once per render, sent to clients that accept it.

Only pages without secrets are compressed. BREACH recovers a secret from the compressed
size of responses that carry it beside text an attacker chooses (a search term, a path).
A public status page is the same bytes for every visitor (it is cached and shared): no
session, no CSRF token, nothing from the request. The logged-in pages carry a CSRF token
and echo the search box: they stay uncompressed (and are small: 50 rows a page).
"""

from __future__ import annotations

import gzip

# zlib's default: on a 3 MB status page it takes about 15 ms of CPU, once per render
# (the page cache keeps the result); level 1 takes 6 ms but leaves it 2.5 to 4 times
# larger, and level 9 saves under 1 % more.
LEVEL = 6


def gzip_body(body: bytes) -> bytes:
    """Return body gzip-compressed, the same bytes for the same body (no timestamp)."""
    return gzip.compress(body, compresslevel=LEVEL, mtime=0)


def accepts_gzip(header: str) -> bool:
    """Return True when an Accept-Encoding header admits gzip (q=0 refuses it)."""
    star: bool | None = None
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        accepted = _q(params) > 0
        if coding == "*":
            star = accepted
        else:
            return accepted
    return bool(star)


def _q(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0
