"""In-process WebSocket clients over channels' WebsocketCommunicator."""

from __future__ import annotations

import json
from typing import Any

from project.asgi import application
from realtime.testing import RealtimeCommunicator


class TestClient(RealtimeCommunicator):
    """A protocol-level client of the full ASGI application (Origin check, auth, routing),
    built on the communicator shipped for users (``realtime.testing``)."""

    __test__ = False

    def __init__(
        self,
        path: str = "/ws/?id=1",
        headers: list[tuple[bytes, bytes]] | None = None,
        client: tuple[str, int] | None = None,
    ):
        super().__init__(application, path, headers=headers, client=client)

    @property
    def communicator(self) -> TestClient:
        """Itself (older tests reach the communicator through this name)."""
        return self

    async def send(self, text: str) -> None:
        """Send one text frame (the empty string included)."""
        await self.communicator.send_input({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        """Send one binary frame."""
        await self.communicator.send_input({"type": "websocket.receive", "bytes": data})

    async def emit(self, event: str, payload: Any = None, callback_id: str | None = None) -> None:
        """Send an event frame as the JS client does (``payload`` null when not given)."""
        await super().emit(event, payload, callback_id)

    async def output(self, timeout: float = 2) -> dict[str, Any]:
        """The next ASGI message the application sent."""
        return await self.receive_output(timeout)

    async def text(self, timeout: float = 2) -> str:
        """The next frame's text; fails if the next message is not a text frame."""
        message = await self.output(timeout)
        assert message["type"] == "websocket.send", f"expected a frame, got {message}"
        assert "text" in message and "bytes" not in message, f"expected text, got {message}"
        return message["text"]

    async def json(self, timeout: float = 2) -> Any:
        """The next frame, decoded."""
        return json.loads(await self.text(timeout))

    async def nothing(self, timeout: float = 0.1) -> bool:
        """True when the application sent nothing within ``timeout``."""
        return await self.receive_nothing(timeout)

    async def disconnect(self, code: int = 1000, timeout: float = 3) -> None:
        """Close from the client side and let the application finish."""
        await super().disconnect(code, timeout)


async def connected(path: str = "/ws/?id=1", **kwargs: Any) -> TestClient:
    """A client whose connection was accepted."""
    client = TestClient(path, **kwargs)
    accepted, detail = await client.connect()
    assert accepted, f"connection to {path} refused with {detail}"
    return client
