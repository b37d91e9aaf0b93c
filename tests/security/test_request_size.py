"""Bodies over MAX_REQUEST_BYTES get a JSON 413, by Content-Length or by counting the stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import uvicorn

from betteruptime.db.models import User, Website
from tests.api.conftest import PASSWORD, AppFactory

LIMIT = 4096


def _padded_register(size: int) -> bytes:
    """Return a valid registration body padded with JSON whitespace to exactly size bytes."""
    body = json.dumps({"username": "alice", "email": "a@example.com", "password": PASSWORD})
    return body.encode() + b" " * (size - len(body))


async def _chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_declared_length_over_the_limit_is_413(start_api: AppFactory) -> None:
    async with start_api(max_request_bytes=LIMIT) as api:
        response = await api.http.post(
            "/user/register",
            content=_padded_register(LIMIT + 1),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json() == {"detail": f"request body is larger than {LIMIT} bytes"}
        assert await api.count(User) == 0


async def test_streamed_body_over_the_limit_is_413(start_api: AppFactory) -> None:
    async with start_api(max_request_bytes=LIMIT) as api:
        owner = await api.make_user("owner")
        # A generator body goes out chunked, with no Content-Length to trust.
        body = json.dumps({"url": "https://example.com/", "name": "x" * 100}).encode()
        response = await owner.post(
            "/website",
            content=_chunks(body[:-1] + b" " * LIMIT + b"}"),
            headers={"Content-Type": "application/json"},
        )
        assert "content-length" not in response.request.headers
        assert response.status_code == 413
        assert response.json()["detail"] == f"request body is larger than {LIMIT} bytes"
        assert await api.count(Website) == 0


async def test_body_at_the_limit_is_served(start_api: AppFactory) -> None:
    async with start_api(max_request_bytes=LIMIT) as api:
        response = await api.http.post(
            "/user/register",
            content=_chunks(_padded_register(LIMIT)),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 201, response.text


async def _start_server(app: object) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, int(port)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_real_server_answers_before_reading_a_huge_body(start_api: AppFactory) -> None:
    # Over TCP through uvicorn: a 10 GB promise is refused at once, and an endless chunked
    # body is cut off after the limit; neither waits for (or buffers) the rest.
    async with start_api(max_request_bytes=LIMIT) as api:
        server, task, port = await _start_server(api.app)
        try:
            declared = (
                b"POST /user/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 10000000000\r\n\r\n{"
            )
            async with asyncio.timeout(5):
                status, body = await _exchange(port, declared, endless=False)
            assert status == 413 and b"larger than" in body

            chunked = (
                b"POST /user/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            async with asyncio.timeout(5):
                status, body = await _exchange(port, chunked, endless=True)
            assert status == 413 and b"larger than" in body
        finally:
            server.should_exit = True
            await task


async def _exchange(port: int, head: bytes, *, endless: bool) -> tuple[int, bytes]:
    """Send head (and, if endless, chunks until the server answers); return status and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    feeder = None
    if endless:

        async def feed() -> None:
            chunk = b"1000\r\n" + b" " * 4096 + b"\r\n"
            while True:
                writer.write(chunk)
                await writer.drain()

        feeder = asyncio.create_task(feed())
    try:
        status_line = await reader.readline()
        headers = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in headers.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        body = await reader.readexactly(length)
    finally:
        if feeder is not None:
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)
        writer.close()
    return int(status_line.split()[1]), body
