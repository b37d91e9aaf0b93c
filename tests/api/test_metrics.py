"""GET /metrics: Prometheus text with request counts and latency by route template."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Api, AppFactory, Client, create_website


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_requests_are_counted_by_route_template(
    api: Api, owner: Client, anonymous: Client
) -> None:
    site = await create_website(owner)
    for _ in range(3):
        assert (await owner.get(f"/website/{site['id']}")).status_code == 200
    assert (await anonymous.get("/websites")).status_code == 401
    assert (await anonymous.get("/no/such/path/12345")).status_code == 404

    response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)

    def count(route: str, method: str, status: str) -> float:
        labels = (("method", method), ("route", route), ("status", status))
        return samples.get(("betteruptime_api_requests_total", labels), 0)

    # The template, not the id: one series per route, however many websites exist.
    assert count("/website/{website_id}", "GET", "200") == 3
    assert count("/website", "POST", "201") == 1
    assert count("/websites", "GET", "401") == 1
    assert count("unmatched", "GET", "404") == 1
    assert site["id"] not in response.text and "no/such/path" not in response.text
    latency = ("betteruptime_api_request_duration_seconds_count",)
    labels = (("method", "GET"), ("route", "/website/{website_id}"))
    assert samples[(*latency, labels)] == 3
    # Process metrics come along from the default registry.
    assert re.search(r"^process_cpu_seconds_total ", response.text, flags=re.MULTILINE)


async def test_metrics_are_not_in_the_openapi_document(api: Api) -> None:
    schema = (await api.http.get("/openapi.json")).json()
    assert "/metrics" not in schema["paths"]


async def test_metrics_token_when_set(start_api: AppFactory) -> None:
    token = "metrics-token-0123456789"
    async with start_api(metrics_token=token) as api:
        assert (await api.http.get("/metrics")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await api.http.get("/metrics", headers=wrong)).status_code == 401
        right = {"Authorization": f"Bearer {token}"}
        response = await api.http.get("/metrics", headers=right)
        assert response.status_code == 200
        assert "betteruptime_api_requests_total" in response.text
