"""Every page in Chromium, light, dark and on a phone: no console error or CSP violation,
nothing wider than the screen, every field labelled; a screenshot of each for review.

Also, in the browser: a status page edited and deleted, and a password change that ends
the user's other sessions.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.browser.conftest import SCREENSHOTS, Problems, Served
from tests.pipeline.helpers import http_targets

PASSWORD = "correct horse battery staple"
PHONE = {"width": 360, "height": 740}

# Fields without a <label> (or aria-label) a screen reader could not name.
UNLABELLED = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea')].filter(
    e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.outerHTML)"""

# The innermost elements that reach past the screen's right edge.
TOO_WIDE = """(width) => [...document.querySelectorAll('body *')].filter(
    e => e.getBoundingClientRect().right > width + 1
      && ![...e.children].some(c => c.getBoundingClientRect().right > width + 1)
    ).slice(0, 5).map(e => e.outerHTML.slice(0, 200))"""


async def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"every-{name}.png"), full_page=True)


async def _sweep(page: Any, pages: dict[str, tuple[str, int]], suffix: str, width: int) -> None:
    """Open every page, check it, and keep a screenshot named page-suffix."""
    for name, (path, status) in pages.items():
        response = await page.goto(path)
        assert response is not None and response.status == status, (path, response)
        assert await page.evaluate(UNLABELLED) == [], path
        scroll = await page.evaluate("document.documentElement.scrollWidth")
        # No sideways scrolling; if there is, name the widest culprits.
        assert scroll <= width, (path, scroll, await page.evaluate(TOO_WIDE, width))
        await _shot(page, f"{name}-{suffix}")


async def test_every_page_is_clean_in_light_dark_and_on_a_phone(
    chromium: Any, served: Served
) -> None:
    problems = Problems()
    async with http_targets() as targets:
        context = await chromium.new_context(base_url=served.base, color_scheme="light")
        page = await context.new_page()
        problems.watch(page)
        await page.goto("/register")
        await page.get_by_label("Username").fill("erin")
        await page.get_by_label("Email").fill("erin@example.com")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Create account").click()
        await page.wait_for_url(f"{served.base}/")

        # A long name with ": " and markup in it: escaped, and the page stays whole.
        long_name = "Payments API: <b>eu-west</b> — " + "x" * 60
        await page.goto("/websites/new")
        await page.get_by_label("URL").fill(targets.url("/down"))
        await page.get_by_label("Name").fill(long_name)
        await page.get_by_label("Check interval (seconds)").fill("10")
        await page.get_by_role("button", name="Add website").click()
        await page.wait_for_url(re.compile(r".*/websites/[0-9a-f-]{36}$"))
        website = page.url.removeprefix(served.base)
        legend = page.locator("p.bars-legend span").nth(1)
        assert re.fullmatch(
            r"(no checks|[\d.]+% up) (in|over) the last \d+ days", await legend.inner_text()
        )

        await page.goto("/status-pages/new")
        await page.get_by_label("Title").fill("Erin's status")
        await page.get_by_label("Slug").fill("erin")
        await page.get_by_label(re.compile("^Payments API")).check()
        await page.get_by_role("button", name="Create status page").click()
        await page.wait_for_url("**/status-pages")
        edit = await page.get_by_role("link", name="Edit").get_attribute("href")
        assert edit is not None
        status_page = edit.removesuffix("/edit")

        # An incident opens after two failed checks, for the incident pages.
        await page.goto("/incidents")
        for _ in range(120):
            if await page.locator("a.incident-title").count():
                break
            await page.wait_for_timeout(500)
            await page.reload()
        incident = await page.locator("a.incident-title").first.get_attribute("href")
        assert incident is not None
        await page.goto("/channels")
        await page.get_by_label("Name").fill("Hook")
        await page.get_by_label("Apprise URL").fill("json://hooks.example.com/x")
        await page.get_by_role("button", name="Add channel").click()
        await page.wait_for_url(re.compile(r".*/channels#channel-[0-9a-f-]{36}$"))
        channel = "/channels/" + page.url.rsplit("#channel-", 1)[1]

        signed_in = {
            "dashboard": ("/", 200),
            "dashboard-filtered": ("/?status=DOWN&q=payments", 200),
            "website-new": ("/websites/new", 200),
            "website": (website, 200),
            "website-edit": (f"{website}/edit", 200),
            "website-delete": (f"{website}/delete", 200),
            "incidents": ("/incidents", 200),
            "incident": (incident, 200),
            "channels": ("/channels", 200),
            "channel": (channel, 200),
            "channel-delete": (f"{channel}/delete", 200),
            "status-pages": ("/status-pages", 200),
            "status-page-new": ("/status-pages/new", 200),
            "status-page-edit": (f"{status_page}/edit", 200),
            "status-page-delete": (f"{status_page}/delete", 200),
            "account": ("/account", 200),
            "not-found": ("/websites/00000000-0000-0000-0000-000000000000", 404),
        }
        public = {
            "login": ("/login", 200),
            "register": ("/register", 200),
            "public-status": ("/s/erin", 200),
            "public-not-found": ("/s/nobody", 404),
        }
        for path, status in [*signed_in.values(), *public.values()]:
            if status != 200:
                problems.expect_status(path, status)
        cookies = await context.cookies()
        for scheme, viewport, suffix in (
            ("light", {"width": 1280, "height": 800}, "light"),
            ("dark", {"width": 1280, "height": 800}, "dark"),
            ("light", PHONE, "phone"),
        ):
            ctx = await chromium.new_context(
                base_url=served.base, color_scheme=scheme, viewport=viewport
            )
            visitor = await ctx.new_page()
            problems.watch(visitor)
            await _sweep(visitor, public, suffix, viewport["width"])
            await ctx.add_cookies(cookies)
            user = await ctx.new_page()
            problems.watch(user)
            await _sweep(user, signed_in, suffix, viewport["width"])
            await ctx.close()
        assert await page.locator("b").filter(has_text="eu-west").count() == 0  # escaped

        # Edit the status page to show URLs: the public page shows it at once; then delete.
        await page.goto(f"{status_page}/edit")
        await page.get_by_label("Show website URLs").check()
        await page.get_by_role("button", name="Save").click()
        await page.wait_for_url("**/status-pages")
        visitor_context = await chromium.new_context(base_url=served.base)
        visitor = await visitor_context.new_page()
        problems.watch(visitor)
        await visitor.goto("/s/erin")
        assert targets.url("/down") in await visitor.locator("li.service").inner_text()
        await page.goto(f"{status_page}/delete")
        await page.get_by_role("button", name="Delete status page").click()
        await page.wait_for_url("**/status-pages")
        # (The visitor's browser may show its copy for up to max-age=60; a new one gets 404.)
        async with httpx.AsyncClient(base_url=served.base) as client:
            assert (await client.get("/s/erin")).status_code == 404

        # A password change keeps this browser in and ends every other session.
        other = await chromium.new_context(base_url=served.base)
        await other.add_cookies(cookies)
        other_page = await other.new_page()
        problems.watch(other_page)
        await other_page.goto("/account")
        assert other_page.url.endswith("/account")
        await page.goto("/account")
        await page.get_by_label("Current password").fill(PASSWORD)
        await page.get_by_label("New password").fill("an even longer passphrase")
        await page.get_by_role("button", name="Change password").click()
        await page.get_by_role("status").filter(has_text="Password changed").wait_for()
        await _shot(page, "account-changed-light")
        await page.goto("/")
        assert page.url == f"{served.base}/"
        await other_page.goto("/account")
        assert other_page.url.endswith("/login?next=/account")
        async with httpx.AsyncClient(base_url=served.base) as client:
            old = next(c["value"] for c in cookies if c["name"] == "bu_session")
            api = await client.get("/websites", headers={"Authorization": f"Bearer {old}"})
            assert api.status_code == 401
        for ctx in (context, visitor_context, other):
            await ctx.close()
    assert problems.messages == [], "\n".join(problems.messages)
