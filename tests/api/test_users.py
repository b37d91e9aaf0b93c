"""Register, log in and change password: success, conflicts, bad input, nothing half-written."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from betteruptime.db.models import User
from tests.api.conftest import PASSWORD, Api, Client

GOOD = {"username": "alice", "email": "alice@example.com", "password": "s3cret-enough"}


async def test_register_returns_user_and_a_working_token(api: Api) -> None:
    response = await api.http.post("/user/register", json=GOOD)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "username", "email", "token"}
    assert (body["username"], body["email"]) == ("alice", "alice@example.com")
    me = Client(api.http, {"Authorization": f"Bearer {body['token']}"})
    assert (await me.get("/websites")).status_code == 200
    async with api.session() as session:
        user = await session.get(User, uuid.UUID(body["id"]))
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert GOOD["password"] not in user.password_hash


@pytest.mark.parametrize(
    "duplicate",
    [
        {"username": "alice", "email": "someone-else@example.com"},
        {"username": "bob", "email": "alice@example.com"},
        {"username": "bob", "email": "ALICE@Example.COM"},  # emails compare case-insensitively
    ],
)
async def test_register_duplicate_username_or_email_is_409(
    api: Api, duplicate: dict[str, str]
) -> None:
    assert (await api.http.post("/user/register", json=GOOD)).status_code == 201
    response = await api.http.post("/user/register", json={**GOOD, **duplicate})
    assert response.status_code == 409
    assert "already registered" in response.json()["detail"]
    assert await api.count(User) == 1


async def test_concurrent_duplicate_registrations_give_one_user_and_409s(api: Api) -> None:
    # Both pass the "is it taken?" check; the unique key decides, and the loser gets 409.
    responses = await asyncio.gather(
        *(api.http.post("/user/register", json=GOOD) for _ in range(4))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409, 409, 409]
    assert await api.count(User) == 1


BAD_REGISTRATIONS: list[tuple[str, Any]] = [
    ("password of 7", {**GOOD, "password": "1234567"}),
    ("password of 129", {**GOOD, "password": "x" * 129}),
    ("email without @", {**GOOD, "email": "alice.example.com"}),
    ("email without domain dot", {**GOOD, "email": "alice@localhost"}),
    ("email with space", {**GOOD, "email": "al ice@example.com"}),
    ("username too short", {**GOOD, "username": "al"}),
    ("username too long", {**GOOD, "username": "a" * 65}),
    ("username with space", {**GOOD, "username": "al ice"}),
    ("username with slash", {**GOOD, "username": "al/ice"}),
    ("missing password", {"username": "alice", "email": "alice@example.com"}),
    ("unknown field", {**GOOD, "is_admin": True}),
    ("number as username", {**GOOD, "username": 12345}),
    ("null password", {**GOOD, "password": None}),
    ("list body", [GOOD]),
    ("string body", "alice"),
]


@pytest.mark.parametrize(("case", "body"), BAD_REGISTRATIONS, ids=[c for c, _ in BAD_REGISTRATIONS])
async def test_register_bad_input_is_422_and_creates_nothing(
    api: Api, case: str, body: Any
) -> None:
    response = await api.http.post("/user/register", json=body)
    assert response.status_code == 422, case
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    assert all({"loc", "msg", "type"} == set(item) for item in detail)
    # The offending value is never echoed back: it may be a password.
    assert "1234567" not in response.text and "x" * 129 not in response.text
    assert await api.count(User) == 0


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"username": "alice", "email": ', "application/json"),
        (b"\xff\xfe not utf-8", "application/json"),
        (b"", "application/json"),
        (b"username=alice&password=secret123", "application/x-www-form-urlencoded"),
    ],
)
async def test_register_malformed_body_is_422(api: Api, content: bytes, content_type: str) -> None:
    response = await api.http.post(
        "/user/register", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == 422
    assert "detail" in response.json()
    assert await api.count(User) == 0


async def test_login_returns_a_new_token(api: Api, owner: Client) -> None:
    response = await api.http.post("/user/login", json={"username": "owner", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(owner.user_id) and body["email"] == "owner@example.com"
    me = Client(api.http, {"Authorization": f"Bearer {body['token']}"})
    assert (await me.get("/websites")).status_code == 200


async def test_login_wrong_password_and_unknown_user_look_the_same(api: Api, owner: Client) -> None:
    wrong_password = await api.http.post(
        "/user/login", json={"username": "owner", "password": "not-the-password"}
    )
    unknown_user = await api.http.post(
        "/user/login", json={"username": "nobody", "password": PASSWORD}
    )
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json() == {"detail": "wrong username or password"}
    assert wrong_password.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "body",
    [{"username": "owner"}, {"username": "owner", "password": 5}, {**GOOD}, {}],
)
async def test_login_bad_input_is_422(api: Api, owner: Client, body: dict[str, Any]) -> None:
    assert (await api.http.post("/user/login", json=body)).status_code == 422


async def test_password_change_revokes_older_tokens(api: Api, owner: Client) -> None:
    login = await api.http.post("/user/login", json={"username": "owner", "password": PASSWORD})
    second_token = {"Authorization": f"Bearer {login.json()['token']}"}

    response = await owner.post(
        "/user/password", json={"current_password": PASSWORD, "new_password": "brand-new-pass"}
    )
    assert response.status_code == 200
    fresh = Client(api.http, {"Authorization": f"Bearer {response.json()['token']}"})

    assert (await fresh.get("/websites")).status_code == 200
    for stale in (owner, Client(api.http, second_token)):
        revoked = await stale.get("/websites")
        assert revoked.status_code == 401
        assert revoked.headers["WWW-Authenticate"] == "Bearer"
    old_login = {"username": "owner", "password": PASSWORD}
    new_login = {"username": "owner", "password": "brand-new-pass"}
    assert (await api.http.post("/user/login", json=old_login)).status_code == 401
    relogin = await api.http.post("/user/login", json=new_login)
    assert relogin.status_code == 200
    again = Client(api.http, {"Authorization": f"Bearer {relogin.json()['token']}"})
    assert (await again.get("/websites")).status_code == 200


async def test_password_change_with_wrong_current_password_changes_nothing(
    api: Api, owner: Client
) -> None:
    async with api.session() as session:
        before = await session.get(User, owner.user_id)
    assert before is not None
    response = await owner.post(
        "/user/password", json={"current_password": "wrong-password", "new_password": "abcdefghi"}
    )
    assert response.status_code == 403
    async with api.session() as session:
        after = await session.get(User, owner.user_id)
    assert after is not None
    assert (after.password_hash, after.tokens_valid_after) == (
        before.password_hash,
        before.tokens_valid_after,
    )
    assert (await owner.get("/websites")).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"current_password": PASSWORD, "new_password": "short"},
        {"current_password": PASSWORD, "new_password": "y" * 129},
        {"current_password": PASSWORD},
        {"current_password": PASSWORD, "new_password": "long-enough", "extra": 1},
    ],
)
async def test_password_change_bad_input_is_422_and_keeps_tokens(
    api: Api, owner: Client, body: dict[str, Any]
) -> None:
    assert (await owner.post("/user/password", json=body)).status_code == 422
    assert (await owner.get("/websites")).status_code == 200


async def test_password_change_needs_a_token(api: Api, anonymous: Client) -> None:
    response = await anonymous.post(
        "/user/password", json={"current_password": PASSWORD, "new_password": "long-enough"}
    )
    assert response.status_code == 401
