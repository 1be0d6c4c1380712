"""The usual Channels way, as the baseline of the fan-out benchmark.

A plain ``AsyncWebsocketConsumer`` speaking the subset of protocol v1 the benchmark uses:
the empty heartbeat (echoed), ``joinRoom`` ``{roomId}``, ``command`` ``{action: "toRoom",
roomId, msg}`` (pushes ``say`` to the room) and ``echo``, each answered when the frame
carries a ``callbackId``. Rooms are Channels groups: one ``group_add`` per consumer and one
``group_send`` per room message, which the layer turns into one message per member consumer;
each consumer's handler encodes its own JSON frame. Nothing here is tuned: it is what the
Channels documentation teaches.

Serve it with ``daphne benchmarks.baseline:application`` under ``benchmarks.settings``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from realtime.connection.origin import AllowedHostsOriginValidator  # noqa: E402

HEARTBEAT = ""


def _group(room: Any) -> str:
    return f"chat_{room}"


def _encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


class BaselineConsumer(AsyncWebsocketConsumer):
    """One connection, one layer channel, rooms as Channels groups."""

    async def connect(self) -> None:
        """Accept every connection (the benchmark's clients pass ``?id=``)."""
        self.rooms: set[str] = set()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        """Leave the groups joined."""
        for group in self.rooms:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Dispatch one client frame."""
        if text_data is None:
            return
        if text_data == HEARTBEAT:
            await self.send(text_data=HEARTBEAT)
            return
        frame = json.loads(text_data)
        event, data = frame.get("event"), frame.get("payload")
        payload = data if isinstance(data, dict) else {}
        if event == "joinRoom":
            group = _group(payload.get("roomId", "1000"))
            await self.channel_layer.group_add(group, self.channel_name)
            self.rooms.add(group)
            reply: Any = {"msg": f"Successfully joined the roomId:{payload.get('roomId')}"}
        elif event == "command" and payload.get("action") == "toRoom":
            push = {"action": "toRoom", "msg": payload.get("msg")}
            await self.channel_layer.group_send(
                _group(payload["roomId"]), {"type": "room.say", "payload": push}
            )
            reply = {"msg": "Message sent successfully [action:toRoom] "}
        elif event == "echo":
            reply = {"echo": data}
        else:
            reply = {"error": f"Unknown event {event!r}", "errorCode": "UNKNOWN_EVENT"}
        if frame.get("callbackId"):
            await self.send(
                text_data=_encode({"payload": reply, "callbackId": frame["callbackId"]})
            )

    async def room_say(self, message: dict[str, Any]) -> None:
        """A room message from the layer: encode it for this client and send it."""
        await self.send(text_data=_encode({"event": "say", "payload": message["payload"]}))


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([re_path(r"^ws(?:/|$)", BaselineConsumer.as_asgi())]))
        ),
    }
)
