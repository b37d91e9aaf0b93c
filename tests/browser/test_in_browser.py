"""A person's path through the pages, in Chromium: sign up, monitor, publish, and the guards."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import SCREENSHOTS, Problems, Served
from tests.notify.receivers import webhooks
from tests.pipeline.helpers import http_targets

PASSWORD = "correct horse battery staple"


async def _shot(page: Any, name: str, scheme: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}-{scheme}.png"), full_page=True)


async def _wait_for_status(page: Any, text: str, seconds: float = 30) -> None:
    """Reload the page until a status reads text (the pages have no script to refresh)."""
    for _ in range(int(seconds * 2)):
        if text in await page.locator("span.status").all_inner_texts():
            return
        await page.wait_for_timeout(500)
        await page.reload()
    raise AssertionError(f"{text!r} never appeared on {page.url}")


async def test_a_person_monitors_a_website_and_publishes_it(chromium: Any, served: Served) -> None:
    problems = Problems()
    async with http_targets() as targets:
        context = await chromium.new_context(base_url=served.base, color_scheme="light")
        page = await context.new_page()
        problems.watch(page)

        # Logged out, the dashboard sends you to log in; from there, register.
        await page.goto("/")
        assert page.url.endswith("/login")
        await _shot(page, "login", "light")
        await page.get_by_role("link", name="Create one").click()
        await page.get_by_label("Username").fill("carol")
        await page.get_by_label("Email").fill("carol@example.com")
        await page.get_by_label("Password").fill(PASSWORD)
        await _shot(page, "register", "light")
        await page.get_by_role("button", name="Create account").click()
        await page.wait_for_url(f"{served.base}/")
        await _shot(page, "dashboard-empty", "light")

        # Log out and back in through the form.
        await page.get_by_role("button", name="Log out").click()
        await page.wait_for_url("**/login")
        await page.get_by_label("Username").fill("carol")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url(f"{served.base}/")

        # Add a website and see it checked.
        await page.get_by_role("link", name="Add website").first.click()
        await page.get_by_label("URL").fill(targets.url("/up"))
        await page.get_by_label("Name").fill("Local target")
        await page.get_by_label("Check interval (seconds)").fill("10")
        await _shot(page, "website-new", "light")
        await page.get_by_role("button", name="Add website").click()
        await page.wait_for_url(re.compile(r".*/websites/[0-9a-f-]{36}$"))
        detail_url = page.url
        await _wait_for_status(page, "UP")
        assert targets.hits.get("/up", 0) >= 1
        latest = page.locator("section", has=page.get_by_role("heading", name="Latest checks"))
        assert "200" in await latest.locator("tbody tr").first.inner_text()
        badge = page.get_by_role("img", name="status badge")
        assert await badge.evaluate("img => img.complete && img.naturalWidth > 0")
        badge_src = await badge.get_attribute("src")
        await _shot(page, "website-detail", "light")
        await page.goto("/")
        assert await page.locator("span.status").all_inner_texts() == ["UP"]
        await _shot(page, "dashboard", "light")

        # A bad value: the error shows next to the field, the input stays, nothing is saved.
        await page.goto(detail_url + "/edit")
        await page.get_by_label("Check interval (seconds)").fill("abc")
        await page.get_by_label("Name").fill("Renamed")
        problems.expect_status(detail_url.removeprefix(served.base) + "/edit", 422)
        await page.get_by_role("button", name="Save").click()
        error = page.locator("#e-interval_seconds")
        assert await error.inner_text() == "Check interval (seconds) must be a whole number"
        assert await page.get_by_label("Check interval (seconds)").input_value() == "abc"
        assert await page.get_by_label("Name").input_value() == "Renamed"
        await _shot(page, "website-edit-error", "light")
        await page.goto(detail_url + "/edit")
        assert await page.get_by_label("Check interval (seconds)").input_value() == "10"
        assert await page.get_by_label("Name").input_value() == "Local target"

        # A second website, whose target fails: an incident opens after two failed checks.
        await page.goto("/websites/new")
        await page.get_by_label("URL").fill(targets.url("/down"))
        await page.get_by_label("Name").fill("Failing target")
        await page.get_by_label("Check interval (seconds)").fill("10")
        await page.get_by_role("button", name="Add website").click()
        await page.wait_for_url(re.compile(r".*/websites/[0-9a-f-]{36}$"))

        # Publish a status page of both and open it logged out.
        await page.get_by_role("link", name="Status pages").click()
        await page.get_by_role("link", name="New status page").click()
        await page.get_by_label("Title").fill("Carol's services")
        await page.get_by_label("Slug").fill("carol")
        await page.get_by_label(re.compile("^Local target")).check()
        await page.get_by_label(re.compile("^Failing target")).check()
        await _shot(page, "status-page-new", "light")
        await page.get_by_role("button", name="Create status page").click()
        await page.wait_for_url("**/status-pages")
        await _shot(page, "status-pages", "light")
        await page.goto("/account")
        await _shot(page, "account", "light")

        visitor_context = await chromium.new_context(base_url=served.base, color_scheme="light")
        visitor = await visitor_context.new_page()
        problems.watch(visitor)
        await visitor.goto("/s/carol")
        # The failing website's incident shows by itself (within the page's short cache).
        await _wait_for_status(visitor, "Ongoing", seconds=90)
        assert await visitor.get_by_text("Partial outage").count() == 1
        incidents = visitor.locator("section", has=visitor.get_by_role("heading", name="Incidents"))
        incident = incidents.locator("li.incident")
        assert await incident.count() == 1
        assert "Failing target" in await incident.inner_text()
        assert "Down since" in await incident.inner_text()
        services = visitor.locator("li.service")
        assert await services.count() == 2
        assert "Local target" in await services.first.inner_text()
        content = await visitor.content()
        for url in (targets.url("/up"), targets.url("/down")):
            assert url not in content  # URLs hidden by default
        bars = visitor.get_by_role("img", name=re.compile("^Failing target: "))
        assert await bars.locator("i").count() == 90
        assert "up (" in (await bars.locator("i").last.get_attribute("title") or "")
        await _shot(visitor, "public-status", "light")
        response = await visitor.goto(badge_src)
        assert response is not None and response.status == 200
        assert response.headers["content-type"] == "image/svg+xml"
        problems.expect_status("/s/nobody-here", 404)
        missing = await visitor.goto("/s/nobody-here")
        assert missing is not None and missing.status == 404
        await _shot(visitor, "public-404", "light")

        # A form posted from another page of the same site (so the browser does send the
        # session cookie), without our token, is refused and changes nothing.
        attacker = await context.new_page()
        problems.watch(attacker)
        evil = "http://127.0.0.1:9/attack"  # answered by the route below, never contacted
        html = (
            f'<form method="post" action="{served.base}/websites/new">'
            '<input name="url" value="https://evil.example.com/">'
            '<button type="submit">Send</button></form>'
        )
        await attacker.route(evil, lambda route: route.fulfill(body=html, content_type="text/html"))
        await attacker.goto(evil)
        problems.expect_status("/websites/new", 403)
        async with attacker.expect_navigation():
            await attacker.get_by_role("button", name="Send").click()
        assert await attacker.get_by_role("heading", name="Form expired").count() == 1
        await _shot(attacker, "csrf-refused", "light")
        await attacker.close()
        await page.goto("/")
        assert "evil.example.com" not in await page.content()

        # Dark theme: the same pages, screenshotted for review.
        dark = await chromium.new_context(base_url=served.base, color_scheme="dark")
        await dark.add_cookies(await context.cookies())
        dark_page = await dark.new_page()
        problems.watch(dark_page)
        for name, path in (
            ("dashboard", "/"),
            ("website-detail", detail_url),
            ("website-new", "/websites/new"),
            ("status-pages", "/status-pages"),
            ("account", "/account"),
            ("public-status", "/s/carol"),
        ):
            await dark_page.goto(path)
            await _shot(dark_page, name, "dark")
        background = await dark_page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(13, 17, 23)"  # the dark palette is in use
        await dark_page.goto("/login")
        await _shot(dark_page, "dashboard-redirect", "dark")

        # A phone-sized screen shows the status as text.
        phone = await chromium.new_context(
            base_url=served.base, viewport={"width": 390, "height": 844}, color_scheme="light"
        )
        phone_page = await phone.new_page()
        problems.watch(phone_page)
        await phone_page.goto("/s/carol")
        await _shot(phone_page, "public-status-phone", "light")
        statuses = await phone_page.locator("span.status").all_inner_texts()
        assert statuses == ["Ongoing", "UP", "DOWN"]
        await phone.add_cookies(await context.cookies())
        await phone_page.goto("/")
        await _shot(phone_page, "dashboard-phone", "light")

        # Delete, after the confirmation page.
        await page.goto(detail_url)
        await page.get_by_role("link", name="Delete").click()
        await _shot(page, "website-delete", "light")
        await page.get_by_role("button", name="Delete website").click()
        await page.wait_for_url(f"{served.base}/")
        assert await page.locator("td.site a").all_inner_texts() == ["Failing target"]

        for ctx in (context, visitor_context, dark, phone):
            await ctx.close()
    print(f"screenshots in {SCREENSHOTS}")
    assert problems.messages == [], "\n".join(problems.messages)


def test_screenshot_folder_is_ignored_by_git() -> None:
    ignored = (Path(__file__).parents[2] / ".gitignore").read_text().splitlines()
    assert "/tests/browser/screenshots/" in ignored


def _answer_with(html: str) -> Any:
    """Return a Playwright route handler that answers with this page."""

    async def handler(route: Any) -> None:
        await route.fulfill(body=html, content_type="text/html")

    return handler


async def _reload_until(page: Any, locator: str, text: str, seconds: float = 90) -> None:
    """Reload the page until one of the elements at locator reads text (no script refreshes)."""
    for _ in range(int(seconds * 2)):
        if text in await page.locator(locator).all_inner_texts():
            return
        await page.wait_for_timeout(500)
        await page.reload()
    raise AssertionError(f"{text!r} never appeared in {locator} on {page.url}")


async def test_a_person_is_told_of_an_incident_and_handles_it(
    chromium: Any, served: Served
) -> None:
    problems = Problems()
    async with http_targets() as targets, webhooks() as hooks:
        context = await chromium.new_context(base_url=served.base, color_scheme="light")
        page = await context.new_page()
        problems.watch(page)
        await page.goto("/register")
        await page.get_by_label("Username").fill("dana")
        await page.get_by_label("Email").fill("dana@example.com")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Create account").click()
        await page.wait_for_url(f"{served.base}/")

        # A channel pointed at a real local receiver; a bad URL first.
        await page.get_by_role("link", name="Channels").click()
        await page.wait_for_url("**/channels")
        await _shot(page, "channels-empty", "light")
        await page.get_by_label("Name").fill("Ops hook")
        await page.get_by_label("Apprise URL").fill("nosuchservice://hooks.example.com/x")
        problems.expect_status("/channels", 422)
        await page.get_by_role("button", name="Add channel").click()
        error = page.locator("#e-url")
        assert await error.inner_text() == (
            "Apprise URL is not a valid Apprise URL (unknown service or malformed)"
        )
        assert await page.get_by_label("Name").input_value() == "Ops hook"
        await _shot(page, "channels-error", "light")
        hook_url = hooks.url("json", "/hook")
        await page.get_by_label("Apprise URL").fill(hook_url)
        await page.get_by_role("button", name="Add channel").click()
        await page.wait_for_url(re.compile(r".*/channels#channel-[0-9a-f-]{36}$"))
        row = page.locator("ul.channels > li")
        assert await row.count() == 1
        assert "Ops hook" in await row.inner_text()
        assert f"json://127.0.0.1:{hooks.port}/***" in await row.inner_text()
        assert hook_url not in await page.content()  # the path is masked

        async with page.expect_navigation():
            await page.get_by_role("button", name=re.compile("^Send test")).click()
        result = page.get_by_role("status").filter(has_text="Test message to Ops hook")
        assert re.fullmatch(
            r"Test message to Ops hook: Delivered in \d+ ms\.", await result.inner_text()
        )
        [test_message] = hooks.on("/hook")
        assert test_message.json["title"] == "BetterUptime test notification"
        await _shot(page, "channels-tested", "light")

        # A website that is down opens an incident, and the channel hears of it.
        await page.get_by_role("link", name="Dashboard").click()
        await page.get_by_role("link", name="Add website").first.click()
        await page.get_by_label("URL").fill(targets.url("/down"))
        await page.get_by_label("Name").fill("Shop")
        await page.get_by_label("Check interval (seconds)").fill("10")
        await page.get_by_role("button", name="Add website").click()
        await page.wait_for_url(re.compile(r".*/websites/[0-9a-f-]{36}$"))
        website_url = page.url
        await page.get_by_role("link", name="Incidents").first.click()
        await page.wait_for_url("**/incidents")
        await _reload_until(page, "span.status", "OPEN")
        item = page.locator("li.incident")
        assert await item.count() == 1
        text = await item.inner_text()
        assert "Shop" in text and "status 503" in text and "so far" in text
        await _shot(page, "incidents", "light")

        async with page.expect_navigation():
            await item.get_by_role("button", name="Acknowledge").click()
        assert page.url == f"{served.base}/incidents"
        assert await page.locator("span.status").all_inner_texts() == ["ACKNOWLEDGED"]
        assert await item.get_by_role("button", name="Acknowledge").count() == 0

        await item.get_by_role("link", name="Shop").click()
        await page.wait_for_url(re.compile(r".*/incidents/[0-9a-f-]{36}$"))
        incident_path = page.url.removeprefix(served.base)
        # The down notification reached the receiver, and the timeline says so.
        await _reload_until(page, "span.delivery", "DELIVERED")
        timeline = await page.locator("ol.timeline").inner_text()
        assert "Opened" in timeline and "Acknowledged by you" in timeline
        assert "DELIVERED to Ops hook" in timeline
        titles = [(r.json or {}).get("title", "") for r in hooks.on("/hook")]
        assert titles.count("DOWN: Shop") == 1
        await _shot(page, "incident", "light")

        async with page.expect_navigation():
            await page.get_by_role("button", name="Resolve").click()
        assert page.url == f"{served.base}{incident_path}"
        assert await page.locator("h1 span.status").inner_text() == "RESOLVED"
        assert "Resolved by you" in await page.locator("ol.timeline").inner_text()
        await _shot(page, "incident-resolved", "light")

        await page.goto(website_url)
        section = page.locator("#incidents")
        assert await section.get_by_role("link", name=re.compile("^Details")).count() == 1
        assert "RESOLVED" in await section.inner_text()
        await _shot(page, "website-incidents", "light")

        await page.goto("/channels")
        await page.get_by_role("link", name="Ops hook", exact=True).click()
        await _reload_until(page, "span.delivery", "DELIVERED")
        await _shot(page, "channel", "light")

        # Forms of ours, sent without our token from another page, change nothing.
        channel_path = page.url.removeprefix(served.base)

        def tests_sent() -> int:
            return [(r.json or {}).get("title") for r in hooks.on("/hook")].count(
                "BetterUptime test notification"
            )

        attacker = await context.new_page()
        problems.watch(attacker)
        for name, action in (
            ("acknowledge", f"{incident_path}/acknowledge"),
            ("test", f"{channel_path}/test"),
        ):
            evil = f"http://127.0.0.1:9/{name}"
            html = (
                f'<form method="post" action="{served.base}{action}">'
                '<button type="submit">Send</button></form>'
            )
            await attacker.route(evil, _answer_with(html))
            await attacker.goto(evil)
            problems.expect_status(action, 403)
            async with attacker.expect_navigation():
                await attacker.get_by_role("button", name="Send").click()
            assert await attacker.get_by_role("heading", name="Form expired").count() == 1
        await attacker.close()
        assert tests_sent() == 1

        # Dark theme and a phone, for review.
        dark = await chromium.new_context(base_url=served.base, color_scheme="dark")
        await dark.add_cookies(await context.cookies())
        dark_page = await dark.new_page()
        problems.watch(dark_page)
        phone = await chromium.new_context(
            base_url=served.base, viewport={"width": 390, "height": 844}, color_scheme="light"
        )
        await phone.add_cookies(await context.cookies())
        phone_page = await phone.new_page()
        problems.watch(phone_page)
        for name, path in (
            ("incidents", "/incidents"),
            ("incident", incident_path),
            ("channels", "/channels"),
            ("channel", channel_path),
        ):
            await dark_page.goto(path)
            await _shot(dark_page, name, "dark")
            await phone_page.goto(path)
            await _shot(phone_page, f"{name}-phone", "light")
        assert await phone_page.evaluate("document.documentElement.scrollWidth") <= 390

        # Delete the channel, after the confirmation page.
        await page.goto(channel_path)
        await page.get_by_role("link", name="Delete").click()
        await _shot(page, "channel-delete", "light")
        await page.get_by_role("button", name="Delete channel").click()
        await page.wait_for_url("**/channels")
        assert await page.locator("ul.channels").count() == 0

        # Log out: the old cookie, replayed by another browser, no longer logs anyone in.
        [old] = [c for c in await context.cookies() if c["name"] == "bu_session"]
        await page.get_by_role("button", name="Log out").click()
        await page.wait_for_url("**/login")
        thief = await chromium.new_context(base_url=served.base)
        await thief.add_cookies([old])
        thief_page = await thief.new_page()
        problems.watch(thief_page)
        await thief_page.goto("/incidents")
        assert thief_page.url.endswith("/login?next=/incidents")
        async with httpx.AsyncClient(base_url=served.base) as client:
            as_bearer = await client.get(
                "/incidents", headers={"Authorization": f"Bearer {old['value']}"}
            )
            assert as_bearer.status_code == 401
            # HEAD answers like GET, without a body, from the real server.
            head = await client.head("/login")
            assert head.status_code == 200 and head.content == b""
            assert int(head.headers["content-length"]) > 0

        for ctx in (context, dark, phone, thief):
            await ctx.close()
    assert problems.messages == [], "\n".join(problems.messages)
