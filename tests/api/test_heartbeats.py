"""Heartbeat pings over the API: success, start, failure, exit statuses, silences, unknown keys."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, text, update

from betteruptime.alerting.evaluator import Evaluator, EvaluatorConfig
from betteruptime.alerting.metrics import EvaluatorMetrics
from betteruptime.api.routes.pings import finished, started
from betteruptime.db import partitions
from betteruptime.db.faults import DATABASE_FAULTS
from betteruptime.db.heartbeats import Ping, PingWriter
from betteruptime.db.models import Heartbeat, Incident, IncidentEvent, WebsiteStatus, WebsiteTick
from betteruptime.db.ticks import TickView, all_ticks
from betteruptime.rules.status import Status
from betteruptime.scheduler.heartbeats import record_silences, watch_heartbeats
from tests.api.conftest import Api, AppFactory, Client


async def _heartbeat(owner: Client, **options: Any) -> Any:
    response = await owner.post(
        "/website",
        json={"kind": "heartbeat", "options": options or {"period_seconds": 3600}},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _ticks(api: Api) -> list[TickView]:
    """Return every stored tick, oldest first."""
    async with api.state.engine.connect() as conn:
        rows = await all_ticks(conn)
    return sorted((t for _, t in rows), key=lambda t: t.checked_at)


async def _state(api: Api, website_id: str) -> Heartbeat:
    async with api.session() as session:
        row = await session.scalar(
            select(Heartbeat).where(Heartbeat.website_id == uuid.UUID(website_id))
        )
        assert row is not None
        return row


async def test_a_ping_records_up_and_moves_the_deadline(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    assert beat["interval_seconds"] == 3600  # its period
    before = await _state(api, beat["id"])
    for method in ("GET", "HEAD", "POST"):
        response = await api.anonymous.request(method, f"/ping/{beat['ping_key']}")
        assert response.status_code == 200
    ticks = await _ticks(api)
    assert [(t.region_id, t.status, t.error) for t in ticks] == [("push", Status.UP, None)] * 3
    after = await _state(api, beat["id"])
    assert after.last_ping_at is not None and after.down_at > before.down_at
    assert after.down_at - after.last_ping_at == timedelta(seconds=3600 + 3600)


async def test_a_posted_body_is_kept_up_to_10_kb(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    body = "line\n" * 3000  # 15,000 bytes
    response = await api.anonymous.post(f"/ping/{beat['ping_key']}", content=body)
    assert response.status_code == 200
    kept = (await _state(api, beat["id"])).last_body
    assert kept is not None and len(kept) == 10_240 and body.startswith(kept)


async def test_failures_and_exit_statuses(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    key = beat["ping_key"]
    assert (await api.anonymous.get(f"/ping/{key}/fail")).status_code == 200
    assert (await api.anonymous.post(f"/ping/{key}/3")).status_code == 200
    assert (await api.anonymous.get(f"/ping/{key}/0")).status_code == 200
    assert (await api.anonymous.get(f"/ping/{key}/256")).status_code == 422
    assert (await api.anonymous.get(f"/ping/{key}/-1")).status_code == 422
    errors = [(t.status, t.error) for t in await _ticks(api)]
    assert errors == [
        (Status.DOWN, "heartbeat: failure reported"),
        (Status.DOWN, "heartbeat: exit status 3"),
        (Status.UP, None),
    ]
    assert (await _state(api, beat["id"])).last_exit_status == 0


async def test_run_times_go_from_start_to_success(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    key = beat["ping_key"]
    assert (await api.anonymous.get(f"/ping/{key}/start")).status_code == 200
    started = await _state(api, beat["id"])
    assert started.started_at is not None
    assert started.down_at == started.started_at + timedelta(seconds=3600)
    await asyncio.sleep(0.05)
    assert (await api.anonymous.get(f"/ping/{key}")).status_code == 200
    done = await _state(api, beat["id"])
    assert done.started_at is None
    assert done.last_run_ms is not None and done.last_run_ms >= 50
    (tick,) = await _ticks(api)
    assert tick.response_time_ms == done.last_run_ms


async def test_an_unknown_key_is_404_and_writes_nothing(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    before = await _state(api, beat["id"])
    for path in (
        "/ping/nope",
        "/ping/nope/start",
        "/ping/nope/fail",
        "/ping/nope/0",
        "/ping/" + "x" * 65,
    ):
        response = await api.anonymous.post(path, content="hello")
        assert response.status_code in (404, 422), path
        assert "detail" in response.json()
    assert await _ticks(api) == []
    after = await _state(api, beat["id"])
    assert (after.down_at, after.last_ping_at, after.last_body) == (
        before.down_at,
        before.last_ping_at,
        before.last_body,
    )


async def test_silence_past_the_grace_is_down_once(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner, period_seconds=3600, grace_seconds=600)
    deadline = (await _state(api, beat["id"])).down_at
    engine = api.state.engine
    assert await record_silences(engine, deadline - timedelta(seconds=1)) == 0
    assert await record_silences(engine, deadline + timedelta(seconds=1)) == 1
    assert await record_silences(engine, deadline + timedelta(seconds=2)) == 0
    (tick,) = await _ticks(api)
    assert (tick.region_id, tick.status, tick.error) == (
        "push",
        Status.DOWN,
        "heartbeat: no ping in time",
    )
    # The next ping recovers it, and a later silence is reported again.
    assert (await api.anonymous.get(f"/ping/{beat['ping_key']}")).status_code == 200
    assert (await _state(api, beat["id"])).late is False


async def test_a_start_without_a_finish_is_down_and_says_so(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner, period_seconds=86_400, grace_seconds=600)
    assert (await api.anonymous.get(f"/ping/{beat['ping_key']}/start")).status_code == 200
    deadline = (await _state(api, beat["id"])).down_at
    assert deadline < datetime.now(UTC) + timedelta(seconds=601)
    assert await record_silences(api.state.engine, deadline + timedelta(seconds=1)) == 1
    (tick,) = await _ticks(api)
    assert tick.error == "heartbeat: started but did not finish"


async def test_the_late_loop_reports_in_real_time_and_a_ping_recovers(
    api: Api, owner: Client
) -> None:
    beat = await _heartbeat(owner)
    async with api.session() as session:
        await session.execute(
            update(Heartbeat)
            .where(Heartbeat.website_id == uuid.UUID(beat["id"]))
            .values(down_at=datetime.now(UTC) + timedelta(seconds=0.5))
        )
        await session.commit()
    stop = asyncio.Event()
    loop = asyncio.create_task(watch_heartbeats(api.state.engine, stop, 0.1))
    try:
        for _ in range(100):
            if await _ticks(api):
                break
            await asyncio.sleep(0.05)
        (down,) = await _ticks(api)
        assert down.status is Status.DOWN
        assert (await api.anonymous.get(f"/ping/{beat['ping_key']}")).status_code == 200
    finally:
        stop.set()
        await asyncio.wait_for(loop, 5)
    async with api.session() as session:
        status = await session.scalar(
            select(WebsiteStatus.status).where(WebsiteStatus.website_id == uuid.UUID(beat["id"]))
        )
        count = await session.scalar(select(func.count()).select_from(WebsiteTick))
    assert (status, count) == (Status.UP, 2)


async def test_a_silence_opens_one_incident_and_a_ping_resolves_it(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner, period_seconds=3600, grace_seconds=600)
    website_id = uuid.UUID(beat["id"])
    engine = api.state.engine
    evaluator = Evaluator(engine, EvaluatorConfig(), EvaluatorMetrics(CollectorRegistry()))
    # The deadline has just passed: the late loop's step records the silence.
    async with api.session() as session:
        await session.execute(
            update(Heartbeat)
            .where(Heartbeat.website_id == website_id)
            .values(down_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    assert await record_silences(engine, datetime.now(UTC)) == 1
    # The real evaluator, fed by the queue the tick writer fills, opens at once: a silence
    # is one DOWN tick (the grace is its confirmation), with the default thresholds of 2.
    assert (await evaluator.evaluate_queued()).opened == 1
    # Later rounds (queued or on the clock) keep the one incident; a second scan finds no
    # new silence.
    assert await record_silences(engine, datetime.now(UTC) + timedelta(seconds=5)) == 0
    await evaluator.run_time_rules(datetime.now(UTC))
    assert (await evaluator.evaluate_queued()).opened == 0
    async with api.session() as session:
        incidents = list(await session.scalars(select(Incident)))
        events = list(await session.scalars(select(IncidentEvent)))
    assert [(i.website_id, i.resolved_at) for i in incidents] == [(website_id, None)]
    assert incidents[0].cause["error"] == "heartbeat: no ping in time"
    # The 'opened' event is the outbox row the notifier fans out.
    assert [(e.kind, e.fanned_out_at) for e in events] == [("opened", None)]
    # A ping is a recovery: the next evaluation resolves the incident, once.
    assert (await api.anonymous.get(f"/ping/{beat['ping_key']}")).status_code == 200
    assert (await evaluator.evaluate_queued()).resolved == 1
    await evaluator.run_time_rules(datetime.now(UTC))
    assert (await evaluator.evaluate_queued()).resolved == 0
    async with api.session() as session:
        incidents = list(await session.scalars(select(Incident)))
        kinds = list(await session.scalars(select(IncidentEvent.kind).order_by(IncidentEvent.id)))
    assert len(incidents) == 1 and incidents[0].resolved_at is not None
    assert kinds == ["opened", "resolved"]


# Pings are written in groups (one transaction per batch): the batches must not change
# what each ping means.


async def _ticks_by_website(api: Api) -> dict[str, list[TickView]]:
    async with api.state.engine.connect() as conn:
        rows = await all_ticks(conn)
    found: dict[str, list[TickView]] = {}
    for website_id, tick in rows:
        found.setdefault(str(website_id), []).append(tick)
    return found


async def test_concurrent_pings_of_several_heartbeats_are_each_recorded(
    api: Api, owner: Client
) -> None:
    beats = [await _heartbeat(owner) for _ in range(3)]
    paths = [f"/ping/{b['ping_key']}" for b in beats for _ in range(10)]
    paths += ["/ping/no-such-key"] * 5
    answers = await asyncio.gather(*(api.anonymous.get(path) for path in paths))
    assert [a.status_code for a in answers] == [200] * 30 + [404] * 5
    ticks = await _ticks_by_website(api)
    assert sorted(ticks) == sorted(b["id"] for b in beats)
    for beat in beats:
        mine = ticks[beat["id"]]
        assert [t.status for t in mine] == [Status.UP] * 10
        state = await _state(api, beat["id"])
        assert state.last_ping_at == max(t.checked_at for t in mine)


async def test_a_start_and_its_finish_in_one_batch_keep_the_run_time(
    api: Api, owner: Client
) -> None:
    beat = await _heartbeat(owner)
    key = beat["ping_key"]
    begun = datetime.now(UTC)
    # Submitted together, both land in the same batch (the writer starts after both).
    start, finish, unknown = await asyncio.gather(
        api.state.pings.submit(Ping(key, started(begun))),
        api.state.pings.submit(Ping(key, finished(begun + timedelta(seconds=2), 0, "done"))),
        api.state.pings.submit(Ping("no-such-key", finished(begun, 0, None))),
    )
    assert start is not None and start.started_at == begun
    assert finish is not None and finish.run_ms == 2000
    assert unknown is None
    state = await _state(api, beat["id"])
    assert (state.started_at, state.last_run_ms, state.last_body) == (None, 2000, "done")
    (tick,) = await _ticks(api)
    assert (tick.status, tick.response_time_ms) == (Status.UP, 2000)


async def test_a_nul_in_the_key_or_body_is_no_error(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    assert (await api.anonymous.get("/ping/ab%00cd")).status_code == 404
    response = await api.anonymous.post(f"/ping/{beat['ping_key']}", content=b"a\x00b")
    assert response.status_code == 200
    assert (await _state(api, beat["id"])).last_body == "a\ufffdb"


async def test_bad_ping_requests_get_the_apis_usual_errors(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    key = beat["ping_key"]
    too_long = await api.anonymous.get("/ping/" + "x" * 65)
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["path", "key"]
    status = await api.anonymous.get(f"/ping/{key}/256")
    assert status.status_code == 422
    assert status.json()["detail"][0]["loc"] == ["path", "exit_status"]
    for path in (f"/ping/{key}", f"/ping/{key}/start", f"/ping/{key}/7"):
        wrong = await api.anonymous.request("PUT", path)
        assert wrong.status_code == 405, path
        assert wrong.headers["Allow"] == "GET, HEAD, POST"
    assert await _ticks(api) == []
    # Served pings are counted under their route's template, like every request.
    assert (await api.anonymous.get(f"/ping/{key}/7")).status_code == 200
    metrics = (await api.anonymous.get("/metrics")).text
    assert 'route="/ping/{key}/{exit_status}",status="200"' in metrics
    assert key not in metrics


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_pings_go_on_after_the_writers_connection_is_lost(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    key = beat["ping_key"]
    assert (await api.anonymous.get(f"/ping/{key}")).status_code == 200
    # A database restart as the writer sees it: its idle connection is gone.
    async with api.state.engine.connect() as conn:
        killed = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND state = 'idle'"
            )
        )
    assert killed >= 1
    assert (await api.anonymous.get(f"/ping/{key}")).status_code == 200
    assert len(await _ticks(api)) == 2


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_ping_on_a_day_without_partition_gets_one(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    long_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=400)
    day = partitions.utc_day(long_ago)
    assert day not in {p.day for p in await partitions.list_partitions(api.state.engine)}
    change = await api.state.pings.submit(Ping(beat["ping_key"], finished(long_ago, 0, None)))
    assert change is not None
    (tick,) = await _ticks(api)
    assert tick.checked_at == long_ago
    assert day in {p.day for p in await partitions.list_partitions(api.state.engine)}


async def _wait_for_a_lock_wait(api: Api) -> None:
    """Return once some session of this database waits for a row lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        async with api.state.engine.connect() as conn:
            if await conn.scalar(query):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the ping writer never waited for the lock")


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_heartbeat_changed_after_the_lookup_is_looked_up_again(
    api: Api, owner: Client
) -> None:
    beat = await _heartbeat(owner)
    key, website_id = beat["ping_key"], uuid.UUID(beat["id"])
    begun = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    assert await api.state.pings.submit(Ping(key, started(begun))) is not None
    # Another writer (another API process) records a newer start and holds the row: the
    # ping's lookup reads the old start, its write waits, then finds the row changed.
    restarted = begun + timedelta(minutes=5)
    async with api.state.engine.connect() as other_writer:
        await other_writer.execute(
            update(Heartbeat).where(Heartbeat.website_id == website_id).values(started_at=restarted)
        )
        done_at = restarted + timedelta(seconds=30)
        finish = asyncio.create_task(api.state.pings.submit(Ping(key, finished(done_at, 0, None))))
        await _wait_for_a_lock_wait(api)
        assert not finish.done()
        await other_writer.commit()
    change = await finish
    # The run time is the newer start's, as if the two writes had never overlapped.
    assert change is not None and change.run_ms == 30_000
    state = await _state(api, beat["id"])
    assert (state.started_at, state.last_ping_at, state.last_run_ms) == (None, done_at, 30_000)
    (tick,) = await _ticks(api)
    assert (tick.checked_at, tick.response_time_ms) == (done_at, 30_000)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_heartbeat_deleted_after_the_lookup_is_404_and_writes_nothing(
    api: Api, owner: Client
) -> None:
    beat = await _heartbeat(owner)
    doomed = await _heartbeat(owner)
    async with api.state.engine.connect() as deleting:
        await deleting.execute(text("DELETE FROM website WHERE id = :id"), {"id": doomed["id"]})
        pings = [
            asyncio.create_task(api.state.pings.submit(Ping(b["ping_key"], started(now))))
            for b, now in ((doomed, datetime.now(UTC)), (beat, datetime.now(UTC)))
        ]
        await _wait_for_a_lock_wait(api)
        await deleting.commit()
    gone, kept = await asyncio.gather(*pings)
    assert gone is None and kept is not None
    assert (await _state(api, beat["id"])).started_at == kept.started_at
    async with api.state.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Heartbeat)) == 1


async def _chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_ping_body_over_the_request_limit_is_413_and_writes_nothing(
    start_api: AppFactory,
) -> None:
    limit = 4096
    async with start_api(max_request_bytes=limit) as api:
        owner = await api.make_user("owner")
        beat = await _heartbeat(owner)
        path = f"/ping/{beat['ping_key']}/fail"
        declared = await api.anonymous.post(path, content=b"x" * (limit + 1))
        # A body without Content-Length is counted as it streams in.
        streamed = await api.anonymous.post(path, content=_chunks(b"x" * (limit + 1)))
        assert "content-length" not in streamed.request.headers
        for response in (declared, streamed):
            assert response.status_code == 413
            assert response.json() == {"detail": f"request body is larger than {limit} bytes"}
        assert await _ticks(api) == []
        at_limit = await api.anonymous.post(path, content=b"x" * limit)
        assert at_limit.status_code == 200
        assert (await _state(api, beat["id"])).last_body == "x" * limit
        metrics = (await api.anonymous.get("/metrics")).text
        assert 'route="/ping/{key}/fail",status="413"' in metrics
        assert 'route="/ping/{key}/fail",status="200"' in metrics


async def test_unknown_keys_are_counted_under_the_ping_route(api: Api) -> None:
    for method in ("GET", "HEAD", "POST"):
        response = await api.anonymous.request(method, "/ping/no-such-key/start")
        assert response.status_code == 404
        if method != "HEAD":
            assert response.json() == {"detail": "no heartbeat with this ping key"}
    metrics = (await api.anonymous.get("/metrics")).text
    for method in ("GET", "HEAD", "POST"):
        assert f'method="{method}",route="/ping/{{key}}/start",status="404"' in metrics


# The late loop's claim and its DOWN tick are one transaction: a failed tick write leaves
# the silence unclaimed, for the next scan.


async def _refuse_tick_writes(api: Api, refuse: bool) -> None:
    """Make every tick insert fail (or succeed again), as a database error mid-write would."""
    if api.backend == "postgres":
        statements = (
            [
                "CREATE FUNCTION refuse_tick() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'tick writes are down'; END $$",
                "CREATE TRIGGER refuse_tick BEFORE INSERT ON website_tick "
                "FOR EACH ROW EXECUTE FUNCTION refuse_tick()",
            ]
            if refuse
            else ["DROP TRIGGER refuse_tick ON website_tick", "DROP FUNCTION refuse_tick()"]
        )
    else:
        statements = (
            [
                "CREATE TRIGGER refuse_tick BEFORE INSERT ON website_tick "
                "BEGIN SELECT RAISE(ABORT, 'tick writes are down'); END"
            ]
            if refuse
            else ["DROP TRIGGER refuse_tick"]
        )
    async with api.state.engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def test_a_silence_whose_tick_write_fails_is_reported_once_the_database_is_back(
    api: Api, owner: Client
) -> None:
    beat = await _heartbeat(owner, period_seconds=3600, grace_seconds=600)
    deadline = (await _state(api, beat["id"])).down_at
    engine = api.state.engine
    await _refuse_tick_writes(api, True)
    try:
        with pytest.raises(DATABASE_FAULTS):
            await record_silences(engine, deadline + timedelta(seconds=1))
        # Nothing of the claim is kept: the heartbeat is not marked reported.
        assert (await _state(api, beat["id"])).late is False
        assert await _ticks(api) == []
    finally:
        await _refuse_tick_writes(api, False)
    assert await record_silences(engine, deadline + timedelta(seconds=2)) == 1
    assert await record_silences(engine, deadline + timedelta(seconds=3)) == 0
    (tick,) = await _ticks(api)
    assert (tick.status, tick.scheduled_at, tick.error) == (
        Status.DOWN,
        deadline,
        "heartbeat: no ping in time",
    )
    assert (await _state(api, beat["id"])).late is True
    async with api.session() as session:
        status = await session.scalar(
            select(WebsiteStatus.status).where(WebsiteStatus.website_id == uuid.UUID(beat["id"]))
        )
    assert status is Status.DOWN


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_pings_and_the_late_loop_on_the_same_heartbeats_never_deadlock(
    api: Api, owner: Client
) -> None:
    beats = [await _heartbeat(owner, period_seconds=60, grace_seconds=60) for _ in range(24)]
    # A heartbeat's deadline is 120 s after its last ping, and rounds are 200 s apart: at
    # each round every heartbeat that is not late is overdue. Two late loops scan while
    # one batch (another API process's writer) pings, a moment after the scans' clock:
    # `racing` heartbeats in every round, so scans and pings take the same rows at once
    # and either may commit first; `resting` ones every other round, so in the rounds
    # between, the scans certainly claim them, in the same statements as racing ones.
    racing, resting = beats[::2], beats[1::2]
    engine = api.state.engine
    writer = PingWriter(engine)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=130)
    rounds = 30  # even: the last round pings racing heartbeats only
    claimed = 0
    try:
        for n in range(rounds):
            now = start + timedelta(seconds=200 * n)
            pinged = racing + resting if n % 2 == 0 else racing
            ping_at = now + timedelta(seconds=1)
            pings = [Ping(b["ping_key"], finished(ping_at, 0, None)) for b in pinged]
            first, second, changes = await asyncio.gather(
                record_silences(engine, now),
                record_silences(engine, now),
                writer.record(pings),
            )
            assert all(c is not None for c in changes)
            claimed += first + second
            # A heartbeat pinged in the round is not late, whichever write came first: a
            # scan that read it overdue before the ping does not mark it afterwards.
            async with api.session() as session:
                late = set(
                    await session.scalars(select(Heartbeat.website_id).where(Heartbeat.late))
                )
            assert late == ({uuid.UUID(b["id"]) for b in resting} if n % 2 else set()), n
    finally:
        await writer.aclose()
    # Each resting heartbeat was claimed in each odd round, by one of the two scans.
    assert claimed >= len(resting) * rounds // 2
    last = start + timedelta(seconds=200 * (rounds - 1))
    ticks = await _ticks_by_website(api)
    async with api.session() as session:
        rows = await session.execute(select(WebsiteStatus.website_id, WebsiteStatus.status))
        statuses = {website_id: status for website_id, status in rows}
    downs = 0
    for beat in beats:
        state = await _state(api, beat["id"])
        mine = ticks[beat["id"]]
        down_slots = [t.scheduled_at for t in mine if t.status is Status.DOWN]
        assert len(down_slots) == len(set(down_slots))  # a silence is recorded once
        downs += len(down_slots)
        if beat in racing:
            # Pinged last, after the scans' clock: UP whoever committed first.
            assert (state.late, state.last_ping_at) == (False, last + timedelta(seconds=1))
            assert sum(t.status is Status.UP for t in mine) == rounds
            assert statuses[uuid.UUID(beat["id"])] is Status.UP
        else:
            # Silent since the round before: the last scan reported it, once.
            assert (state.late, state.last_ping_at) == (True, last - timedelta(seconds=199))
            assert sum(t.status is Status.UP for t in mine) == rounds // 2
            assert statuses[uuid.UUID(beat["id"])] is Status.DOWN
            assert mine[-1].status is Status.DOWN and mine[-1].scheduled_at == state.down_at
    # Each claimed silence has exactly its one tick, no more, no fewer.
    assert downs == claimed


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_ping_that_loses_to_other_writers_every_time_is_503_not_500(
    api: Api, owner: Client
) -> None:
    beat = await _heartbeat(owner)
    key = beat["ping_key"]
    # Every write of the heartbeat changes nothing, as if another writer had always moved
    # it between the batch's lookup and its write: the batch looks it up and writes again
    # until it gives up.
    async with api.state.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION skip_update() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RETURN NULL; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER skip_update BEFORE UPDATE ON heartbeat "
                "FOR EACH ROW EXECUTE FUNCTION skip_update()"
            )
        )
    try:
        response = await api.anonymous.get(f"/ping/{key}")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.json() == {"detail": "too many concurrent writes; retry"}
        assert await _ticks(api) == []
    finally:
        async with api.state.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER skip_update ON heartbeat"))
            await conn.execute(text("DROP FUNCTION skip_update()"))
    assert (await api.anonymous.get(f"/ping/{key}")).status_code == 200
    assert len(await _ticks(api)) == 1
