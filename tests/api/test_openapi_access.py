"""Walk every operation of /openapi.json: no token is 401, another user's website is 404.

New routes are covered without editing this file; only the public ones are listed here.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, Client, create_website

PUBLIC = {("POST", "/user/register"), ("POST", "/user/login"), ("GET", "/healthz")} | {
    # Heartbeat pings: the secret key in the path is the credential.
    (method, path)
    for method in ("GET", "HEAD", "POST")
    for path in (
        "/ping/{key}",
        "/ping/{key}/start",
        "/ping/{key}/fail",
        "/ping/{key}/{exit_status}",
    )
}
# A valid body for operations that take one, so only the access rule can fail them.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/website"): {"url": "https://new.example.com"},
    ("PATCH", "/website/{website_id}"): {"name": "changed"},
    ("POST", "/user/password"): {
        "current_password": "correct horse battery staple",
        "new_password": "another long password",
    },
}
WEBSITE_ID_ROUTES = {
    ("GET", "/website/{website_id}"),
    ("PATCH", "/website/{website_id}"),
    ("DELETE", "/website/{website_id}"),
    ("GET", "/website/{website_id}/ticks"),
    ("GET", "/status/{website_id}"),
}


async def _operations(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    schema = (await api.http.get("/openapi.json")).json()
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def _takes_website_id(path: str, operation: dict[str, Any]) -> bool:
    params = operation.get("parameters", [])
    return any(p["in"] == "path" and p["name"] == "website_id" for p in params)


async def test_every_non_public_operation_needs_a_token(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    operations = await _operations(api)
    assert {(m, p) for m, p, _ in operations} >= PUBLIC
    checked = 0
    for method, path, operation in operations:
        if (method, path) in PUBLIC:
            assert "security" not in operation, path
            continue
        assert operation.get("security") == [{"HTTPBearer": []}], (method, path)
        assert "401" in operation["responses"], (method, path)
        url = path.replace("{website_id}", site["id"])
        response = await api.anonymous.request(method, url, json=BODIES.get((method, path)))
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        checked += 1
    assert checked >= 7


async def test_every_website_id_operation_is_404_for_another_user(
    api: Api, owner: Client, other: Client
) -> None:
    site = await create_website(owner)
    operations = [
        (method, path)
        for method, path, operation in await _operations(api)
        if _takes_website_id(path, operation)
    ]
    # Every route with a website id is found by the walk (and new ones join it).
    assert set(operations) >= WEBSITE_ID_ROUTES
    snapshot = await api.snapshot()
    for method, path in operations:
        url = path.replace("{website_id}", site["id"])
        response = await other.request(method, url, json=BODIES.get((method, path)))
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "website not found"}
    assert await api.snapshot() == snapshot
    # The control: the owner gets through on every one of them (DELETE last).
    for method, path in sorted(operations, key=lambda op: op[0] == "DELETE"):
        url = path.replace("{website_id}", site["id"])
        response = await owner.request(method, url, json=BODIES.get((method, path)))
        assert response.status_code < 300, (method, path, response.text)


async def test_every_operation_documents_its_error_statuses(api: Api) -> None:
    for method, path, operation in await _operations(api):
        documented = set(operation["responses"])
        if _takes_website_id(path, operation):
            assert {"401", "404", "422"} <= documented, (method, path)
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert "$ref" in schema, (method, path, code)
