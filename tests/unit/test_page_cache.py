"""The public pages' cache: expiry, versions, its size bound, and renders shared or retried."""

from __future__ import annotations

import asyncio

import pytest

from betteruptime.web.cache import PageCache, Rendered


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Renders:
    """Renders a page whose body says how many renders happened so far."""

    def __init__(self, size: int = 10) -> None:
        self.count = 0
        self.size = size

    async def __call__(self) -> Rendered:
        self.count += 1
        await asyncio.sleep(0)
        return Rendered.of(f"{self.count:0{self.size}d}")


async def test_a_page_is_kept_for_its_seconds_and_per_version() -> None:
    clock = Clock()
    cache = PageCache(10, clock=clock)
    render = Renders()
    first = await cache.get("acme", 1, render)
    assert await cache.get("acme", 1, render) is first and render.count == 1
    clock.now += 9.9
    assert await cache.get("acme", 1, render) is first
    clock.now += 0.2
    assert (await cache.get("acme", 1, render)).body != first.body and render.count == 2
    # A new version (the page was edited) is rendered at once, whatever the age.
    await cache.get("acme", 2, render)
    assert render.count == 3
    assert Rendered.of("same").etag == Rendered.of("same").etag != Rendered.of("other").etag


async def test_with_no_seconds_every_call_renders() -> None:
    cache = PageCache(0)
    render = Renders()
    for _ in range(3):
        await cache.get("acme", 1, render)
    assert render.count == 3


async def test_the_cache_drops_its_oldest_pages_past_its_size() -> None:
    cache = PageCache(60, max_bytes=25)
    render = Renders(size=10)
    for key in ("a", "b", "c"):  # 30 bytes: "a" goes
        await cache.get(key, 1, render)
    await cache.get("b", 1, render)
    await cache.get("c", 1, render)
    assert render.count == 3
    await cache.get("a", 1, render)
    assert render.count == 4
    huge = PageCache(60, max_bytes=5)
    await huge.get("a", 1, render)
    await huge.get("a", 1, render)  # larger than the whole cache: never kept
    assert render.count == 6


async def test_callers_arriving_together_share_one_render() -> None:
    cache = PageCache(10)
    render = Renders()
    pages = await asyncio.gather(*(cache.get("acme", 1, render) for _ in range(5)))
    assert render.count == 1 and all(p is pages[0] for p in pages)


async def test_when_the_shared_render_fails_the_waiters_render_once_more() -> None:
    cache = PageCache(10)
    render = Renders()
    started = asyncio.Event()
    release = asyncio.Event()

    async def failing() -> Rendered:
        started.set()
        await release.wait()
        raise RuntimeError("database went away")

    first = asyncio.create_task(cache.get("acme", 1, failing))
    await started.wait()
    waiters = [asyncio.create_task(cache.get("acme", 1, render)) for _ in range(2)]
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(RuntimeError):
        await first
    pages = await asyncio.gather(*waiters)
    # Both waited for the failed render (its error is not theirs), then one rendered.
    assert render.count == 1 and pages[0] is pages[1]
    assert await cache.get("acme", 1, render) is pages[0] and render.count == 1
