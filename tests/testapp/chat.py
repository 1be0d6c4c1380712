"""The chat consumer of the Channels tutorial (part 3), unchanged in substance: plain
Channels code that knows nothing of the realtime app, run over its layer in the tests."""

from __future__ import annotations

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer


class ChatConsumer(AsyncWebsocketConsumer):
    """Everyone in ``/ws/chat/<room_name>/`` sees every message sent to that room."""

    async def connect(self) -> None:
        """Join the room's group, then accept."""
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code: int) -> None:
        """Leave the room's group."""
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: Any = None) -> None:
        """A message from this WebSocket: send it to the room's group."""
        message = json.loads(text_data or "{}")["message"]
        await self.channel_layer.group_send(
            self.room_group_name, {"type": "chat.message", "message": message}
        )

    async def chat_message(self, event: dict[str, Any]) -> None:
        """A message from the room's group: send it to this WebSocket."""
        await self.send(text_data=json.dumps({"message": event["message"]}))
