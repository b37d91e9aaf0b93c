"""Benchmark 13: the dashboard of a user with 10,000 websites and a 500-website status page
with 90 days of history each.

Server time as a browser sees it (p99 over closed-loop keep-alive requests), against
GET /healthz measured in the same run: the floor of the HTTP stack on this machine. The
status page is measured computed on every request (its cache off), the figure with a
target, and served from its short cache, reported beside it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from bench.api import latencies, percentile, round_robin, token_for, wait_ready
from bench.env import BETTERUPTIME, Backends, backends
from bench.fill import add_region_and_status, add_users, add_websites, create_partitions_on
from bench.procs import Procs, running
from bench.results import Figure
from bench.target import free_port
from betteruptime.db.rollups import PROGRESS_NAME

TARGET_MS = 300.0
REGION = "bench"
SLUG = "bench"
# The status-page cache of the second API process (the default setting).
CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Sizes:
    """Websites of the one user, how many of them the status page shows, and the load."""

    websites: int = 10_000
    page_websites: int = 500
    # One request at a time: the figure is the server's time for a page, not the queue
    # of a single process under concurrent load (bench 5 measures that).
    concurrency: int = 1
    seconds: float = 10.0


QUICK = Sizes(websites=300, page_websites=50, concurrency=1, seconds=1.0)


async def _fill(b: Backends, sizes: Sizes) -> uuid.UUID:
    conn = await b.pg()
    try:
        (owner,) = await add_users(conn, 1)
        await add_websites(
            conn,
            [owner],
            "http://127.0.0.1:9",
            sizes.websites,
            interval=60,
            timeout=10,
            first_due=datetime.now(UTC) + timedelta(days=1),
        )
        await conn.execute("UPDATE website SET name = 'site ' || right(url, 6)")
        await add_region_and_status(conn, REGION)
        # Every tenth website (its URL ends in 7) is down, with its open incident below,
        # so the status filter has something to find.
        await conn.execute(
            "UPDATE website_status SET status = 'DOWN', status_code = 503 "
            "WHERE website_id IN (SELECT id FROM website WHERE right(url, 1) = '7')"
        )
        page_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO status_page (id, owner_id, title, slug, show_urls, created_at, "
            "updated_at) VALUES ($1, $2, 'Bench', $3, false, now(), now())",
            page_id,
            owner,
            SLUG,
        )
        await conn.execute(
            """
            INSERT INTO status_page_website (status_page_id, website_id, position)
            SELECT $1, id, row_number() OVER (ORDER BY created_at)
            FROM (SELECT id, created_at FROM website ORDER BY created_at LIMIT $2) AS w
            """,
            page_id,
            sizes.page_websites,
        )
        # History as a deployment of this size has it: 90 closed days of daily rollups for
        # every website, written a day at a time as housekeeping does (so one website's
        # days lie in different heap pages), mostly clean days with a few failures here
        # and there, so that bars differ.
        for back in range(90, 0, -1):
            await conn.execute(
                """
                INSERT INTO tick_rollup_daily (website_ref, region_ref, day, checks, failures,
                    degraded, rt_count, rt_sum, rt_min, rt_max, h17, h18, h19, h20)
                SELECT w.ref, r.ref, d.day, c.checks, c.failures, 0, c.checks - c.failures,
                       (c.checks - c.failures) * 190, 110, 390, 400, 600, 300,
                       c.checks - c.failures - 1300
                FROM (SELECT current_date - $1::int AS day,
                             current_date - $1::int - date '2000-01-01' AS n) AS d
                     CROSS JOIN region r
                     CROSS JOIN website w
                     CROSS JOIN LATERAL (
                         SELECT 1440 - (w.ref + d.n) % 2 AS checks,
                                CASE WHEN (w.ref * 31 + d.n * 17) % 10 < 7 THEN 0
                                     ELSE (w.ref * 7 + d.n * 13) % 60
                                END AS failures
                     ) AS c
                ORDER BY w.ref
                """,
                back,
            )
        # Hourly rollups: 30 days for the dashboard's first page, and today's closed hours
        # for the status page's websites (where its last bar starts).
        await conn.execute(
            """
            INSERT INTO tick_rollup_hourly (website_ref, region_ref, hour, checks, failures,
                degraded, rt_count, rt_sum, rt_min, rt_max, h17, h18, h19, h20)
            SELECT w.ref, r.ref, h, 60, 3, 0, 57, 57 * 190, 110, 390, 10, 20, 20, 7
            FROM (SELECT ref FROM website ORDER BY created_at LIMIT 50) AS w
                 CROSS JOIN region r
                 CROSS JOIN generate_series(date_trunc('hour', now()) - interval '30 days',
                                            date_trunc('hour', now()) - interval '1 hour',
                                            interval '1 hour') AS h
            """
        )
        await conn.execute(
            """
            INSERT INTO tick_rollup_hourly (website_ref, region_ref, hour, checks, failures,
                degraded, rt_count, rt_sum, rt_min, rt_max, h17, h18, h19, h20)
            SELECT w.ref, r.ref, h, 60, 0, 0, 60, 60 * 190, 110, 390, 10, 20, 20, 10
            FROM (SELECT ref FROM website ORDER BY created_at LIMIT $1) AS w
                 CROSS JOIN region r
                 CROSS JOIN generate_series(date_trunc('day', now()),
                                            date_trunc('hour', now()) - interval '1 hour',
                                            interval '1 hour') AS h
            ON CONFLICT DO NOTHING
            """,
            sizes.page_websites,
        )
        await conn.execute(
            "INSERT INTO rollup_progress (name, rolled_until) "
            "VALUES ($1, date_trunc('hour', now()))",
            PROGRESS_NAME,
        )
        # The hour in progress is raw ticks: one a minute for the status page's websites.
        await create_partitions_on(conn, [datetime.now(UTC).date()])
        await conn.execute(
            """
            INSERT INTO website_tick (scheduled_at, website_ref, delay_ms, response_time_ms,
                                      error_id, region_ref, status, status_code)
            SELECT m, w.ref, 5, 190, NULL, r.ref, 0, 200
            FROM (SELECT ref FROM website ORDER BY created_at LIMIT $1) AS w
                 CROSS JOIN region r
                 CROSS JOIN generate_series(date_trunc('hour', now()), now(),
                                            interval '1 minute') AS m
            """,
            sizes.page_websites,
        )
        # Incidents: an open one for each website that is down (as the alerter keeps
        # them), and for the status page's websites a year of resolved ones, one every
        # ten days each, so the page's last 14 days are found among history.
        await conn.execute(
            """
            INSERT INTO incident (id, website_id, state, started_at, detected_at,
                                  resolved_at, cause, awaiting_recovery)
            SELECT gen_random_uuid(), website_id, 'open', now() - interval '20 minutes',
                   now() - interval '19 minutes', NULL, '{}', false
            FROM website_status WHERE status = 'DOWN'
            """
        )
        await conn.execute(
            """
            INSERT INTO incident (id, website_id, state, started_at, detected_at,
                                  resolved_at, cause, awaiting_recovery)
            SELECT gen_random_uuid(), w.id, 'resolved', s, s + interval '1 minute',
                   s + make_interval(mins => 5 + w.ref % 50), '{}', false
            FROM (SELECT id, ref FROM website ORDER BY created_at LIMIT $1) AS w
                 CROSS JOIN LATERAL generate_series(
                     now() - interval '365 days' + make_interval(hours => w.ref % 240),
                     now() - interval '1 day', interval '10 days') AS s
            """,
            sizes.page_websites,
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return owner


def _start_api(b: Backends, procs: Procs, name: str, cache_seconds: float) -> str:
    """Start `betteruptime api` with this status-page cache; return its base URL."""
    port = free_port()
    procs.start(
        name,
        [BETTERUPTIME, "api", "--host", "127.0.0.1", "--port", str(port)],
        b.component_env(status_page_cache_seconds=cache_seconds),
    )
    return f"http://127.0.0.1:{port}"


async def _measure(base_url: str, path: str, headers: dict[str, str], sizes: Sizes) -> list[float]:
    requests = round_robin([(f"{base_url}{path}", headers)])
    # A short warm-up first: the connection pool and PostgreSQL's cache.
    await latencies(requests, concurrency=sizes.concurrency, seconds=0.5)
    return await latencies(requests, concurrency=sizes.concurrency, seconds=sizes.seconds)


async def _page_bytes(url: str) -> dict[str, int]:
    """Return the status page's size on the wire, plain and gzip-compressed."""
    found = {}
    async with httpx.AsyncClient(timeout=60) as client:
        for name, encoding in (("page_bytes", "identity"), ("page_bytes_gzip", "gzip")):
            response = await client.get(url, headers={"Accept-Encoding": encoding})
            response.raise_for_status()
            found[name] = int(response.headers["content-length"])
    return found


async def run(sizes: Sizes) -> list[Figure]:
    """Return p99 server time of the dashboard (four ways) and the status page.

    Every page is measured on an API whose status-page cache is off, so the status page
    is computed on every request; the same page from an API with the cache on (the
    default) is reported beside it, without a target.
    """
    async with backends("web") as b:
        owner = await _fill(b, sizes)
        cookie = {"Cookie": f"bu_session={token_for(owner)}", "Accept": "text/html"}
        last_page = max(1, -(-sizes.websites // 50))
        page = f"status page, {sizes.page_websites} websites x 90 days"
        cases = [
            ("GET /healthz", "/healthz", {}),
            (f"dashboard, {sizes.websites:,} websites, page 1", "/", cookie),
            (f"dashboard, last page ({last_page})", f"/?p={last_page}", cookie),
            ("dashboard filtered to DOWN", "/?status=DOWN", cookie),
            ("dashboard searched", "/?q=site+12", cookie),
            (f"{page}, computed on every request", f"/s/{SLUG}", {}),
        ]
        cached = f"{page}, cached (STATUS_PAGE_CACHE_SECONDS={CACHE_SECONDS:g})"
        measured: dict[str, list[float]] = {}
        async with running() as procs:
            uncached_url = _start_api(b, procs, "api", 0)
            cached_url = _start_api(b, procs, "api-cached", CACHE_SECONDS)
            await wait_ready(uncached_url, procs)
            await wait_ready(cached_url, procs)
            for name, path, headers in cases:
                measured[name] = await _measure(uncached_url, path, headers, sizes)
            measured[cached] = await _measure(cached_url, f"/s/{SLUG}", {}, sizes)
            page_bytes = await _page_bytes(cached_url + f"/s/{SLUG}")
    floor = percentile(measured["GET /healthz"], 0.99) * 1000
    figures = []
    cache_of = {cases[-1][0]: 0.0, cached: CACHE_SECONDS}
    for name in [name for name, _, _ in cases[1:]] + [cached]:
        p99 = percentile(measured[name], 0.99) * 1000
        target = name != cached
        figures.append(
            Figure(
                benchmark="13 web pages",
                name=f"{name}: p99",
                value=p99,
                unit="ms",
                target=f"< {TARGET_MS:.0f} ms" if target else "-",
                met=p99 < TARGET_MS if target else None,
                baseline=floor,
                baseline_name="GET /healthz p99",
                ratio=p99 / floor,
                details={
                    "p50_ms": round(percentile(measured[name], 0.5) * 1000, 2),
                    "requests": len(measured[name]),
                    "concurrency": sizes.concurrency,
                    "websites": sizes.websites,
                    "status_page_websites": sizes.page_websites,
                    **({"status_page_cache_seconds": cache_of[name]} if name in cache_of else {}),
                    **(page_bytes if name in cache_of else {}),
                },
            )
        )
    return figures
