"""Every way a bearer token can be wrong gives the same 401 with a Bearer challenge."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from sqlalchemy import delete

from betteruptime.db.models import User
from tests.api.conftest import TEST_JWT_SECRET, Api, Client


def _claims(user_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    now = time.time()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "iat": now,
        "exp": int(now) + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any]) -> str:
    # What an attacker sends to a server that trusts the header's `alg`.
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _bad_tokens(user_id: uuid.UUID) -> dict[str, str]:
    good = _claims(user_id)
    return {
        "expired": jwt.encode(
            _claims(user_id, iat=time.time() - 7200, exp=int(time.time()) - 3600),
            TEST_JWT_SECRET,
            algorithm="HS256",
        ),
        "alg none": _unsigned(good),
        "alg none, empty signature claimed HS256": _unsigned(good).replace(
            _b64({"alg": "none", "typ": "JWT"}), _b64({"alg": "HS256", "typ": "JWT"})
        ),
        "HS512 with the right secret": jwt.encode(good, TEST_JWT_SECRET, algorithm="HS512"),
        "HS384 with the right secret": jwt.encode(good, TEST_JWT_SECRET, algorithm="HS384"),
        "bad signature": jwt.encode(good, "another-secret-" + "y" * 40, algorithm="HS256"),
        "tampered payload": _tamper(jwt.encode(good, TEST_JWT_SECRET, algorithm="HS256")),
        "no exp": jwt.encode(_claims(user_id, exp=None), TEST_JWT_SECRET, algorithm="HS256"),
        "no jti": jwt.encode(_claims(user_id, jti=None), TEST_JWT_SECRET, algorithm="HS256"),
        "sub not a uuid": jwt.encode(
            _claims(user_id, sub="owner"), TEST_JWT_SECRET, algorithm="HS256"
        ),
        "unknown user": jwt.encode(_claims(uuid.uuid4()), TEST_JWT_SECRET, algorithm="HS256"),
        "garbage": "not.a.token",
        "empty-ish": "e30",
    }


def _tamper(token: str) -> str:
    header, _payload, signature = token.split(".")
    forged = _claims(uuid.uuid4())
    return f"{header}.{_b64(forged)}.{signature}"


async def _assert_401(client: Client, headers: dict[str, str]) -> None:
    response = await client.get("/websites", headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert isinstance(response.json()["detail"], str)


async def test_a_valid_token_is_accepted(owner: Client) -> None:
    # The control for every case below.
    assert (await owner.get("/websites")).status_code == 200


async def test_every_bad_token_is_401(api: Api, owner: Client) -> None:
    assert owner.user_id is not None
    for name, token in _bad_tokens(owner.user_id).items():
        response = await api.http.get("/websites", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.headers["WWW-Authenticate"] == "Bearer", name


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic b3duZXI6cGFzc3dvcmQ=", "Token abc", "bearer"],
)
async def test_missing_or_malformed_authorization_is_401(
    api: Api, owner: Client, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    await _assert_401(api.anonymous, headers)


async def test_token_of_a_deleted_user_is_401(api: Api, owner: Client) -> None:
    async with api.session() as session:
        await session.execute(delete(User).where(User.id == owner.user_id))
        await session.commit()
    await _assert_401(owner, {})


async def test_token_issued_before_password_change_is_401(api: Api, owner: Client) -> None:
    # Move the revocation point instead of calling the endpoint (covered in test_users),
    # to show the rule lives in the token check itself.
    async with api.session() as session:
        user = await session.get(User, owner.user_id)
        assert user is not None
        user.tokens_valid_after = datetime.now(UTC)
        await session.commit()
    await _assert_401(owner, {})


async def test_error_bodies_never_echo_the_token(api: Api, owner: Client) -> None:
    token = owner.headers["Authorization"].removeprefix("Bearer ")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = await api.http.get("/websites", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert forged not in response.text and token not in response.text
