"""The Python client against a real daphne node: call, emit with callbacks, timeouts,
on_pending, error replies and bad input."""

from __future__ import annotations

import asyncio

import pytest

from realtime.client import CallTimeout, NotConnected, ServerError
from realtime.wire.protocol import PayloadNotJSON
from tests.client.helpers import url_of
from tests.support.waiting import within

pytestmark = pytest.mark.e2e


async def test_call_returns_the_reply_payload(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "call"))
    async with client:
        assert await client.call("echo", {"a": [1, "ü"]}) == {"echo": {"a": [1, "ü"]}}
        assert await client.call("say", {"msg": "hi"}) == {
            "msg": "I am a callback for your say event"
        }
        assert client.pending_calls == 0


async def test_error_replies_are_returned_or_raised_on_request(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "err"))
    async with client:
        assert await client.call("nope") == {
            "error": "Unknown event 'nope'",
            "errorCode": "UNKNOWN_EVENT",
        }
        with pytest.raises(ServerError) as error:
            await client.call("crash", raise_server_errors=True)
        assert error.value.error_code == "HANDLER_ERROR"
        assert await client.call("echo", 1, raise_server_errors=True) == {"echo": 1}


async def test_call_timeout(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "slow"))
    async with client:
        with pytest.raises(CallTimeout) as error:
            await client.call("sleep", 2, timeout=0.1)
        assert error.value.error_code == "CALLBACK_TIMEOUT"
        assert client.pending_calls == 0
        assert await client.call("echo", "still fine") == {"echo": "still fine"}


async def test_default_callback_timeout_option(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "slow2"), callback_timeout=0.1)
    async with client:
        with pytest.raises(CallTimeout):
            await client.call("sleep", 2)


async def test_on_pending_fires_once_for_a_slow_reply_only(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "pend"), pending_timeout=0.05)
    pending: list[str] = []
    async with client:
        assert await client.call("echo", 1, on_pending=lambda: pending.append("fast")) == {
            "echo": 1
        }
        # This call outlasts the first one's pending timeout, so "fast" would be there now.
        await client.call("sleep", 0.2, on_pending=lambda: pending.append("slow"))
        assert pending == ["slow"]


async def test_emit_with_callback(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "cb"))
    results: list[tuple[object, object]] = []
    done = asyncio.Event()

    def callback(error, payload):
        results.append((error, payload))
        done.set()

    async with client:
        await client.emit("echo", "x", callback)
        await within(done.wait(), 2, "no callback")
        assert results == [(None, {"echo": "x"})]
        done.clear()
        pendings: list[int] = []
        await client.emit(
            "sleep",
            1,
            callback,
            callback_timeout=0.15,
            pending_timeout=0.05,
            on_pending=lambda: pendings.append(1),
        )
        await within(done.wait(), 2, "no timeout callback")
        error, payload = results[1]
        assert isinstance(error, CallTimeout) and payload is None
        assert error.to_dict()["errorCode"] == "CALLBACK_TIMEOUT"
        assert pendings == [1]
    results.clear()
    await client.emit("echo", "x", callback)  # closed: the callback runs at once
    assert len(results) == 1 and isinstance(results[0][0], NotConnected)
    assert results[0][0].error_code == "WS_NOT_OPEN"


async def test_async_callback_is_awaited(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "acb"))
    got = asyncio.get_running_loop().create_future()

    async def callback(error, payload):
        await asyncio.sleep(0)
        got.set_result(payload)

    async with client:
        await client.emit("echo", 5, callback)
        assert await within(got, 2, "no callback") == {"echo": 5}


async def test_not_connected_and_bad_input(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "bad"))
    with pytest.raises(NotConnected):
        await client.call("echo", 1)
    with pytest.raises(NotConnected):
        await client.emit("echo", 1)
    async with client:
        with pytest.raises(PayloadNotJSON):
            await client.call("echo", float("inf"))
        with pytest.raises(ValueError, match="non-empty string"):
            await client.emit("", 1)
        with pytest.raises(ValueError, match="timeout must be"):
            await client.call("echo", 1, timeout=0)
        with pytest.raises(ValueError, match="need a callback"):
            await client.emit("echo", 1, on_pending=print)
        assert client.pending_calls == 0
        assert await client.call("echo", "ok") == {"echo": "ok"}
