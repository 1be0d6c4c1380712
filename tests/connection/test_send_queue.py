"""A connection's bounded outgoing queue (Socket.pause_sending / resume_sending).

The server integration (daphne_compat, proved against real daphne in tests/e2e) calls these
when the client stops and starts reading; here they are called directly.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import InMemoryChannelLayer
from django.test import override_settings

from realtime.connection.socket import Socket
from realtime.hub import Hub
from realtime.metrics import metrics
from realtime.testing import PushRecorder as Recorder
from realtime.testing import attach as connect
from realtime.wire.codes import SLOW_CLIENT
from tests.support.waiting import async_wait_until


def frame(index: int, size: int = 10) -> dict:
    return {"type": "websocket.send", "text": f"{index:0{size}d}"}


@pytest.fixture
async def hub():
    hub = Hub(layer=InMemoryChannelLayer(), name="queue-test")
    yield hub
    await hub.stop()


@pytest.fixture(autouse=True)
def fresh_metrics():
    metrics.reset()
    yield
    metrics.reset()


async def test_fast_path_sends_directly_and_creates_no_task(hub):
    socket, recorder = await connect(hub)
    tasks_before = asyncio.all_tasks()
    for index in range(1000):
        assert await socket.transmit(frame(index)) is True
    assert len(recorder.frames) == 1000
    assert socket.queued_frames == 0 and socket._backlog is None
    assert asyncio.all_tasks() == tasks_before


async def test_paused_frames_are_held_then_flushed_in_order(hub):
    socket, recorder = await connect(hub)
    await socket.transmit(frame(0))
    socket.pause_sending()
    for index in range(1, 6):
        assert await socket.transmit(frame(index)) is True
    assert recorder.frames == [frame(0)["text"]]
    assert socket.queued_frames == 5 and socket.queued_bytes == 50
    socket.resume_sending()
    await async_wait_until(lambda: len(recorder.frames) == 6, 2, "held frames not flushed")
    assert recorder.frames == [frame(i)["text"] for i in range(6)]
    assert socket._backlog is None, "back on the fast path after draining"
    assert metrics.get("send_pauses") == 1


async def test_frames_sent_while_flushing_keep_their_order(hub):
    socket, recorder = await connect(hub)
    socket.pause_sending()
    for index in range(3):
        await socket.transmit(frame(index))
    socket.resume_sending()  # the flush task has not run yet
    await socket.transmit(frame(3))
    await async_wait_until(lambda: len(recorder.frames) == 4, 2, "frames not flushed")
    assert recorder.frames == [frame(i)["text"] for i in range(4)]


async def test_pausing_again_mid_flush_stops_the_flush(hub):
    recorder = Recorder()
    socket = Socket({"type": "websocket", "path": "/ws/", "query_string": b""}, None, hub)

    async def send(message):
        await recorder(message)
        if len(recorder.frames) == 2:  # the server's buffer filled up again
            socket.pause_sending()

    socket._send = send
    socket.pause_sending()
    for index in range(5):
        await socket.transmit(frame(index))
    socket.resume_sending()
    await async_wait_until(lambda: socket._flusher is None, 2, "flush did not stop")
    assert len(recorder.frames) == 2 and socket.queued_frames == 3
    socket.resume_sending()
    await async_wait_until(lambda: len(recorder.frames) == 5, 2, "rest not flushed")
    assert recorder.frames == [frame(i)["text"] for i in range(5)]


@override_settings(REALTIME={"SEND_QUEUE_MAX_FRAMES": 3, "SEND_QUEUE_MAX_BYTES": None})
async def test_too_many_held_frames_close_4008_and_count(hub):
    slow, slow_recorder = await connect(hub, "slow")
    fast, fast_recorder = await connect(hub, "fast")
    slow.pause_sending()
    for index in range(10):
        await hub.deliver([slow, fast], frame(index)["text"])
    assert len(fast_recorder.frames) == 10, "the fan-out to others went on"
    assert slow_recorder.frames == []
    assert slow_recorder.closes == [tuple(SLOW_CLIENT)]
    assert slow.closed and slow.queued_frames == 0, "held frames freed at once"
    assert metrics.get("slow_client_closes") == 1
    assert metrics.get("dropped_frames") == 4  # the three held and the one that overflowed
    assert await slow.transmit(frame(99)) is False


@override_settings(REALTIME={"SEND_QUEUE_MAX_FRAMES": None, "SEND_QUEUE_MAX_BYTES": 100})
async def test_too_many_held_bytes_close_4008(hub):
    socket, recorder = await connect(hub)
    socket.pause_sending()
    assert await socket.transmit(frame(0, size=60)) is True
    assert await socket.transmit(frame(1, size=40)) is True  # exactly 100: still allowed
    assert await socket.transmit(frame(2, size=1)) is False
    assert recorder.closes == [tuple(SLOW_CLIENT)]


@override_settings(REALTIME={"SEND_QUEUE_MAX_FRAMES": None, "SEND_QUEUE_MAX_BYTES": None})
async def test_no_bounds_never_close(hub):
    socket, recorder = await connect(hub)
    socket.pause_sending()
    for index in range(5000):
        assert await socket.transmit(frame(index))
    assert recorder.closes == [] and socket.queued_frames == 5000


async def test_close_while_held_drops_held_frames_and_closes_at_once(hub):
    socket, recorder = await connect(hub)
    socket.pause_sending()
    await socket.transmit(frame(0))
    await socket.transmit(frame(1))
    await socket.close(4012, "Logged in elsewhere")
    assert recorder.closes == [(4012, "Logged in elsewhere")]
    assert metrics.get("dropped_frames") == 2
    socket.resume_sending()
    await asyncio.sleep(0)
    assert recorder.frames == []


async def test_stop_sending_discards_held_frames(hub):
    socket, _ = await connect(hub)
    socket.pause_sending()
    await socket.transmit(frame(0))
    socket.stop_sending()
    assert socket.queued_frames == 0 and metrics.get("dropped_frames") == 1
    assert await socket.transmit(frame(1)) is False
    assert metrics.get("slow_client_closes") == 0
