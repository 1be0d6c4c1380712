"""In-process WebSocket clients over channels' WebsocketCommunicator."""

from __future__ import annotations

import json
from typing import Any

from channels.testing import WebsocketCommunicator

from project.asgi import application


class TestClient:
    """A protocol-level client of the full ASGI application (Origin check, auth, routing)."""

    __test__ = False

    def __init__(
        self,
        path: str = "/ws/?id=1",
        headers: list[tuple[bytes, bytes]] | None = None,
        client: tuple[str, int] | None = None,
    ):
        self.communicator = WebsocketCommunicator(application, path, headers=headers)
        if client is not None:
            # The peer address daphne would report; the application reads the scope only
            # once it runs, which is after this constructor.
            self.communicator.scope["client"] = list(client)
        self.accepted = False

    async def connect(self) -> tuple[bool, Any]:
        """Open the connection; returns (accepted, subprotocol or close code)."""
        accepted, detail = await self.communicator.connect(timeout=3)
        self.accepted = accepted
        return accepted, detail

    async def send(self, text: str) -> None:
        """Send one text frame (the empty string included)."""
        await self.communicator.send_input({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        """Send one binary frame."""
        await self.communicator.send_input({"type": "websocket.receive", "bytes": data})

    async def emit(self, event: str, payload: Any = None, callback_id: str | None = None) -> None:
        """Send an event frame as the JS client does."""
        frame: dict[str, Any] = {"event": event, "payload": payload}
        if callback_id is not None:
            frame["callbackId"] = callback_id
        await self.send(json.dumps(frame, separators=(",", ":")))

    async def output(self, timeout: float = 2) -> dict[str, Any]:
        """The next ASGI message the application sent."""
        return await self.communicator.receive_output(timeout)

    async def text(self, timeout: float = 2) -> str:
        """The next frame's text; fails if the next message is not a text frame."""
        message = await self.output(timeout)
        assert message["type"] == "websocket.send", f"expected a frame, got {message}"
        assert "text" in message and "bytes" not in message, f"expected text, got {message}"
        return message["text"]

    async def json(self, timeout: float = 2) -> Any:
        """The next frame, decoded."""
        return json.loads(await self.text(timeout))

    async def closed_with(self, timeout: float = 2) -> tuple[int, str]:
        """Wait for the application to close; returns (code, reason)."""
        message = await self.output(timeout)
        assert message["type"] == "websocket.close", f"expected a close, got {message}"
        return message.get("code", 1000), message.get("reason", "")

    async def nothing(self, timeout: float = 0.1) -> bool:
        """True when the application sent nothing within ``timeout``."""
        return await self.communicator.receive_nothing(timeout)

    async def disconnect(self) -> None:
        """Close from the client side and let the application finish."""
        await self.communicator.disconnect(timeout=3)


async def connected(path: str = "/ws/?id=1", **kwargs: Any) -> TestClient:
    """A client whose connection was accepted."""
    client = TestClient(path, **kwargs)
    accepted, detail = await client.connect()
    assert accepted, f"connection to {path} refused with {detail}"
    return client
