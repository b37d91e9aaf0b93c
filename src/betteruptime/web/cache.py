"""Rendered public pages kept for a few seconds, each rendered by one request at a time."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from betteruptime.web.compression import gzip_body


@dataclass(frozen=True, slots=True)
class Rendered:
    """A page's body and its entity tag, and the same gzip-compressed with its own tag."""

    body: bytes
    etag: str
    gzipped: bytes | None  # None when not worth it (a tiny page)
    gzip_etag: str

    @classmethod
    def of(cls, html: str) -> Rendered:
        """Return the page of this HTML, its ETags from a hash of its bytes."""
        body = html.encode()
        # SHA-1 only tells versions apart (nothing is signed): it hashes a 3 MB page in
        # about 2 ms here, where SHA-256 and BLAKE2 take 6 to 9 ms.
        digest = hashlib.sha1(body, usedforsecurity=False).hexdigest()
        # Two encodings are two representations: each has its own strong ETag.
        gzipped = gzip_body(body) if len(body) >= MIN_GZIP_BYTES else None
        return cls(body, f'"{digest}"', gzipped, f'"{digest}-gzip"')

    @property
    def size(self) -> int:
        """Return the bytes this page holds in memory."""
        return len(self.body) + len(self.gzipped or b"")


# Below this, gzip's header and a few saved bytes are not worth a second copy.
MIN_GZIP_BYTES = 1024

# A render that failed (an error, or its request cancelled): its waiters try again.
_FAILED = object()


class PageCache:
    """Keeps each page's latest render for `seconds`; concurrent misses share one render.

    A page is found by its key and must also match the version it was rendered at (a
    status page's last change), so an owner's edit shows at once; what changes without
    a new version (statuses, incidents, bars) shows within `seconds`. A status page
    linked from an outage notice gets its visitors all at once: they share one render.
    """

    def __init__(
        self,
        seconds: float,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.max_bytes = max_bytes
        self._clock = clock
        # key -> (expires, version, page), oldest first.
        self._pages: dict[str, tuple[float, Hashable, Rendered]] = {}
        self._bytes = 0
        self._rendering: dict[tuple[str, Hashable], asyncio.Future[object]] = {}

    async def get(
        self, key: str, version: Hashable, render: Callable[[], Awaitable[Rendered]]
    ) -> Rendered:
        """Return the key's page at this version from the cache, else from render()."""
        if self.seconds <= 0:
            return await render()
        while True:
            found = self._pages.get(key)
            if found is not None and found[1] == version and found[0] > self._clock():
                return found[2]
            running = self._rendering.get((key, version))
            if running is None:
                break
            # shield: a waiter that gives up must not cancel the render others wait for.
            shared = await asyncio.shield(running)
            if isinstance(shared, Rendered):
                return shared
            # That render failed: look again (one waiter renders, the others wait for it).
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._rendering[(key, version)] = future
        try:
            page = await render()
        except BaseException:
            future.set_result(_FAILED)
            raise
        finally:
            del self._rendering[(key, version)]
        future.set_result(page)
        self._store(key, version, page)
        return page

    def _store(self, key: str, version: Hashable, page: Rendered) -> None:
        old = self._pages.pop(key, None)
        if old is not None:
            self._bytes -= old[2].size
        if page.size > self.max_bytes:
            return
        self._pages[key] = (self._clock() + self.seconds, version, page)
        self._bytes += page.size
        # Oldest first (dicts keep insertion order), expired or not.
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._pages))
            self._bytes -= self._pages.pop(oldest)[2].size
