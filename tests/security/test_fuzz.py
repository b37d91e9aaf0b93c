"""Schemathesis against the app's own OpenAPI document, in process, with and without a token.

Fails on any 5xx, any response that does not match its documented schema or headers, any
undocumented status code, and any invalid input that is accepted. Bounded for CI.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.python import asgi

from betteruptime.app import create_app
from tests.api.conftest import PASSWORD, make_settings

# Examples per (operation, token or not, positive or negative data); FUZZ_EXAMPLES raises it.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
# JSON Schema cannot say "timeout_seconds <= interval_seconds" (nor "URL not already
# monitored"), so valid-looking data may rightly get 409/422: don't demand acceptance.
EXCLUDED = [positive_data_acceptance]
# Operations without parameters or a body: nothing about them can be invalid.
NO_INPUT = {"GET /healthz", "GET /status-pages", "GET /channels"}


@dataclass
class Seeded:
    """A registered user, their token and a pool of their websites' ids."""

    client: Any
    token: str
    site_ids: list[str] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def add_site(self) -> None:
        url = f"https://site-{time.monotonic_ns()}.example.com/"
        response = self.client.post("/website", json={"url": url}, headers=self.auth)
        assert response.status_code == 201, response.text
        self.site_ids.append(response.json()["id"])


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Seeded]]:
    """Return the schema of a seeded app on SQLite, and the seeded user."""
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        make_settings(
            tmp,
            f"sqlite:///{tmp / 'fuzz.sqlite'}",
            # The limits have their own tests; here they would only turn cases into 429s.
            login_rate_limit="100000/minute",
            register_rate_limit="100000/minute",
        )
    )
    client = asgi.get_client(app)  # type: ignore[arg-type]  # typed as a plain dict scope
    try:
        with client:  # starts the app's lifespan on schemathesis' event loop thread
            response = client.post(
                "/user/register",
                json={"username": "fuzzer", "email": "fuzzer@example.com", "password": PASSWORD},
            )
            assert response.status_code == 201, response.text
            seeded = Seeded(client, response.json()["token"])
            for _ in range(3):
                seeded.add_site()
            schema = schemathesis.openapi.from_asgi("/openapi.json", app)
            # Unknown query parameters are ignored, as HTTP APIs commonly do (OpenAPI cannot
            # forbid them); the token is the test's to give or withhold, not the fuzzer's.
            schema.config.generation.update(
                allow_extra_parameters=False, with_security_parameters=False
            )
            yield schema, seeded
    finally:
        asgi.shutdown_lifespans()


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("authenticated", [True, False], ids=["token", "no-token"])
def test_every_operation_survives_fuzzing(
    fuzz_app: tuple[Any, Seeded], authenticated: bool, mode: GenerationMode
) -> None:
    schema, seeded = fuzz_app
    operations = _operations(schema)
    assert len(operations) >= 10
    statuses: set[int] = set()
    skipped: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode), real_id=st.booleans())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any, real_id: bool) -> None:
            path_parameters = case.path_parameters or {}
            # Mostly random ids would only ever meet the 404 path: aim half at real rows.
            if authenticated and real_id and "website_id" in path_parameters:
                path_parameters["website_id"] = seeded.site_ids[-1]
            headers = seeded.auth if authenticated else None
            response = case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)
            statuses.add(response.status_code)
            if case.path == "/user/password" and response.status_code == 200:
                seeded.token = response.json()["token"]  # the old one was just revoked
            if case.method == "DELETE" and response.status_code == 204:
                seeded.site_ids.remove(path_parameters["website_id"])
            if len(seeded.site_ids) < 2:
                seeded.add_site()

        try:
            run()
        except Unsatisfiable:
            # Nothing about this operation can be invalid (GET /healthz and GET /channels
            # take no input).
            assert mode is GenerationMode.NEGATIVE, operation.label
            skipped.append(operation.label)
    # Only operations that take no input at all can have no invalid request.
    assert set(skipped) <= NO_INPUT, skipped
    # The run reached real code, not only the auth and validation gates.
    if authenticated and mode is GenerationMode.POSITIVE:
        assert {200, 201, 204, 404, 422} <= statuses, statuses
    if not authenticated:
        assert 401 in statuses
    assert not any(code >= 500 for code in statuses)
