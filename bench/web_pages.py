"""Benchmark 12: the dashboard of a user with 10,000 websites and a 500-website status page
with 90 days of history each.

Server time as a browser sees it (p99 over closed-loop keep-alive requests), against
GET /healthz measured in the same run: the floor of the HTTP stack on this machine.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.api import latencies, percentile, round_robin, start_api, token_for, wait_ready
from bench.env import Backends, backends
from bench.fill import add_region_and_status, add_users, add_websites
from bench.procs import running
from bench.results import Figure
from betteruptime.db.rollups import PROGRESS_NAME

TARGET_MS = 300.0
REGION = "bench"
SLUG = "bench"


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
        # Every seventh website is down, so the status filter has something to find.
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
        # History: 90 closed days of daily rollups for the status page's websites (each
        # day 1,440 checks, 3 failed), 30 days of hourly ones for the dashboard's first page.
        await conn.execute(
            """
            INSERT INTO tick_rollup_daily (website_ref, region_ref, day, checks, failures,
                degraded, rt_count, rt_sum, rt_min, rt_max, h17, h18, h19, h20)
            SELECT w.ref, r.ref, d::date, 1440, 3, 0, 1437, 1437 * 190, 110, 390,
                   400, 600, 300, 137
            FROM (SELECT ref FROM website ORDER BY created_at LIMIT $1) AS w
                 CROSS JOIN region r
                 CROSS JOIN generate_series(current_date - 90, current_date - 1,
                                            interval '1 day') AS d
            """,
            sizes.page_websites,
        )
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
            "INSERT INTO rollup_progress (name, rolled_until) "
            "VALUES ($1, date_trunc('hour', now()))",
            PROGRESS_NAME,
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return owner


async def run(sizes: Sizes) -> list[Figure]:
    """Return p99 server time of the dashboard (three ways) and the status page."""
    async with backends("web") as b:
        owner = await _fill(b, sizes)
        cookie = {"Cookie": f"bu_session={token_for(owner)}", "Accept": "text/html"}
        last_page = max(1, -(-sizes.websites // 50))
        cases = [
            ("GET /healthz", "/healthz", {}),
            (f"dashboard, {sizes.websites:,} websites, page 1", "/", cookie),
            (f"dashboard, last page ({last_page})", f"/?p={last_page}", cookie),
            ("dashboard filtered to DOWN", "/?status=DOWN", cookie),
            ("dashboard searched", "/?q=site+12", cookie),
            (f"status page, {sizes.page_websites} websites", f"/s/{SLUG}", {}),
        ]
        measured: dict[str, list[float]] = {}
        async with running() as procs:
            _, base_url = start_api(b, procs)
            await wait_ready(base_url, procs)
            for name, path, headers in cases:
                requests = round_robin([(f"{base_url}{path}", headers)])
                # A short warm-up first: the connection pool and PostgreSQL's cache.
                await latencies(requests, concurrency=sizes.concurrency, seconds=0.5)
                measured[name] = await latencies(
                    requests, concurrency=sizes.concurrency, seconds=sizes.seconds
                )
    floor = percentile(measured["GET /healthz"], 0.99) * 1000
    figures = []
    for name, _, _ in cases[1:]:
        p99 = percentile(measured[name], 0.99) * 1000
        figures.append(
            Figure(
                benchmark="13 web pages",
                name=f"{name}: p99",
                value=p99,
                unit="ms",
                target=f"< {TARGET_MS:.0f} ms",
                met=p99 < TARGET_MS,
                baseline=floor,
                baseline_name="GET /healthz p99",
                ratio=p99 / floor,
                details={
                    "p50_ms": round(percentile(measured[name], 0.5) * 1000, 2),
                    "requests": len(measured[name]),
                    "concurrency": sizes.concurrency,
                    "websites": sizes.websites,
                    "status_page_websites": sizes.page_websites,
                },
            )
        )
    return figures
