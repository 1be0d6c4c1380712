"""Reliability under daphne (issue 13): a node far behind its backlog stays in its groups,
closes use codes autobahn can send, a closing connection never floods the log."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.cluster import Cluster
from tests.support.processes import DaphneNode
from tests.support.waiting import within

pytestmark = pytest.mark.e2e


@pytest.fixture
def short_expiry_cluster():
    started = Cluster(
        ["a", "b"], redis_count=1, env={"DJANGO_SETTINGS_MODULE": "tests.e2e.short_expiry_settings"}
    ).start()
    yield started
    started.cleanup()


async def test_node_behind_its_backlog_keeps_hearing_other_nodes(short_expiry_cluster):
    cluster = short_expiry_cluster
    await cluster.wait_for_members(["a", "b"], via="a")
    sender = await cluster.client("a", "/ws/?id=1")
    listener = await cluster.client("b", "/ws/?id=2")
    try:
        await sender.call("command", {"action": "broadcast", "msg": "before"})
        await listener.wait_pushes(1)
        # b's reader spends 3 s on one message while the rest of its backlog ages past the
        # layer's 1 s expiry (what a node far behind under load goes through).
        await listener.call("stallNodeReader", 3)
        stall_end = time.monotonic() + 3
        while time.monotonic() < stall_end:
            await sender.call("command", {"action": "broadcast", "msg": "during"})
            await asyncio.sleep(0.2)
        # The backlog is gone; within a few seconds b's client hears a's broadcasts again.
        deadline = time.monotonic() + 8
        while not any(p["payload"]["msg"] == "after" for p in listener.pushes):
            assert time.monotonic() < deadline, (
                f"node b went deaf: {listener.pushes[-3:]}\n{cluster.logs()}"
            )
            await sender.call("command", {"action": "broadcast", "msg": "after"})
            await asyncio.sleep(0.3)
    finally:
        await sender.close()
        await listener.close()


@pytest.fixture(scope="module")
def auth_node():
    server = DaphneNode(
        server_name="auth-errors", env={"DJANGO_SETTINGS_MODULE": "tests.e2e.auth_error_settings"}
    )
    server.start()
    yield server
    server.cleanup()


async def closed_with(url: str) -> tuple[int, str]:
    """The close code and reason the server sends a client that only reads."""
    async with connect(url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await within(ws.recv(), 10, f"{url} was not closed")
    received = closed.value.rcvd
    assert received is not None, "no close frame: the connection was dropped"
    return received.code, received.reason


async def test_raising_auth_hook_closes_with_1011_and_a_reason(auth_node):
    assert await closed_with(auth_node.ws_url("/ws/?token=explode")) == (1011, "Server error")
    # The same connection, as many times: the hook's error is logged (throttled), never
    # daphne's "Exception inside application" from an unsendable close code.
    for _ in range(3):
        assert (await closed_with(auth_node.ws_url("/ws/?token=explode")))[0] == 1011
    assert (await closed_with(auth_node.ws_url("/ws/?token=nope"))) == (4011, "Auth failure")
    log = auth_node.log_path.read_text()
    assert "Authenticating a connection failed" in log
    assert "Exception inside application" not in log and "invalid close code" not in log


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (1009, "Too big", (1009, "Too big")),
        (1000, "", (1000, "")),
        (4321, "x" * 200, (4321, "x" * 123)),
        (1005, "reserved", (1011, "reserved")),
    ],
)
async def test_handler_closes_with_any_sendable_code(auth_node, code, reason, expected):
    url = auth_node.ws_url("/ws/?token=valid-1")
    async with connect(url) as ws:
        frame = {"event": "closeMe", "payload": {"code": code, "reason": reason}}
        await ws.send(json.dumps(frame))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await within(ws.recv(), 10, "not closed")
    received = closed.value.rcvd
    assert received is not None and (received.code, received.reason) == expected
    assert "Exception inside application" not in auth_node.log_path.read_text()


def closing_client(node: DaphneNode, user: str) -> socket.socket:
    """A client that sends the header of an oversize frame and then nothing: the server
    closes with 1009 and waits for a close reply that never comes (state CLOSING)."""
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws/?token=valid-{user} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while not response.endswith(b"\r\n\r\n"):
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    sock.sendall(struct.pack(">BBQ", 0x81, 0x80 | 127, 64 * 1024 * 1024) + os.urandom(4))
    return sock


async def call(ws, event: str, payload) -> dict:
    """Emit with a callback and return the reply frame, skipping pushes."""
    await ws.send(json.dumps({"event": event, "payload": payload, "callbackId": event}))
    while True:
        frame = json.loads(await within(ws.recv(), 10, f"no reply to {event}"))
        if frame.get("callbackId") == event:
            return frame


async def test_pushes_to_closing_connections_do_not_flood_the_log(auth_node):
    log_before = auth_node.log_path.read_text()
    closing = [closing_client(auth_node, f"closing-{n}") for n in range(5)]
    try:
        async with connect(auth_node.ws_url("/ws/?token=valid-pusher"), max_size=None) as ws:
            before = (await call(ws, "stats", None))["payload"]["metrics"]
            # 30 broadcasts while the five connections wait in CLOSING for their close reply.
            reply = await call(ws, "flood", {"count": 30, "size": 10, "to": "all", "paced": 0.01})
            assert reply["payload"] == {"sent": 30}
            after = (await call(ws, "stats", None))["payload"]["metrics"]
    finally:
        for sock in closing:
            sock.close()
    log = auth_node.log_path.read_text()[len(log_before) :]
    assert "Traceback" not in log, log[-3000:]
    # The pushes were not sent, and that shows: counted, not thrown.
    assert after["sends_to_closing"] > before["sends_to_closing"], after


def test_daphne_refuses_to_start_with_a_broken_layer_config():
    # `manage.py check` reports realtime.E005; daphne runs no checks, so without this it
    # served and answered every handshake with HTTP 500 and a traceback each.
    server = DaphneNode(server_name="broken", redis_nodes=["http://127.0.0.1:1/not-redis"])
    try:
        with pytest.raises(RuntimeError, match="exited") as failed:
            server.start(timeout=30)
        assert "realtime.E005: CHANNEL_LAYERS['default']" in str(failed.value)
    finally:
        server.cleanup()


def test_daphne_with_redis_nodes_refuses_the_demo_fallback_key():
    server = DaphneNode(
        server_name="public-key",
        redis_nodes=["redis://127.0.0.1:1/0"],
        env={"DJANGO_SECRET_KEY": ""},
    )
    try:
        with pytest.raises(RuntimeError, match="exited") as failed:
            server.start(timeout=30)
        assert "realtime.E008: CHANNEL_LAYERS['default'] signs" in str(failed.value)
    finally:
        server.cleanup()


async def test_when_busy_wait_slows_the_client_instead_of_refusing():
    # Under daphne the connection is not read while its events wait for a handler slot
    # (Twisted's pauseProducing); every event is answered, none is refused with BUSY.
    server = DaphneNode(
        server_name="busy-wait", env={"DJANGO_SETTINGS_MODULE": "tests.e2e.busy_wait_settings"}
    )
    server.start()
    try:
        async with connect(server.ws_url("/ws/?id=patient")) as ws:
            for index in range(6):
                frame = {"event": "sleep", "payload": 0.2, "callbackId": f"s{index}"}
                await ws.send(json.dumps(frame))
            replies = [json.loads(await within(ws.recv(), 10, "reply")) for _ in range(6)]
        assert sorted(reply["callbackId"] for reply in replies) == [f"s{i}" for i in range(6)]
        assert all(reply["payload"] == {"slept": 0.2} for reply in replies), replies
        assert "Exception" not in server.log_path.read_text()
    finally:
        server.cleanup()
