"""Faults in application code: handlers and lifecycle hooks that raise or hang cost their
own connection at most; the server keeps serving everyone else."""

from __future__ import annotations

import asyncio
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from realtime import on, on_connect, on_disconnect
from realtime.hub import get_hub
from realtime.metrics import metrics
from tests.support.waiting import async_wait_until, within


@pytest.fixture(autouse=True)
def fresh_counters():
    metrics.reset()
    yield
    metrics.reset()


async def answers(client, callback_id: str = "probe") -> bool:
    """True when the connection still answers a demo event."""
    await client.emit("say", None, callback_id)
    reply = await client.json()
    return reply["callbackId"] == callback_id and "msg" in reply["payload"]


class TestHandlers:
    async def test_raising_handler_leaves_everyone_served(self, clients, handlers):
        @on("explode")
        async def explode(socket, data, ack):
            raise RuntimeError("boom")

        victim = await clients("/ws/?id=1")
        other = await clients("/ws/?id=2")
        for index in range(5):
            await victim.emit("explode", None, f"e{index}")
            assert (await victim.json())["payload"]["errorCode"] == "HANDLER_ERROR"
        assert await answers(victim) and await answers(other)
        assert metrics.get("handler_errors") == 5

    async def test_per_event_timeout_overrides_handler_timeout(self, clients, handlers):
        @on("hang", timeout=0.1)
        async def hang(socket, data, ack):
            await asyncio.Event().wait()

        client = await clients()
        other = await clients("/ws/?id=2")
        await client.emit("hang", None, "h")
        reply = await within(client.json(), 2, "the per-event timeout did not fire")
        assert reply["payload"] == {
            "error": "Handler for 'hang' timed out",
            "errorCode": "HANDLER_TIMEOUT",
        }
        assert await answers(other) and await answers(client)
        assert metrics.get("handler_timeouts") == 1

    @override_settings(REALTIME={"HANDLER_TIMEOUT": 0.05})
    async def test_per_event_timeout_none_lifts_the_limit(self, clients, handlers):
        @on("long", timeout=None)
        async def long(socket, data, ack):
            await asyncio.sleep(0.3)
            return "done"

        client = await clients()
        await client.emit("long", None, "l")
        assert (await client.json(timeout=3))["payload"] == "done"

    def test_per_event_timeout_is_validated(self, handlers):
        with pytest.raises(ImproperlyConfigured, match="must be seconds > 0 or None, not 0"):

            @on("bad", timeout=0)
            async def bad(socket, data, ack):
                pass


class TestConnectHooks:
    @override_settings(REALTIME={"CONNECT_TIMEOUT": 0.5})
    async def test_hanging_connect_hook_is_bounded(self, clients, handlers, caplog):
        ran = []
        bystander = await clients("/ws/?id=1")

        @on_connect
        async def stuck(socket):
            if socket.params.get("stuck"):
                await asyncio.Event().wait()

        @on("record")
        async def record(socket, data, ack):
            ran.append(data)

        with caplog.at_level(logging.WARNING, logger="realtime"):
            client = await clients("/ws/?id=2&stuck=1")
            await client.emit("record", "queued while the hook hung")
            assert await client.closed_with(timeout=3) == (1011, "Server error")
        assert "ran past CONNECT_TIMEOUT" in caplog.text
        assert await client.nothing()
        assert ran == [], "no client event ran for a connection whose hooks did not finish"
        assert await answers(bystander)
        assert metrics.get("connect_errors") == 1


class TestDisconnectHooks:
    async def test_raising_disconnect_hook_does_not_stop_the_others(self, clients, handlers):
        later = []

        @on_disconnect
        async def broken(socket):
            raise RuntimeError("disconnect hook bug")

        @on_disconnect
        async def after(socket):
            later.append(socket.params["id"])

        client = await clients("/ws/?id=7")
        other = await clients("/ws/?id=8")
        await client.disconnect()
        assert later == ["7"]
        assert not get_hub().is_connected("7")
        assert metrics.get("hook_errors") == 1
        assert await answers(other)

    @override_settings(REALTIME={"DISCONNECT_TIMEOUT": 0.1})
    async def test_hanging_disconnect_hook_is_cancelled(self, clients, handlers):
        later = []

        @on_disconnect
        async def stuck(socket):
            await asyncio.Event().wait()

        @on_disconnect
        async def after(socket):
            later.append(socket.params["id"])

        client = await clients("/ws/?id=7")
        # The application instance must finish: daphne would otherwise hold it (and its
        # memory) until its own application close timeout.
        await within(client.disconnect(), 2, "the consumer did not finish")
        assert later == ["7"]
        await async_wait_until(lambda: metrics.get("hook_errors") == 1, 2, "not counted")
