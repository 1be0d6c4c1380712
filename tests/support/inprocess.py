"""Several hubs in one process acting as server nodes over one shared in-memory layer."""

from __future__ import annotations

from typing import Any

from channels.layers import InMemoryChannelLayer

from realtime.connection.socket import Socket
from realtime.hub import Hub


class SharedLayer(InMemoryChannelLayer):
    """The in-memory layer shared by several hubs of one process, recording what it carries."""

    is_process_local = False

    def __init__(self) -> None:
        super().__init__(capacity=10_000)
        self.group_sends: list[tuple[str, dict[str, Any]]] = []
        self.sends: list[tuple[str, dict[str, Any]]] = []
        self._fanning_out = False

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.group_sends.append((group, dict(message)))
        # The in-memory layer fans a group send out through send(); do not record those.
        self._fanning_out = True
        try:
            await super().group_send(group, message)
        finally:
            self._fanning_out = False

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        if not self._fanning_out:
            self.sends.append((channel, dict(message)))
        await super().send(channel, message)

    def carried(self, message_type: str) -> list[tuple[str, dict[str, Any]]]:
        """Every group or channel send of ``message_type``."""
        return [(to, m) for to, m in self.group_sends + self.sends if m.get("type") == message_type]


class Recorder:
    """An ASGI send that records what a connection was sent."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.closes: list[tuple[int, str]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            self.frames.append(message["text"])
        elif message["type"] == "websocket.close":
            self.closes.append((message["code"], message.get("reason", "")))


async def connect(hub: Hub, user_id: str | None = None) -> tuple[Socket, Recorder]:
    """Register a connection on ``hub`` (bound to ``user_id`` if given)."""
    recorder = Recorder()
    socket = Socket({"type": "websocket", "path": "/ws/", "query_string": b""}, recorder, hub)
    await hub.register(socket)
    if user_id is not None:
        await hub.bind_user(user_id, socket)
    return socket, recorder
