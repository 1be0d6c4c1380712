"""The Python client against a real daphne node: push listeners (sync, async, once, off,
failing), lifecycle isolation, the heartbeat, and a close that leaves nothing behind."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings

import pytest

from realtime.client import ConnectionLost
from tests.client.helpers import FAST, push, url_of
from tests.support.waiting import async_wait_until, within

pytestmark = pytest.mark.e2e


async def test_sync_and_async_listeners_get_pushes(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "push"))
    got: list[tuple[str, object]] = []

    @client.on("news")
    def sync_listener(payload):
        got.append(("sync", payload))

    @client.on("news")
    async def async_listener(payload):
        await asyncio.sleep(0)
        got.append(("async", payload))

    async with client:
        await push(client, "news", {"n": 1})
        await async_wait_until(lambda: len(got) == 2, 2, f"both listeners; got {got}")
    assert got == [("sync", {"n": 1}), ("async", {"n": 1})]


async def test_once_and_off(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "once"))
    got: list[str] = []
    client.once("tick", lambda payload: got.append(f"once {payload}"))
    keep = client.on("tick", lambda payload: got.append(f"on {payload}"))
    removed = client.on("tick", lambda payload: got.append(f"removed {payload}"))
    client.off("tick", removed)
    async with client:
        await push(client, "tick", 1)
        await push(client, "tick", 2)
        await async_wait_until(lambda: len(got) == 3, 2, f"three calls; got {got}")
        assert got == ["once 1", "on 1", "on 2"]
        client.off("tick", keep)
        await push(client, "tick", 3)  # its reply follows the push: listeners already ran
    assert got == ["once 1", "on 1", "on 2"]


async def test_off_without_listener_removes_all(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "offall"))
    got: list[object] = []
    client.on("t", got.append)
    client.on("t", got.append)
    client.off("t")
    async with client:
        await push(client, "t", 1)
        await push(client, "marker", 2)  # pushes arrive in order: "t" was already handled
    assert got == []


async def test_failing_listener_is_logged_and_harmless(demo_node, make_client, caplog):
    client, _ = make_client(url_of(demo_node, "fail"))
    got: list[object] = []

    def broken(payload):
        raise RuntimeError("listener bug")

    async def broken_async(payload):
        raise RuntimeError("async listener bug")

    client.on("x", broken)
    client.on("x", broken_async)
    client.on("x", got.append)
    with caplog.at_level(logging.ERROR, logger="realtime.client"):
        async with client:
            await push(client, "x", 1)
            await async_wait_until(
                lambda: "async listener bug" in caplog.text, 2, "the async failure is logged"
            )
            assert await client.call("echo", 2) == {"echo": 2}
    assert got == [1]
    assert "listener bug" in caplog.text


async def test_wait_for_a_push(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "wf"))
    async with client:
        waiting = asyncio.ensure_future(client.wait_for("hello", timeout=2))
        await push(client, "hello", [1, 2])
        assert await waiting == [1, 2]
        with pytest.raises(TimeoutError):
            await client.wait_for("silence", timeout=0.05)


async def test_pushes_named_like_lifecycle_events_never_reach_lifecycle_listeners(
    scripted_server, make_client
):
    server = await scripted_server(
        [
            '{"event":"open","payload":1}',
            '{"event":"close","payload":[4011,"x"]}',
            '{"event":"pong","payload":1}',
            '{"event":"constructor","payload":"safe in Python"}',
            '{"event":"__proto__"}',
            "not json",
            "[1]",
            b"\x00binary",
            '{"callbackId":"unknown","payload":1}',
            '{"event":"done"}',
        ]
    )
    client, events = make_client(server.url, **FAST)
    pushes: list[tuple[str, object]] = []
    for name in ("constructor", "__proto__", "done"):
        client.on(name, lambda payload, name=name: pushes.append((name, payload)))
    done = asyncio.ensure_future(client.wait_for("done"))  # before the frames can arrive
    await client.connect()
    await within(done, 2, "the last push")
    assert events.names() == ["open"] + ["message"] * 9
    assert pushes == [("constructor", "safe in Python"), ("__proto__", None), ("done", None)]
    assert client.connected


async def test_async_listener_may_close_the_client(demo_node, make_client):
    client, events = make_client(url_of(demo_node, "selfclose"))

    async def close_on_push(payload):
        await client.close()

    client.on("bye", close_on_push)
    await client.connect()
    await client.emit("pushMe", {"event": "bye"})
    await events.until("close")
    await async_wait_until(lambda: client.state == "closed", 2, "the client closed")
    assert events.args("close") == [(4001, "client manual close")]


async def test_close_cancels_async_listeners_after_close_timeout(demo_node, make_client, caplog):
    client, _ = make_client(url_of(demo_node, "stuck"), close_timeout=0.1)
    cancelled = asyncio.Event()

    async def stuck_listener(code, reason):
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    client.on("close", stuck_listener)
    await client.connect()
    with caplog.at_level(logging.WARNING, logger="realtime.client"):
        await within(client.close(), 2, "close() waited for a stuck listener")
    assert cancelled.is_set()
    assert "Cancelling 1 async listener" in caplog.text
    assert asyncio.all_tasks() == {asyncio.current_task()}


# -- heartbeat ------------------------------------------------------------------------------


async def test_heartbeat_reports_latency_in_ms(demo_node, make_client):
    client, events = make_client(url_of(demo_node, "hb"), ping_interval=0.05)
    async with client:
        assert client.latency is None
        await events.until("pong", 3)
        assert client.latency == events.args("pong")[-1][0]
    pongs = [(name, args, at) for name, args, at in events.events if name in ("ping", "pong")]
    assert [name for name, _, _ in pongs[:6]] == ["ping", "pong"] * 3
    latencies = [args[0] for name, args, _ in pongs if name == "pong"]
    assert client.latency is None  # closed
    assert all(isinstance(ms, float) and 0 < ms < 2000 for ms in latencies)
    # The next ping waits ping_interval from the previous pong.
    for (_, _, pong_at), (_, _, ping_at) in zip(pongs[1::2], pongs[2::2], strict=False):
        assert ping_at - pong_at >= 0.05 - 0.002
    # Every echo (an empty text frame) is a message event too.
    assert len(events.args("message")) >= len(latencies)
    assert set(events.args("message")) == {("",)}


async def test_pong_timeout_closes_4002_and_reconnects(demo_node, make_client):
    # The server's heartbeat string is "", so it drops "ping?" as a malformed frame.
    client, events = make_client(
        url_of(demo_node, "pt"),
        ping_msg="ping?",
        ping_interval=0.05,
        pong_timeout=0.1,
        fast_reconnect_interval=0.05,
    )
    await client.connect()
    await events.until("open", 2)
    assert events.names("open", "ping", "pong-timeout", "close", "reconnect")[:6] == [
        "open", "ping", "pong-timeout", "close", "reconnect", "open",
    ]  # fmt: skip
    assert events.args("close")[0] == (4002, "pong timeout")
    assert "pong" not in events.names()


# -- no task left behind ---------------------------------------------------------------------


async def test_close_leaves_no_task_and_no_warning(demo_node, make_client, caplog):
    client, events = make_client(
        url_of(demo_node, "tidy"), ping_interval=0.05, fast_reconnect_interval=0.05
    )
    slow_listener_done = asyncio.Event()

    async def slow_close_listener(code, reason):
        await asyncio.sleep(0.05)
        slow_listener_done.set()

    client.on("close", slow_close_listener)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.ERROR, "asyncio"):
        warnings.simplefilter("always")
        await client.connect()
        await events.until("pong")
        client.reconnect()
        await events.until("open", 2)
        pending = asyncio.ensure_future(client.call("sleep", 5))
        await async_wait_until(lambda: client.pending_calls == 1, 2, "the call is sent")
        await client.close()
        with pytest.raises(ConnectionLost):
            await pending
        assert slow_listener_done.is_set(), "close() waits for async listeners"
        assert asyncio.all_tasks() == {asyncio.current_task()}
        await client.close()  # again: nothing to do
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert "Task was destroyed" not in caplog.text
    assert events.args("close") == [(4001, "client reconnect"), (4001, "client manual close")]
