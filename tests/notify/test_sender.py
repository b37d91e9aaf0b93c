"""Sending through Apprise to real local receivers, and the SSRF guard at the socket."""

from __future__ import annotations

import asyncio
import socket
import time

from betteruptime.checks.targets import TargetPolicy
from betteruptime.notify.guard import BlockedTarget, guarded
from betteruptime.notify.sender import Sender, Severity
from tests.checks.servers import RecordingServer
from tests.notify.receivers import mailbox, webhooks
from tests.pipeline.helpers import free_port

ALLOW_LOOPBACK = TargetPolicy(allow_private=True)


def sender(policy: TargetPolicy = ALLOW_LOOPBACK, timeout: float = 5) -> Sender:
    return Sender(policy, timeout=timeout, concurrency=4)


async def test_json_and_form_webhooks_receive_title_body_and_type() -> None:
    async with webhooks() as hooks:
        ok = await sender().send(
            hooks.url("json", "/j"), "Down: shop", "it broke", Severity.FAILURE
        )
        assert ok.ok and ok.error is None and ok.elapsed_ms >= 0
        form = await sender().send(hooks.url("form", "/f"), "Up: shop", "fine", Severity.SUCCESS)
        assert form.ok
    [j] = hooks.on("/j")
    assert (j.json["title"], j.json["message"], j.json["type"]) == (
        "Down: shop",
        "it broke",
        "failure",
    )
    [f] = hooks.on("/f")
    assert (f.form["title"], f.form["message"], f.form["type"]) == ("Up: shop", "fine", "success")


async def test_mailto_reaches_a_real_smtp_server() -> None:
    async with mailbox() as box:
        result = await sender().send(
            box.url("ops@example.com"), "Down: shop", "it broke", Severity.FAILURE
        )
        assert result.ok, result.error
    [message] = box.messages
    assert message["Subject"] == "Down: shop"
    assert message["To"] == "ops@example.com"
    assert "it broke" in message.as_string()


async def test_receiver_error_is_a_failed_attempt_without_secrets() -> None:
    async with webhooks() as hooks:
        hooks.status = 500
        result = await sender().send(
            f"json://user:pa55word@127.0.0.1:{hooks.port}/hooks/T0KEN-abc?k=qu3ry",
            "t",
            "b",
            Severity.FAILURE,
        )
    assert not result.ok
    assert result.error
    for secret in ("pa55word", "T0KEN-abc", "qu3ry"):
        assert secret not in result.error


async def test_dead_port_fails_fast_with_a_connection_error() -> None:
    result = await sender().send(f"json://127.0.0.1:{free_port()}/x", "t", "b", Severity.FAILURE)
    assert not result.ok
    assert "connection" in (result.error or "").lower()


async def test_a_receiver_that_hangs_is_cut_off_at_the_timeout() -> None:
    async with webhooks() as hooks:
        hooks.hold = asyncio.Event()
        started = time.monotonic()
        result = await sender(timeout=1).send(hooks.url(), "t", "b", Severity.FAILURE)
        elapsed = time.monotonic() - started
    assert not result.ok
    assert elapsed < 4
    assert "timed out" in (result.error or "") or "timeout" in (result.error or "").lower()


async def test_guard_refuses_loopback_before_connecting_when_private_targets_are_not_allowed() -> (
    None
):
    listener = await RecordingServer("127.0.0.1").start()
    try:
        url = f"json://127.0.0.1:{listener.port}/hook"
        blocked = await sender(TargetPolicy()).send(url, "t", "b", Severity.FAILURE)
        assert not blocked.ok
        assert blocked.error == "blocked: refused to connect to loopback address 127.0.0.1"
        assert listener.connections == []  # refused before connect(): nothing reached it
        allowed = await sender(ALLOW_LOOPBACK).send(url, "t", "b", Severity.FAILURE)
        assert allowed.ok, allowed.error
        assert len(listener.connections) == 1
    finally:
        await listener.stop()


async def test_guard_refuses_metadata_and_private_addresses_of_every_kind() -> None:
    # 169.254.169.254 and 10.0.0.1 are routed nowhere here; the guard refuses before any
    # packet leaves, even with private targets allowed for the metadata address.
    for url, policy, reason in [
        ("json://169.254.169.254/latest/meta-data", ALLOW_LOOPBACK, "cloud metadata address"),
        ("json://169.254.169.254/latest/meta-data", TargetPolicy(), "cloud metadata address"),
        (
            "mailto://10.0.0.1?from=me@example.com&to=ops@example.com",
            TargetPolicy(),
            "private address 10.0.0.1",
        ),
        ("json://[::ffff:169.254.169.254]/", TargetPolicy(), "metadata address"),
    ]:
        result = await sender(policy).send(url, "t", "b", Severity.FAILURE)
        assert not result.ok
        assert result.error is not None and result.error.startswith("blocked:"), result.error
        assert reason in result.error


async def test_guard_applies_only_inside_its_context() -> None:
    listener = await RecordingServer("127.0.0.1").start()
    try:

        def connect() -> None:
            with socket.create_connection(("127.0.0.1", listener.port), timeout=2):
                pass

        with guarded(TargetPolicy()):
            try:
                await asyncio.to_thread(connect)
            except BlockedTarget as exc:
                assert "loopback" in str(exc)
            else:
                raise AssertionError("connect inside guarded() was not refused")
        await asyncio.to_thread(connect)  # outside: untouched
        await asyncio.sleep(0.05)
        assert len(listener.connections) == 1
    finally:
        await listener.stop()
