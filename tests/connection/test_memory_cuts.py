"""The per-connection memory cuts of issue 16 that run in-process: daphne's lean input queue,
shared protocol options and compaction, one auth-deadline timer for all connections, the
scope trimmed after the connect hooks, and RealtimeStack's routes. (The same cuts against a
real daphne process: tests/e2e/test_daphne_memory.py.)"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from types import SimpleNamespace

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from django.urls import re_path

from realtime import on_connect
from realtime.connection import daphne_memory
from realtime.connection.daphne_memory import LeanQueue, compact, lean_protocol_class
from realtime.connection.lifecycle import AuthDeadlines
from realtime.routing import RealtimeStack
from tests.support.waiting import within


class TestLeanQueue:
    async def test_items_come_out_in_order_and_a_reader_waits_for_the_next(self):
        queue = LeanQueue()
        queue.put_nowait(1)
        queue.put_nowait(2)
        assert (queue.qsize(), queue.empty()) == (2, False)
        assert [await queue.get(), await queue.get()] == [1, 2]
        assert queue.empty()
        reader = asyncio.ensure_future(queue.get())
        await asyncio.sleep(0)
        assert not reader.done()
        queue.put_nowait(3)
        assert await within(reader, 1, "the reader was not woken") == 3
        assert queue._items is None and queue._waiter is None, "nothing kept while empty"

    async def test_a_cancelled_reader_leaves_the_queue_usable(self):
        queue = LeanQueue()
        reader = asyncio.ensure_future(queue.get())
        await asyncio.sleep(0)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        queue.put_nowait("next")
        assert await within(queue.get(), 1, "no item") == "next"


class Base:
    CONFIG_ATTRS = ("openHandshakeTimeout", "perMessageCompressionAccept", "maxFramePayloadSize")
    maxFramePayloadSize = 1234  # set on the class (as daphne_fixes does): the class wins


def test_factory_options_become_class_attributes_of_a_subclass():
    def accept(offers):
        return offers

    factory = SimpleNamespace(
        protocol=Base,
        openHandshakeTimeout=5,
        perMessageCompressionAccept=accept,
        maxFramePayloadSize=99,
    )
    lean = lean_protocol_class(factory)
    assert issubclass(lean, Base) and lean.__name__ == "Base"
    instance = lean()
    assert instance.openHandshakeTimeout == 5
    assert instance.perMessageCompressionAccept("x") == "x", "a function stays a plain value"
    assert instance.maxFramePayloadSize == 1234
    assert vars(instance) == {}


class Protocol:
    STATE_OPEN = 3
    wasClean = False
    localCloseCode = None
    send_queue = ()


def test_compaction_drops_handshake_leftovers_and_initial_state():
    protocol = Protocol()
    protocol.__dict__.update(
        {
            "http_headers": {"host": "x"},
            "clean_headers": [(b"host", b"x")],
            "request": SimpleNamespace(path="/ws/", headers={"host": "x"}),
            "send_queue": deque(),
            "wasClean": False,
            "localCloseCode": 4000,  # not the initial value: kept
            "state": 3,
        }
    )
    compact(protocol)
    assert set(vars(protocol)) == {"request", "localCloseCode", "state"}
    assert protocol.request.path == "/ws/"
    assert (protocol.wasClean, protocol.localCloseCode, protocol.send_queue) == (False, 4000, ())
    protocol.wasClean = True  # later assignments work as before
    assert protocol.wasClean is True


def test_a_chopped_send_gets_its_own_queue():
    sent = []

    class Sender(Protocol):
        def sendData(self, data, sync=False, chopsize=None):
            self.send_queue.append(data) if sync else sent.append(data)

    Sender.sendData = daphne_memory._send_data(Sender.sendData)
    one, two = Sender(), Sender()
    one.sendData(b"a")
    one.sendData(b"b", sync=True)
    assert sent == [b"a"] and list(one.send_queue) == [b"b"]
    assert two.send_queue == () and Sender.send_queue == ()


class FakeSocket:
    def __init__(self, bound: bool = False) -> None:
        self.closed = False
        self.user_id = "u" if bound else None
        self.closes: list[tuple[int, str]] = []

    async def close(self, code: int, reason: str = "") -> None:
        self.closes.append((code, reason))
        self.closed = True


async def test_auth_deadlines_share_one_timer_and_close_only_the_unbound():
    deadlines = AuthDeadlines(asyncio.get_running_loop())
    unbound, bound, gone = FakeSocket(), FakeSocket(bound=True), FakeSocket()
    for socket in (unbound, bound, gone):
        deadlines.watch(socket, 0.05)
    first_timer = deadlines._timer
    late = FakeSocket()
    deadlines.watch(late, 30)
    assert deadlines._timer is first_timer, "a later deadline does not re-arm the timer"
    gone.closed = True
    await within(_until(lambda: unbound.closes), 2, "the unbound connection stayed open")
    assert unbound.closes == [(4011, "Authentication timeout")]
    assert bound.closes == [] and gone.closes == [] and late.closes == []
    assert len(deadlines) == 1 and deadlines._timer is not None


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.01)


@pytest.fixture
def seen_headers(handlers):
    seen = []

    @on_connect
    async def look(socket):
        seen.append(list(socket.scope["headers"]))

    return seen


async def test_headers_are_seen_by_connect_hooks_then_emptied(clients, seen_headers):
    client = await clients("/ws/?id=7", headers=[(b"user-agent", b"test")])
    await client.emit("whoami", None, "w")
    await client.json()
    assert seen_headers == [[(b"user-agent", b"test")]]
    assert client.communicator.scope["headers"] == []


@override_settings(REALTIME={"KEEP_HANDSHAKE_HEADERS": True})
async def test_keep_handshake_headers_keeps_them(clients, seen_headers):
    client = await clients("/ws/?id=7", headers=[(b"user-agent", b"test")])
    await client.emit("whoami", None, "w")
    await client.json()
    assert client.communicator.scope["headers"] == [(b"user-agent", b"test")]


async def other_consumer(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": f"other {scope['user'].is_authenticated}"})


async def test_realtime_stack_routes_other_paths_to_the_fallback():
    stack = RealtimeStack(fallback=URLRouter([re_path(r"^other/$", other_consumer)]))
    communicator = WebsocketCommunicator(stack, "/other/")
    accepted, _ = await communicator.connect(timeout=3)
    assert accepted
    assert await communicator.receive_from() == "other False"
    await communicator.disconnect()


async def test_realtime_stack_refuses_unknown_paths_without_a_fallback():
    communicator = WebsocketCommunicator(RealtimeStack(), "/elsewhere/")
    accepted, _ = await communicator.connect(timeout=3)
    assert accepted is False


def test_the_health_log_listens_once_however_often_the_hub_starts():
    # In single-node mode the hub starts the node again for every connection; listening
    # again must not leave a weakref finalizer per signal behind each time.
    from realtime.cluster.health_log import HealthLog

    log = HealthLog("memory-test")
    log.listen(None, None)
    finalizers = len(weakref.finalize._registry)
    for _ in range(5):
        log.listen(None, None)
    assert len(weakref.finalize._registry) == finalizers
    log._disconnect()


async def test_the_rate_limit_is_parsed_once_and_buckets_come_with_the_first_event():
    from realtime.conf import realtime_settings
    from realtime.connection.consumer import RealtimeConsumer
    from realtime.connection.limits import shared_policy

    def rate_policy():
        return shared_policy(realtime_settings.RATE_LIMIT)

    assert rate_policy() is rate_policy() is not None
    with override_settings(REALTIME={"RATE_LIMIT": {"rate": 1.0, "burst": 2}}):
        assert rate_policy().default.burst == 2
    consumer = RealtimeConsumer()
    consumer.policy = rate_policy()
    assert consumer.limiter is None
    assert await consumer._admit(FakeSocket(), "say", None)
    assert consumer.limiter is not None
