"""A person's path through the pages, in Chromium: sign up, monitor, publish, and the guards."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.browser.conftest import SCREENSHOTS, Problems, Served
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
