"""Logging in and out in a browser: the session cookie, CSRF, shared limits, password change."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from betteruptime.db.models import RevokedToken
from tests.api.conftest import Api, AppFactory
from tests.web.conftest import PASSWORD, Browser, csrf_of, new_browser


async def test_logged_out_dashboard_redirects_to_login(browser: Browser) -> None:
    response = await browser.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    response = await browser.get("/websites/new")
    assert response.headers["location"] == "/login?next=/websites/new"


async def test_login_and_register_forms_have_their_labels(browser: Browser) -> None:
    login = (await browser.get("/login")).text
    for label, field in (("Username", "username"), ("Password", "password")):
        assert f'<label for="f-{field}">{label}</label>' in login
    assert ">Log in</button>" in login
    register = (await browser.get("/register")).text
    for label, field in (("Username", "username"), ("Email", "email"), ("Password", "password")):
        assert f'<label for="f-{field}">{label}</label>' in register
    assert ">Create account</button>" in register


async def test_register_sets_an_httponly_lax_session_cookie(browser: Browser) -> None:
    response = await browser.register("bob")
    assert response.headers["location"] == "/"
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("bu_session="))
    assert "HttpOnly" in session and "SameSite=lax" in session
    assert "Secure" not in session  # PUBLIC_URL is not https here
    dashboard = await browser.get("/")
    assert dashboard.status_code == 200
    assert "Add website" in dashboard.text


async def test_cookies_are_secure_when_the_public_url_is_https(start_api: AppFactory) -> None:
    async with start_api(public_url="https://status.example.com") as api:
        browser = new_browser(api, scheme="https")  # a client sends Secure cookies over https
        page = await browser.get("/login")
        assert "Secure" in page.headers["set-cookie"]
        response = await browser.register("carol")
        session = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("bu_session=")
        )
        assert "Secure" in session


async def test_wrong_password_is_refused_and_right_one_logs_in(browser: Browser, api: Api) -> None:
    await browser.register("dave")
    other = new_browser(api)
    wrong = await other.login("dave", "not the password")
    assert wrong.status_code == 401
    assert "Wrong username or password." in wrong.text
    assert 'value="dave"' in wrong.text  # the name is kept, the password never echoed
    assert "not the password" not in wrong.text
    right = await other.login("dave")
    assert right.status_code == 303 and right.headers["location"] == "/"
    assert (await other.get("/")).status_code == 200


async def test_login_goes_back_to_the_page_asked_for_but_never_off_site(
    browser: Browser, api: Api
) -> None:
    await browser.register("erin")
    fresh = new_browser(api)
    page = await fresh.get("/login?next=/status-pages")
    response = await fresh.post(
        "/login",
        {
            "csrf_token": csrf_of(page.text),
            "username": "erin",
            "password": PASSWORD,
            "next": "/status-pages",
        },
    )
    assert response.headers["location"] == "/status-pages"
    for evil in ("//evil.example", "https://evil.example/", "/\\evil.example"):
        fresh = new_browser(api)
        page = await fresh.get("/login")
        response = await fresh.post(
            "/login",
            {
                "csrf_token": csrf_of(page.text),
                "username": "erin",
                "password": PASSWORD,
                "next": evil,
            },
        )
        assert response.headers["location"] == "/", evil


async def test_a_form_without_a_valid_csrf_token_is_refused(alice: Browser, api: Api) -> None:
    before = await api.snapshot()
    data = {"url": "https://example.com/", "name": "x"}
    for token in (None, "", "0" * 64):
        fields = dict(data) if token is None else {**data, "csrf_token": token}
        response = await alice.post("/websites/new", fields)
        assert response.status_code == 403
        assert "Form expired" in response.text
        assert response.headers["content-type"].startswith("text/html")
    # A token of another visitor (another CSRF cookie and session) does not work either.
    bob = new_browser(api)
    await bob.register("bob")
    theirs = csrf_of((await bob.get("/websites/new")).text)
    response = await alice.post("/websites/new", {**data, "csrf_token": theirs})
    assert response.status_code == 403
    # Nor does logging out without one.
    assert (await alice.post("/logout", {})).status_code == 403
    assert (await alice.get("/")).status_code == 200
    assert await api.snapshot() == before


async def test_logout_ends_the_session(alice: Browser) -> None:
    response = await alice.submit("/logout", form_page="/")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert (await alice.get("/")).status_code == 303


async def test_after_logout_the_old_cookie_is_refused_everywhere(alice: Browser, api: Api) -> None:
    second = new_browser(api)
    assert (await second.login("alice")).status_code == 303
    login = await api.http.post("/user/login", json={"username": "alice", "password": PASSWORD})
    api_token = login.json()["token"]
    old_cookie = alice.http.cookies["bu_session"]
    async with api.session() as session:
        # A revocation whose token has expired since: the next logout sweeps it.
        session.add(RevokedToken(token_id="stale", expires_at=datetime.now(UTC) - timedelta(1)))
        await session.commit()

    assert (await alice.submit("/logout", form_page="/")).status_code == 303

    replay = new_browser(api)
    replay.http.cookies.set("bu_session", old_cookie)
    assert (await replay.get("/")).status_code == 303  # to /login: the cookie is dead
    assert (await replay.get("/account")).headers["location"] == "/login?next=/account"
    as_bearer = await api.http.get("/websites", headers={"Authorization": f"Bearer {old_cookie}"})
    assert as_bearer.status_code == 401
    # Only that session ended: the other browser and the API token still work.
    assert (await second.get("/")).status_code == 200
    mine = await api.http.get("/websites", headers={"Authorization": f"Bearer {api_token}"})
    assert mine.status_code == 200
    async with api.session() as session:
        kept = list(await session.scalars(select(RevokedToken.token_id)))
    assert len(kept) == 1 and kept[0] != "stale"
    # Logging in again gives a new, working session.
    assert (await alice.login("alice")).status_code == 303
    assert (await alice.get("/")).status_code == 200


async def test_password_change_ends_every_other_session(alice: Browser, api: Api) -> None:
    second = new_browser(api)
    assert (await second.login("alice")).status_code == 303
    token = (
        await api.http.post("/user/login", json={"username": "alice", "password": PASSWORD})
    ).json()["token"]
    wrong = await alice.submit(
        "/account/password",
        {"current_password": "nope nope nope", "new_password": "a brand new password"},
        form_page="/account",
    )
    assert wrong.status_code == 403 and "Current password is wrong" in wrong.text
    changed = await alice.submit(
        "/account/password",
        {"current_password": PASSWORD, "new_password": "a brand new password"},
        form_page="/account",
    )
    assert changed.status_code == 200 and "Password changed." in changed.text
    assert (await alice.get("/")).status_code == 200  # this browser stays in
    assert (await second.get("/")).status_code == 303  # the other one is out
    api_answer = await api.http.get("/websites", headers={"Authorization": f"Bearer {token}"})
    assert api_answer.status_code == 401
    assert (await new_browser(api).login("alice", "a brand new password")).status_code == 303


async def test_login_limit_is_shared_with_the_api(start_api: AppFactory) -> None:
    async with start_api(login_rate_limit="3/minute") as api:
        browser = new_browser(api, "198.51.100.7")
        body = {"username": "nobody", "password": "whatever1"}
        transport_api = new_browser(api, "198.51.100.7").http
        for _ in range(2):
            answer = await transport_api.post("/user/login", json=body)
            assert answer.status_code == 401
        third = await browser.login("nobody", "whatever1")
        assert third.status_code == 401  # the third attempt of the minute, through the page
        fourth = await browser.login("nobody", "whatever1")
        assert fourth.status_code == 429
        assert "Too many attempts" in fourth.text
        assert int(fourth.headers["Retry-After"]) >= 1
        assert (await transport_api.post("/user/login", json=body)).status_code == 429


async def test_registration_errors_are_shown_next_to_fields(browser: Browser) -> None:
    response = await browser.submit(
        "/register", {"username": "x", "email": "not-an-email", "password": "short"}
    )
    assert response.status_code == 422
    errors = dict(re.findall(r'<p class="error" id="e-(\w+)">([^<]*)</p>', response.text))
    assert set(errors) == {"username", "email", "password"}
    assert "must be an email address" in errors["email"]
    assert 'value="not-an-email"' in response.text
    assert "short" not in response.text.split("<main>")[1].split('id="f-password"')[1][:80]
