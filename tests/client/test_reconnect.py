"""Reconnection of the Python client: the schedule on the wire, giving up, connecting to a
server that hangs, and a real daphne node killed and restarted under it."""

from __future__ import annotations

import asyncio

import pytest

from realtime.client import ConnectFailed, ConnectionLost
from tests.support.processes import free_port
from tests.support.waiting import async_wait_until, within

pytestmark = pytest.mark.e2e

# Timer slack: asyncio may wake a timer up to its clock resolution early.
SLACK = 0.002


async def test_reconnect_schedule_and_repeat_limit_against_a_dead_port(make_client):
    client, events = make_client(
        f"ws://127.0.0.1:{free_port()}/ws/",
        fast_reconnect_threshold=2,
        fast_reconnect_interval=0.05,
        reconnect_max_interval=0.3,
        repeat_limit=6,
    )
    with pytest.raises(ConnectFailed, match="6 reconnect attempts"):
        await within(client.connect(), 10, "the client did not give up")
    assert client.state == "closed"
    assert events.names("error", "reconnect", "repeat-limit") == [
        *["error", "reconnect"] * 6, "error", "repeat-limit",
    ]  # fmt: skip
    assert all(isinstance(args[0], OSError) for args in events.args("error"))
    assert events.args("repeat-limit") == [(6,)]
    delays = [args[0] for args in events.args("reconnect")]
    assert [d["repeat"] for d in delays] == [1, 2, 3, 4, 5, 6]
    timeouts = [d["timeout"] for d in delays]
    assert timeouts[:2] == [50, 50]
    assert 100 <= timeouts[2] < 150 and 200 <= timeouts[3] < 250
    assert timeouts[4:] == [300, 300]
    # Each attempt waits at least its announced delay after the announcement.
    times = [(name, at) for name, _, at in events.events if name in ("reconnect", "error")]
    for (name, announced), (next_name, attempted), timeout in zip(
        times[1::2], times[2::2], timeouts, strict=True
    ):
        assert (name, next_name) == ("reconnect", "error")
        assert attempted - announced >= timeout / 1000 - SLACK
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_connect_timeout(make_client):
    client, events = make_client(
        f"ws://127.0.0.1:{free_port()}/ws/", fast_reconnect_interval=0.05, connect_timeout=0.3
    )
    with pytest.raises(ConnectFailed, match=r"within 0\.3 s"):
        await client.connect()
    assert client.state == "closed"
    assert events.names("reconnect")  # it did retry meanwhile
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_close_while_connecting_to_a_hanging_server(make_client, hanging_listener):
    client, events = make_client(hanging_listener.url, open_timeout=30)
    connecting = asyncio.ensure_future(client.connect())
    await async_wait_until(lambda: hanging_listener.accepted == 1, 5, "the TCP connection")
    assert client.state == "connecting"
    await within(client.close(), 2, "close() hung on a pending handshake")
    with pytest.raises(ConnectFailed, match="closed"):
        await within(connecting, 2, "connect() was not released")
    await async_wait_until(lambda: hanging_listener.closed == 1, 2, "the socket is closed")
    assert events.names() == []  # never opened, nothing failed: no event
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_reconnect_while_connecting_starts_a_fresh_attempt(make_client, hanging_listener):
    client, events = make_client(hanging_listener.url, open_timeout=30)
    client.reconnect()  # also starts a client that was never started
    await async_wait_until(lambda: hanging_listener.accepted == 1, 5, "the first attempt")
    client.reconnect()
    client.reconnect()  # twice in a row is as safe as once
    await async_wait_until(
        lambda: (hanging_listener.accepted, hanging_listener.closed) == (2, 1),
        5,
        "the first attempt dropped and exactly one new attempt made "
        f"({hanging_listener.accepted} accepted, {hanging_listener.closed} closed)",
    )
    assert client.state == "connecting" and not client.reconnecting
    await client.close()
    await async_wait_until(lambda: hanging_listener.closed == 2, 2, "every socket closed")
    assert events.names() == []


async def test_open_timeout_counts_as_a_failed_attempt(make_client, hanging_listener):
    client, events = make_client(
        hanging_listener.url, open_timeout=0.1, fast_reconnect_interval=0.05, repeat_limit=1
    )
    with pytest.raises(ConnectFailed):
        await within(client.connect(), 5, "the client did not give up")
    assert events.names() == ["error", "reconnect", "error", "repeat-limit"]
    assert all(isinstance(args[0], TimeoutError) for args in events.args("error"))
    assert hanging_listener.accepted == 2


async def test_server_killed_and_restarted(fresh_node, make_client):
    client, events = make_client(
        fresh_node.ws_url(),
        custom_params={"id": "survivor"},
        fast_reconnect_threshold=1,
        fast_reconnect_interval=0.05,
        reconnect_max_interval=0.2,
        callback_timeout=30,
    )
    await client.connect()
    sleeping = asyncio.ensure_future(client.call("sleep", 20))
    await async_wait_until(lambda: client.pending_calls == 1, 2, "the call is sent")

    fresh_node.kill()
    with pytest.raises(ConnectionLost) as lost:
        await within(sleeping, 2, "the pending call was not failed at once")
    assert (lost.value.code, lost.value.error_code) == (1006, "CONNECTION_LOST")
    await events.until("reconnect", 3)
    assert client.reconnecting and not client.connected

    await asyncio.to_thread(fresh_node.start)
    await events.until("open", 2, timeout=10)
    assert not client.reconnecting
    assert await client.call("whoami") == {
        "user": "survivor",
        "params": {"id": "survivor"},
        "path": "ws/",
    }
    assert events.args("close") == [(1006, "")]
    repeats = [args[0]["repeat"] for args in events.args("reconnect")]
    assert repeats == list(range(1, len(repeats) + 1))

    # The attempt counter restarted when the connection opened.
    fresh_node.kill()
    await events.until("reconnect", len(repeats) + 1)
    assert events.args("reconnect")[len(repeats)][0]["repeat"] == 1


async def test_server_stopped_gracefully_and_restarted(fresh_node, make_client):
    client, events = make_client(
        fresh_node.ws_url("/ws/?id=graceful"), fast_reconnect_interval=0.05, callback_timeout=30
    )
    await client.connect()
    sleeping = asyncio.ensure_future(client.call("sleep", 20))
    await async_wait_until(lambda: client.pending_calls == 1, 2, "the call is sent")
    await asyncio.to_thread(fresh_node.stop)
    with pytest.raises(ConnectionLost):
        await within(sleeping, 2, "the pending call was not failed at once")
    await events.until("reconnect")
    await asyncio.to_thread(fresh_node.start)
    await events.until("open", 2, timeout=10)
    assert await client.call("echo", "back") == {"echo": "back"}
    assert events.names("open", "close")[:3] == ["open", "close", "open"]


async def test_reconnect_from_a_close_listener_replaces_the_automatic_one(demo_node, make_client):
    # The original client's documented pattern: reconnect() in the close listener.
    client, events = make_client(demo_node.ws_url("/ws/?id=manual"), fast_reconnect_interval=5)
    client.on("close", lambda code, reason: client.reconnect() if code == 4000 else None)
    await client.connect()
    await client.emit("closeMe", {"code": 4000})
    await events.until("open", 2)  # at once, not after the 5 s delay
    assert events.names("open", "close", "reconnect") == ["open", "close", "open"]
    assert await client.call("echo", 1) == {"echo": 1}
