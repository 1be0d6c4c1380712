"""A minimal raw protocol-v1 client for end-to-end tests, on the websockets library.

It sends events with callback ids, resolves replies, and records every push, so tests can
assert exactly what each client received.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.waiting import async_wait_until, within


class ProtocolClient:
    """One connection; ``pushes`` holds every push received, in order."""

    _ids = itertools.count(1)

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None
        self.pushes: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.close_reason: str = ""
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> ProtocolClient:
        """Open the connection and start reading."""
        self.ws = await within(connect(self.url), 10, f"cannot connect to {self.url}")
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for text in self.ws:
                frame = json.loads(text) if text else None
                if not isinstance(frame, dict):
                    continue
                future = self._replies.pop(frame.get("callbackId") or "", None)
                if future is not None and not future.done():
                    future.set_result(frame)
                elif "event" in frame:
                    self.pushes.append(frame)
        except ConnectionClosed:
            pass
        finally:
            if self.ws.close_code is not None:
                self.close_code, self.close_reason = self.ws.close_code, self.ws.close_reason or ""

    async def call(self, event: str, payload: Any = None, timeout: float = 5.0) -> dict[str, Any]:
        """Send an event with a callback id; return the reply frame."""
        assert self.ws is not None
        callback_id = f"t-{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[callback_id] = future
        frame = {"event": event, "payload": payload, "callbackId": callback_id}
        await self.ws.send(json.dumps(frame))
        return await within(future, timeout, f"no reply to {event!r} from {self.url}")

    async def emit(self, event: str, payload: Any = None) -> None:
        """Send an event without a callback."""
        assert self.ws is not None
        await self.ws.send(json.dumps({"event": event, "payload": payload}))

    async def wait_pushes(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` pushes arrived; returns them all."""
        await async_wait_until(
            lambda: len(self.pushes) >= count,
            timeout,
            f"{self.url} got {len(self.pushes)} pushes, expected {count}: {self.pushes}",
        )
        return self.pushes

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        """Wait until the server closed the connection; returns the close code."""
        assert self._reader is not None
        await within(asyncio.shield(self._reader), timeout, f"{self.url} was not closed")
        return self.close_code

    async def close(self) -> None:
        """Close and stop reading."""
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await within(self._reader, 5, "reader did not stop")
