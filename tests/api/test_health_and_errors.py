"""Health probe (200, and 503 never 500 when a dependency is gone) and the JSON error rules."""

from __future__ import annotations

import shutil
import socket
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from betteruptime.app import create_app
from tests.api.conftest import Api, AppFactory, Client, make_settings
from tests.tcp_proxy import TcpProxy


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_healthz_ok(api: Api) -> None:
    response = await api.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "not configured"}


async def test_healthz_checks_redis_when_configured(
    start_api: AppFactory, redis_prefix: str, redis_url: str
) -> None:
    async with start_api(redis_url=redis_url) as api:
        response = await api.http.get("/healthz")
        assert response.status_code == 200
        assert response.json()["redis"] == "ok"


async def test_healthz_is_503_when_redis_is_unreachable(start_api: AppFactory) -> None:
    async with start_api(redis_addr=f"127.0.0.1:{_closed_port()}") as api:
        response = await api.http.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {
            "detail": "unavailable",
            "database": "ok",
            "redis": "unavailable",
        }


async def _assert_database_down(http: httpx.AsyncClient, user: Client) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    assert response.json()["detail"] == "unavailable"
    # An ordinary request says the database is unavailable, not "internal server error".
    listing = await user.get("/websites")
    assert listing.status_code == 503, listing.text
    assert "detail" in listing.json()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_healthz_is_503_when_the_sqlite_file_is_gone(api: Api, owner: Client) -> None:
    assert (await api.http.get("/healthz")).status_code == 200
    path = Path(api.state.engine.url.database or "")
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    # A directory where the file was: SQLite cannot quietly create a new empty database.
    path.mkdir()
    try:
        await _assert_database_down(api.http, owner)
    finally:
        shutil.rmtree(path)


@pytest.mark.postgres
async def test_healthz_is_503_when_postgres_is_unreachable(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    parts = urlsplit(migrated_postgres_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    netloc = f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}"
    proxied = urlunsplit(("postgresql", netloc, parts.path, parts.query, ""))
    app = create_app(make_settings(tmp_path, proxied))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                assert (await http.get("/healthz")).status_code == 200
                register = await http.post(
                    "/user/register",
                    json={"username": "pguser", "email": "pg@example.com", "password": "x" * 8},
                )
                user = Client(http, {"Authorization": f"Bearer {register.json()['token']}"})
                beat = await user.post(
                    "/website", json={"kind": "heartbeat", "options": {"period_seconds": 60}}
                )
                ping = f"/ping/{beat.json()['ping_key']}"
                assert (await http.get(ping)).status_code == 200
                await proxy.close()
                await _assert_database_down(http, user)
                # The ping writer's own connection is gone too: 503, not 500.
                down = await http.get(ping)
                assert down.status_code == 503 and "detail" in down.json()
    finally:
        await proxy.close()


async def test_unknown_path_and_method_are_json(api: Api) -> None:
    missing = await api.http.get("/nope")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    wrong_method = await api.http.put("/websites")
    assert wrong_method.status_code == 405 and "detail" in wrong_method.json()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_unhandled_error_is_a_bare_json_500(api: Api) -> None:
    async def explode() -> None:
        raise RuntimeError("internal-detail-that-must-not-leak")

    api.app.add_api_route("/test-explode", explode)
    response = await api.http.get("/test-explode")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert "internal-detail" not in response.text and "Traceback" not in response.text


async def test_validation_errors_never_echo_input(api: Api) -> None:
    response = await api.http.post(
        "/user/register",
        json={"username": "ok-name", "email": "not-an-email", "password": "pw-secret"},
    )
    assert response.status_code == 422
    assert "not-an-email" not in response.text and "pw-secret" not in response.text
    assert all("input" not in item for item in response.json()["detail"])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_openapi_builds_without_warnings_and_ids_are_unique(api: Api) -> None:
    # FastAPI warns (and clients generated from the document break) when two operations
    # share an id, as a route answering several methods does.
    api.app.openapi_schema = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schema = api.app.openapi()
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert {
        m: schema["paths"]["/ping/{key}"][m]["operationId"] for m in ("get", "head", "post")
    } == {
        "get": "ping_get",
        "head": "ping_head",
        "post": "ping_post",
    }


async def test_docs_and_openapi_are_served(api: Api) -> None:
    assert (await api.http.get("/docs")).status_code == 200
    schema = (await api.http.get("/openapi.json")).json()
    assert schema["info"]["title"] == "BetterUptime"
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


async def test_body_that_is_not_utf8_is_422_not_400(api: Api, owner: Client) -> None:
    for path in ("/user/register", "/user/login", "/user/password", "/website"):
        response = await owner.post(
            path, content=b"\xe9\x9d;T\x80", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, path
        assert response.json()["detail"][0]["type"] == "json_invalid"


async def test_405_lists_every_method_of_the_path(api: Api, owner: Client) -> None:
    response = await owner.request("PUT", f"/website/{uuid.uuid4()}")
    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE, GET, HEAD, PATCH"
    assert response.json() == {"detail": "Method Not Allowed"}


async def test_openapi_states_the_interval_minimum_of_the_settings(
    start_api: AppFactory,
) -> None:
    async with start_api(min_interval_seconds=45, default_interval_seconds=60) as api:
        schemas = (await api.http.get("/openapi.json")).json()["components"]["schemas"]
        for model in ("WebsiteCreate", "WebsiteUpdate"):
            prop = schemas[model]["properties"]["interval_seconds"]
            integer = next(v for v in [prop, *prop.get("anyOf", [])] if v.get("type") == "integer")
            assert integer["minimum"] == 45, model
        # PATCH fields may be omitted but not null, and the document says so.
        for name in ("url", "interval_seconds", "timeout_seconds", "enabled"):
            assert "anyOf" not in schemas["WebsiteUpdate"]["properties"][name], name
