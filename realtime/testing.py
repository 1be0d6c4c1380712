"""Test helpers for projects that use realtime, as ``channels.testing`` is for Channels.

* :class:`RealtimeCommunicator` drives a :class:`~realtime.connection.consumer.
  RealtimeConsumer` (or your whole ASGI application) in process and speaks the protocol:
  ``emit``, ``call`` (an event that wants a reply), ``receive_push``, ``closed_with``.
* :func:`in_process_cluster` gives several hubs in one process acting as server nodes over
  one shared in-memory layer: rooms, users, broadcasts and cross-server calls behave as
  across real nodes, without Redis or daphne.
* :class:`PushRecorder` and :func:`attach` put a recording connection on a hub, to assert
  what it was pushed.

Example (pytest with pytest-asyncio)::

    from realtime.connection.handlers import Registry
    from realtime.testing import RealtimeCommunicator, in_process_cluster

    async def test_echo():
        handlers = Registry()

        async def echo(socket, data, ack):
            return data

        handlers.add_event("echo", echo)
        async with in_process_cluster(["a"], handlers=handlers) as [hub]:
            async with RealtimeCommunicator(hub=hub, path="/ws/?id=1") as client:
                assert await client.call("echo", {"x": 1}) == {"x": 1}
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any

from asgiref.typing import ASGIApplication
from channels.layers import InMemoryChannelLayer
from channels.testing import WebsocketCommunicator

from .connection.consumer import RealtimeConsumer
from .connection.handlers import Registry
from .connection.socket import Socket
from .hub import Hub
from .layers import extensions
from .wire.protocol import MISSING, to_json

__all__ = [
    "InProcessLayer",
    "PushRecorder",
    "RealtimeCommunicator",
    "attach",
    "in_process_cluster",
]


class InProcessLayer(InMemoryChannelLayer):
    """An in-memory layer shared by several hubs of one process, recording what it carries.

    It declares itself not process-local, so hubs over it publish to each other as server
    nodes over Redis would.
    """

    extensions = ["groups", "flush", extensions.LOCALITY]
    is_process_local = False

    def __init__(self) -> None:
        super().__init__(capacity=10_000)
        self.group_sends: list[tuple[str, dict[str, Any]]] = []
        self.sends: list[tuple[str, dict[str, Any]]] = []
        self._fanning_out = False

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Record, then send as the in-memory layer does."""
        self.group_sends.append((group, dict(message)))
        # The in-memory layer fans a group send out through send(); do not record those.
        self._fanning_out = True
        try:
            await super().group_send(group, message)
        finally:
            self._fanning_out = False

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """Record, then send as the in-memory layer does."""
        if not self._fanning_out:
            self.sends.append((channel, dict(message)))
        await super().send(channel, message)

    def carried(self, message_type: str) -> list[tuple[str, dict[str, Any]]]:
        """Every group or channel send of ``message_type``."""
        return [(to, m) for to, m in self.group_sends + self.sends if m.get("type") == message_type]


@contextlib.asynccontextmanager
async def in_process_cluster(
    names: Sequence[str],
    handlers: Registry | None = None,
    layer: Any = None,
    health_log: bool = False,
) -> AsyncIterator[list[Hub]]:
    """Hubs named ``names`` as server nodes over one :class:`InProcessLayer` (or ``layer``),
    started and stopped around the block. ``handlers`` defaults to the project's own;
    ``health_log`` writes the nodes' health events to the database (tests with ``db``)."""
    layer = layer if layer is not None else InProcessLayer()
    hubs = [Hub(layer=layer, name=name, handlers=handlers) for name in names]
    for hub in hubs:
        hub.health_log.enabled = health_log
    try:
        for hub in hubs:
            await hub.start_node()
        yield hubs
    finally:
        for hub in hubs:
            await hub.stop()


class PushRecorder:
    """An ASGI ``send`` that records the frames and closes a connection was sent."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.closes: list[tuple[int, str]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        """Record one ASGI send message."""
        if message["type"] == "websocket.send":
            self.frames.append(message["text"])
        elif message["type"] == "websocket.close":
            self.closes.append((message["code"], message.get("reason", "")))

    @property
    def pushes(self) -> list[tuple[str, Any]]:
        """The push frames as (event, payload); payload MISSING where the frame had none."""
        decoded = (json.loads(frame) for frame in self.frames)
        return [(f["event"], f.get("payload", MISSING)) for f in decoded if "event" in f]


async def attach(hub: Hub, user_id: str | None = None) -> tuple[Socket, PushRecorder]:
    """Register a recording connection on ``hub`` (bound to ``user_id`` if given)."""
    recorder = PushRecorder()
    socket = Socket({"type": "websocket", "path": "/ws/", "query_string": b""}, recorder, hub)
    await hub.register(socket)
    if user_id is not None:
        await hub.bind_user(user_id, socket)
    return socket, recorder


class RealtimeCommunicator(WebsocketCommunicator):
    """A ``WebsocketCommunicator`` that speaks the realtime protocol.

    With ``hub`` it drives a bare :class:`RealtimeConsumer` served by that hub (and its
    handlers); with ``application`` it drives your whole ASGI application (middleware,
    routing) served by the running loop's hub. Use it as an async context manager, or call
    :meth:`connect` and :meth:`disconnect`.
    """

    _ids = itertools.count(1)

    def __init__(
        self,
        application: ASGIApplication | Any = None,
        path: str = "/ws/",
        *,
        hub: Hub | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
        client: tuple[str, int] | None = None,
    ) -> None:
        if application is None:
            application = RealtimeConsumer.as_asgi(owner=(lambda: hub) if hub else None)
        super().__init__(application, path, headers=headers)
        if client is not None:
            # The peer address a server would report; read once the application runs.
            self.scope["client"] = list(client)
        self.accepted = False

    async def __aenter__(self) -> RealtimeCommunicator:
        accepted, detail = await self.connect()
        if not accepted:
            raise AssertionError(f"the connection was refused ({detail})")
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.accepted:
            with contextlib.suppress(Exception):
                await self.disconnect()

    async def connect(self, timeout: float = 3) -> tuple[bool, Any]:
        """Open the connection; returns (accepted, subprotocol or close code)."""
        accepted, detail = await super().connect(timeout)
        self.accepted = accepted
        return accepted, detail

    async def emit(
        self, event: str, payload: Any = MISSING, callback_id: str | None = None
    ) -> None:
        """Send an event frame as the JavaScript client does."""
        frame: dict[str, Any] = {"event": event}
        if payload is not MISSING:
            frame["payload"] = payload
        if callback_id is not None:
            frame["callbackId"] = callback_id
        await self.send_to(text_data=to_json(frame))

    async def call(self, event: str, payload: Any = MISSING, timeout: float = 3) -> Any:
        """Emit an event that wants a reply; returns the reply's payload (an error reply's
        ``{"error", "errorCode"}`` included). Pushes that arrive first are skipped."""
        callback_id = f"t{next(self._ids)}"
        await self.emit(event, payload, callback_id)
        while True:
            frame = await self.receive_frame(timeout)
            if frame.get("callbackId") == callback_id:
                return frame.get("payload", MISSING)

    async def receive_frame(self, timeout: float = 3) -> dict[str, Any]:
        """The next text frame, decoded."""
        text = await self.receive_from(timeout)
        assert isinstance(text, str), f"expected a text frame, got {text!r}"
        return json.loads(text)

    async def receive_push(self, timeout: float = 3) -> tuple[str, Any]:
        """The next push as (event, payload); payload MISSING where the frame had none."""
        frame = await self.receive_frame(timeout)
        assert "event" in frame, f"expected a push, got {frame}"
        return frame["event"], frame.get("payload", MISSING)

    async def closed_with(self, timeout: float = 3) -> tuple[int, str]:
        """Wait for the server to close; returns (code, reason)."""
        message = await self.receive_output(timeout)
        assert message["type"] == "websocket.close", f"expected a close, got {message}"
        return message.get("code", 1000), message.get("reason", "")
