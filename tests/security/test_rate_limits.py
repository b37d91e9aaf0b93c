"""Login and registration are limited per client address and per username: 429 + Retry-After."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage

from betteruptime.config import Settings, SettingsError, load_settings
from betteruptime.ratelimit import (
    Action,
    RateLimited,
    RateLimits,
    make_rate_limits,
    redis_storage,
)
from tests.api.conftest import PASSWORD, Api, AppFactory, make_settings


def _from(api: Api, address: str) -> httpx.AsyncClient:
    """Return a client whose requests arrive from the given peer address."""
    transport = httpx.ASGITransport(app=api.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://api")


def _login(username: str, password: str = "wrong password") -> dict[str, str]:  # noqa: S107
    return {"username": username, "password": password}


def _assert_429(response: httpx.Response, window_seconds: int = 60) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window_seconds
    assert "too many attempts" in response.json()["detail"]


async def test_login_is_limited_per_address(start_api: AppFactory) -> None:
    async with start_api(login_rate_limit="3/minute") as api:
        await api.make_user("owner")
        async with _from(api, "198.51.100.1") as attacker, _from(api, "198.51.100.2") as bystander:
            for n in range(3):
                response = await attacker.post("/user/login", json=_login(f"user{n}"))
                assert response.status_code == 401
            _assert_429(await attacker.post("/user/login", json=_login("user9")))
            # Refused before the password is looked at: even the right one is turned away.
            _assert_429(await attacker.post("/user/login", json=_login("owner", PASSWORD)))
            # Another address is not affected.
            response = await bystander.post("/user/login", json=_login("owner", PASSWORD))
            assert response.status_code == 200


async def test_login_is_limited_per_username_across_addresses(start_api: AppFactory) -> None:
    async with start_api(login_rate_limit="3/minute") as api:
        await api.make_user("owner")
        await api.make_user("someone")
        for n in range(3):
            async with _from(api, f"203.0.113.{n + 1}") as client:
                response = await client.post("/user/login", json=_login("owner"))
                assert response.status_code == 401
        async with _from(api, "203.0.113.50") as fresh_address:
            # A distributed guess at one account meets the per-username limit, whatever
            # the casing of the name.
            _assert_429(await fresh_address.post("/user/login", json=_login("OWNER")))
            response = await fresh_address.post("/user/login", json=_login("someone", PASSWORD))
            assert response.status_code == 200


async def test_malformed_login_attempts_count_against_the_address(start_api: AppFactory) -> None:
    async with start_api(login_rate_limit="2/minute") as api, _from(api, "198.51.100.9") as c:
        for _ in range(2):
            assert (await c.post("/user/login", json={"username": "x"})).status_code == 422
        _assert_429(await c.post("/user/login", json=_login("x")))


async def test_register_is_limited_per_address_and_per_username(start_api: AppFactory) -> None:
    async with start_api(register_rate_limit="2/minute") as api:

        def body(name: str) -> dict[str, str]:
            return {"username": name, "email": f"{name}@example.com", "password": PASSWORD}

        async with _from(api, "198.51.100.1") as first:
            assert (await first.post("/user/register", json=body("alice"))).status_code == 201
            assert (await first.post("/user/register", json=body("bob"))).status_code == 201
            _assert_429(await first.post("/user/register", json=body("carol")))
        for n in range(2):
            async with _from(api, f"198.51.100.{n + 10}") as client:
                response = await client.post("/user/register", json=body("dave"))
                assert response.status_code in {201, 409}
        async with _from(api, "198.51.100.20") as client:
            _assert_429(await client.post("/user/register", json=body("Dave")))
            assert (await client.post("/user/register", json=body("erin"))).status_code == 201


async def test_retry_after_reflects_the_window(start_api: AppFactory) -> None:
    async with start_api(login_rate_limit="1/hour") as api, _from(api, "198.51.100.3") as client:
        assert (await client.post("/user/login", json=_login("a"))).status_code == 401
        response = await client.post("/user/login", json=_login("b"))
        _assert_429(response, window_seconds=3600)
        assert int(response.headers["Retry-After"]) > 60


def test_bad_rate_limit_settings_are_refused_with_the_setting_name() -> None:
    for value in ("often", "0/minute", "10/fortnight", ""):
        with pytest.raises(SettingsError, match="LOGIN_RATE_LIMIT"):
            load_settings(login_rate_limit=value, jwt_secret=None)
    with pytest.raises(SettingsError, match="REGISTER_RATE_LIMIT"):
        load_settings(register_rate_limit="5 per eon", jwt_secret=None)
    assert load_settings(login_rate_limit="10/minute;100/hour").login_rate_limit


def test_redis_is_the_store_when_configured(tmp_path: Path) -> None:
    client = aioredis.from_url("redis://127.0.0.1:1/0")
    assert isinstance(make_rate_limits(_settings(tmp_path), client).storage, RedisStorage)
    assert isinstance(make_rate_limits(_settings(tmp_path), None).storage, MemoryStorage)


async def test_limits_are_shared_through_redis_by_every_api_node(
    redis_url: str, redis_prefix: str
) -> None:
    # Two nodes (two limiters, two clients) behind one Redis count attempts together.
    clients = [aioredis.from_url(redis_url) for _ in range(2)]
    rules: dict[Action, list[RateLimitItem]] = {"login": parse_many("3/minute"), "register": []}
    try:
        nodes = [RateLimits(redis_storage(c, key_prefix=redis_prefix), rules) for c in clients]
        ip = f"192.0.2.{uuid.uuid4().int % 200}"
        await nodes[0].hit("login", "ip", ip)
        await nodes[1].hit("login", "ip", ip)
        await nodes[0].hit("login", "ip", ip)
        with pytest.raises(RateLimited) as refused:
            await nodes[1].hit("login", "ip", ip)
        assert 1 <= refused.value.retry_after <= 60
        # The counts live in Redis under the prefix (cleaned up by the fixture).
        assert [key async for key in clients[0].scan_iter(match=f"{redis_prefix}*")]
    finally:
        for client in clients:
            await client.aclose()


async def test_redis_outage_fails_open(tmp_path: Path) -> None:
    # Nothing listens on this port: every storage call fails.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = aioredis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)
    try:
        rate_limits = make_rate_limits(_settings(tmp_path, "1/minute"), client)
        for _ in range(3):
            await rate_limits.hit("login", "ip", "192.0.2.1")  # does not raise
    finally:
        await client.aclose()


def _settings(tmp_path: Path, rate: str = "10/minute") -> Settings:
    return make_settings(tmp_path, f"sqlite:///{tmp_path / 'unused.sqlite'}", login_rate_limit=rate)
