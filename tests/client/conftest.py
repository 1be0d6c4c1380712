"""Fixtures of the Python client tests: clients closed after each test, misbehaving servers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed

from realtime.client import LIFECYCLE_EVENTS, RealtimeClient
from tests.support.processes import DaphneNode
from tests.support.waiting import async_wait_until


@dataclass
class Recorder:
    """Every lifecycle event of a client, with its arguments and loop time."""

    events: list[tuple[str, tuple[Any, ...], float]] = field(default_factory=list)

    def attach(self, client: RealtimeClient) -> Recorder:
        for name in sorted(LIFECYCLE_EVENTS):
            client.on(name, self._recorder(name))
        return self

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.events.append((name, args, time.monotonic()))

        return record

    def names(self, *wanted: str) -> list[str]:
        """The names of the recorded events, only ``wanted`` ones when given."""
        return [name for name, _, _ in self.events if not wanted or name in wanted]

    def args(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of every ``name`` event."""
        return [args for event, args, _ in self.events if event == name]

    async def until(self, name: str, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``name`` was recorded ``count`` times."""
        await async_wait_until(
            lambda: len(self.args(name)) >= count,
            timeout,
            f"{count} {name!r} event(s); got {self.names()}",
        )


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., tuple[RealtimeClient, Recorder]]]:
    """A factory of clients with a recorder each; every client is closed after the test."""
    made: list[RealtimeClient] = []

    def factory(url: str, **options: Any) -> tuple[RealtimeClient, Recorder]:
        client = RealtimeClient(url, **options)
        made.append(client)
        return client, Recorder().attach(client)

    yield factory
    for client in made:
        await client.close()


@pytest.fixture
def fresh_node() -> Iterator[DaphneNode]:
    """A daphne node of this test alone, to stop, kill and restart."""
    node = DaphneNode(server_name="client-test-node")
    node.start()
    yield node
    node.cleanup()


@dataclass
class ScriptedServer:
    """A raw WebSocket server that sends scripted frames and records what it receives."""

    port: int
    received: list[str | bytes] = field(default_factory=list)
    headers: list[Headers] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"


@pytest.fixture
async def scripted_server() -> AsyncIterator[Callable[..., Any]]:
    """Start a WebSocket server that sends ``frames`` on connect and never echoes heartbeats."""
    servers = []

    async def start(frames: list[str | bytes] = ()) -> ScriptedServer:
        async def handler(ws: ServerConnection) -> None:
            state.headers.append(ws.request.headers)
            with contextlib.suppress(ConnectionClosed):  # clients close with 4001
                for frame in frames:
                    await ws.send(frame)
                async for message in ws:
                    state.received.append(message)

        server = await serve(handler, "127.0.0.1", 0)
        servers.append(server)
        state = ScriptedServer(server.sockets[0].getsockname()[1])
        return state

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@dataclass
class HangingListener:
    """A TCP listener that accepts connections and never answers the WebSocket handshake."""

    port: int
    accepted: int = 0
    closed: int = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"


@pytest.fixture
async def hanging_listener() -> AsyncIterator[HangingListener]:
    """A listener whose connections hang in the handshake until the client gives up."""
    writers: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.accepted += 1
        writers.append(writer)
        while await reader.read(4096):  # read the handshake request, answer nothing
            pass
        state.closed += 1
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    state = HangingListener(server.sockets[0].getsockname()[1])
    yield state
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()
