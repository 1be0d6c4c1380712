"""The limits against a real daphne process (tests/e2e/hardened_settings.py): Origin,
token authentication refused at the handshake, rate limits, connections per IP, and
slow clients closed through daphne's real write-buffer state."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.processes import DaphneNode
from tests.support.waiting import within

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def node() -> Iterator[DaphneNode]:
    """A daphne node with the limits on (its settings module says which)."""
    server = DaphneNode(
        server_name="hardened-node",
        env={"DJANGO_SETTINGS_MODULE": "tests.e2e.hardened_settings"},
    )
    server.start()
    yield server
    server.cleanup()


def origin(node: DaphneNode) -> str:
    return f"http://127.0.0.1:{node.port}"


def client(node: DaphneNode, user: str, source: int, **kwargs: Any) -> Any:
    """A websockets connection as user ``user`` from 127.0.0.<source> (its own IP count)."""
    kwargs.setdefault("origin", origin(node))
    return connect(
        node.ws_url(f"/ws/?token=valid-{user}"),
        local_addr=(f"127.0.0.{source}", 0),
        **kwargs,
    )


async def call(ws: ClientConnection, event: str, payload: Any = None) -> Any:
    """Emit with a callback and return the reply's payload, skipping pushes."""
    await ws.send(json.dumps({"event": event, "payload": payload, "callbackId": event}))
    while True:
        frame = json.loads(await within(ws.recv(), 10, f"no reply to {event}"))
        if frame.get("callbackId") == event:
            return frame.get("payload")


async def counters(node: DaphneNode) -> dict[str, int]:
    async with client(node, "observer", 250) as ws:
        return (await call(ws, "stats"))["metrics"]


class TestOrigin:
    async def test_foreign_origin_refused(self, node):
        with pytest.raises(InvalidStatus) as refused:
            async with client(node, "1", 10, origin="https://evil.example"):
                pass
        assert refused.value.response.status_code == 403

    async def test_missing_origin_refused_when_required(self, node):
        with pytest.raises(InvalidStatus) as refused:
            async with client(node, "1", 10, origin=None):
                pass
        assert refused.value.response.status_code == 403

    async def test_own_origin_accepted(self, node):
        async with client(node, "1", 10) as ws:
            assert (await call(ws, "whoami"))["user"] == "1"


class TestAuthentication:
    async def test_token_binds_the_user(self, node):
        async with client(node, "alice", 11) as ws:
            assert (await call(ws, "stats"))["user"] == "alice"

    async def test_bad_token_refused_with_403_at_the_handshake(self, node):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(node.ws_url("/ws/?token=forged&id=1"), origin=origin(node)):
                pass
        assert refused.value.response.status_code == 403


async def test_sustained_flood_gets_rate_limited_then_closed_4029(node):
    async with client(node, "flooder", 12) as ws, client(node, "calm", 13) as calm:
        # The burst first, answered: sent together with the rest, the 40 frames may arrive
        # in one read and be refused up to the close before any admitted handler has run
        # (the close then drops their replies).
        for index in range(10):
            await ws.send(json.dumps({"event": "echo", "payload": index, "callbackId": f"{index}"}))
        replies = [json.loads(await within(ws.recv(), 5, "no echo")) for _ in range(10)]
        for index in range(10, 40):
            await ws.send(json.dumps({"event": "echo", "payload": index, "callbackId": f"{index}"}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                replies.append(json.loads(await within(ws.recv(), 5, "no close")))
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4029, "Rate limit exceeded")
        payloads = [reply["payload"] for reply in replies]
        echoed = sorted(payload["echo"] for payload in payloads if "echo" in payload)
        assert echoed == list(range(10)), "the burst of 10 went through, in order of arrival"
        refused = [p for p in payloads if p.get("errorCode") == "RATE_LIMITED"]
        assert refused and len(echoed) + len(refused) == len(payloads)
        assert (await call(calm, "echo", "ok")) == {"echo": "ok"}


async def test_connections_per_ip_limit(node):
    async with contextlib.AsyncExitStack() as stack:
        first = [await stack.enter_async_context(client(node, f"ip{i}", 20)) for i in range(3)]
        with pytest.raises(InvalidStatus) as refused:
            async with client(node, "ip3", 20):
                pass
        assert refused.value.response.status_code == 403
        async with client(node, "elsewhere", 21) as other:
            assert (await call(other, "whoami"))["user"] == "elsewhere"
        await first[0].close()

        async def reconnects() -> bool:
            try:
                async with client(node, "ip4", 20) as again:
                    return (await call(again, "whoami"))["user"] == "ip4"
            except InvalidStatus:
                return False

        for _ in range(50):  # the server frees the slot once it has seen the close
            if await reconnects():
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the slot of a closed connection was not freed")


# -- slow clients ------------------------------------------------------------------------


def raw_connect(node: DaphneNode, user: str, source: int) -> socket.socket:
    """A WebSocket client on a plain socket with a tiny receive buffer, which never reads
    after the handshake unless the test says so."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind((f"127.0.0.{source}", 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", node.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws/?token=valid-{user} HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\nOrigin: {origin(node)}\r\n\r\n".encode()
    )
    response = b""
    while not response.endswith(b"\r\n\r\n"):
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def kernel_send_buffer_max() -> int:
    """The most a TCP socket's send buffer may grow to on this machine (Linux)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as limits:
            return int(limits.read().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 * 1024 * 1024


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server still sends, until it closes (EOF or reset)."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def close_code(data: bytes) -> int | None:
    """The code of the close frame in a stream of unmasked server frames, if it got there."""
    offset = 0
    while offset + 2 <= len(data):
        opcode, length = data[offset] & 0x0F, data[offset + 1] & 0x7F
        offset += 2
        if length == 126:
            length, offset = struct.unpack(">H", data[offset : offset + 2])[0], offset + 2
        elif length == 127:
            length, offset = struct.unpack(">Q", data[offset : offset + 8])[0], offset + 8
        if opcode == 0x8 and offset + 2 <= len(data):
            return struct.unpack(">H", data[offset : offset + 2])[0]
        offset += length
    return None


async def test_client_that_stops_reading_is_closed_and_counted(node):
    before = await counters(node)
    slow = raw_connect(node, "slow", 30)
    try:
        async with client(node, "reader", 31, max_size=None) as reader:
            # 10 MB to every connection, through the hub's fan-out, at most 20 MB/s: the
            # server writes faster than this test's reader reads, and a reader that falls
            # 1 MiB behind what the kernel buffers hold is a slow client too.
            request = {"count": 500, "size": 20_000, "to": "all", "paced": 0.001}
            assert await call(reader, "flood", request) == {"sent": 500}
        after = await counters(node)
        assert after["slow_client_closes"] == before["slow_client_closes"] + 1
        assert after["dropped_frames"] > before["dropped_frames"]
        data = await asyncio.to_thread(read_until_closed, slow)
    finally:
        slow.close()
    # Of the 10 MB pushed, what still reaches the client is what the kernel's socket buffers
    # held (at most tcp_wmem's maximum) plus daphne's write buffer: the server itself kept
    # no more than its bounded queue, and dropped that when it closed the connection.
    assert len(data) < kernel_send_buffer_max() + 1024 * 1024, f"{len(data)} bytes got through"
    # The close frame is there when the client read it within daphne's close-handshake
    # timeout (1 s); after that daphne drops the connection.
    assert close_code(data) in {4008, None}


async def test_client_that_pauses_reading_gets_everything_in_order(node):
    before = await counters(node)
    # Frames that fit in the kernel's socket buffers are written at once; only what they
    # cannot hold reaches daphne's write buffer and the queue. A small receive buffer and
    # a small segment size (the server sizes its send buffer from it: on loopback's 64 kB
    # segments it starts above 1 MB) keep those buffers small.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    sock.bind(("127.0.0.32", 0))
    sock.connect(("127.0.0.1", node.port))
    url = node.ws_url("/ws/?token=valid-pauser")
    async with connect(url, sock=sock, origin=origin(node), max_size=None, max_queue=1) as ws:
        # 40 frames of 20 kB in one burst: more than the socket buffers and daphne's write
        # buffer hold, less than the bounded queue.
        request = {"count": 40, "size": 20_000}
        await ws.send(json.dumps({"event": "flood", "payload": request, "callbackId": "f"}))
        frames = [json.loads(await within(ws.recv(), 10, "frames stopped")) for _ in range(41)]
    assert [frame["payload"]["i"] for frame in frames[:40]] == list(range(40))
    assert frames[40] == {"payload": {"sent": 40}, "callbackId": "f"}
    after = await counters(node)
    assert after["send_pauses"] > before["send_pauses"], "daphne never reported a full buffer"
    assert after["slow_client_closes"] == before["slow_client_closes"]
