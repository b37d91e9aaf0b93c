"""Jobs on the stream: every field survives, and jobs from before kinds decode as HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from betteruptime.queue.base import CheckJob, decode_job, encode_job
from betteruptime.queue.redis_streams import to_delivery
from betteruptime.rules.checks import CheckKind

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
JOB = CheckJob(
    website_id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
    url="https://example.com/health",
    timeout_seconds=2.5,
    interval_seconds=60,
    scheduled_at=NOW,
    deadline=NOW + timedelta(seconds=60),
    kind=CheckKind.HTTP,
)


def test_a_job_round_trips_through_its_stream_fields() -> None:
    fields = encode_job(JOB)
    assert fields["kind"] == "http"
    assert all(isinstance(v, str) for v in fields.values())
    assert decode_job(fields) == JOB


def test_a_job_enqueued_before_kinds_existed_is_an_http_check() -> None:
    fields = encode_job(JOB)
    del fields["kind"]
    assert decode_job(fields).kind is CheckKind.HTTP


@pytest.mark.parametrize("kind", ["", "smtp", "HTTP"])
def test_an_unknown_kind_makes_the_message_malformed(kind: str) -> None:
    fields = {**encode_job(JOB), "kind": kind}
    with pytest.raises(ValueError):
        decode_job(fields)
    delivery = to_delivery("1-0", fields)
    assert delivery.job is None
    assert delivery.malformed is not None


def test_options_travel_with_the_job_and_old_jobs_without_them_still_decode() -> None:
    job = CheckJob(**{**{f: getattr(JOB, f) for f in JOB.__slots__}, "options": '{"port":5}'})
    fields = encode_job(job)
    assert fields["options"] == '{"port":5}'
    assert decode_job(fields).options == '{"port":5}'
    assert "options" not in encode_job(JOB)
    assert decode_job(encode_job(JOB)).options == ""
