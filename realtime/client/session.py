"""One open connection: read frames and keep the heartbeat going until it closes.

Runs in the client's supervisor task, so a connection needs no task of its own: the wait for
the next frame is bounded by the heartbeat's next deadline (websockets' ``recv()`` may be
cancelled without losing data).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from .heartbeat import Heartbeat

logger = logging.getLogger("realtime.client")

ABNORMAL_CLOSURE: Final = 1006
PONG_TIMEOUT_CODE: Final = 4002
PONG_TIMEOUT_REASON: Final = "pong timeout"


@dataclass(frozen=True, slots=True)
class Closed:
    """How a connection ended: the close code and reason the client reports."""

    code: int
    reason: str


def close_of(ws: ClientConnection) -> Closed:
    """The close to report: the close frame of whoever closed first, else 1006.

    A close the client started reports the client's code (4001, 4002) even when the server
    answers with another one or not at all; a close the server started reports the server's.
    """
    protocol = ws.protocol
    received, sent = protocol.close_rcvd, protocol.close_sent
    frame = received if received is not None and protocol.close_rcvd_then_sent else sent
    frame = frame or received
    if frame is None:
        return Closed(ABNORMAL_CLOSURE, "")
    return Closed(frame.code, frame.reason)


async def close_connection(ws: ClientConnection, code: int, reason: str) -> Closed:
    """Close with ``code`` (waiting at most the connection's close timeout); report the close."""
    try:
        await ws.close(code, reason)
    except Exception:  # the transport may already be gone; the close is still reported
        logger.debug("Closing the connection failed", exc_info=True)
    return close_of(ws)


class Session:
    """Serves one open connection until it closes (see :meth:`run`).

    ``on_text`` gets every text frame except heartbeat echoes; ``fire(event, *args)`` fires a
    lifecycle event.
    """

    def __init__(
        self,
        ws: ClientConnection,
        *,
        ping_interval: float,
        pong_timeout: float,
        ping_msg: str,
        on_text: Callable[[str], None],
        fire: Callable[..., Any],
    ) -> None:
        self.ws = ws
        self.ping_msg = ping_msg
        self.on_text = on_text
        self.fire = fire
        loop = asyncio.get_running_loop()
        self.heartbeat = Heartbeat(ping_interval, pong_timeout, loop.time)
        self.latency: float | None = None

    async def run(self) -> Closed:
        """Read frames and send heartbeats until the connection closes; return how it closed."""
        try:
            while True:
                try:
                    async with asyncio.timeout_at(self.heartbeat.deadline):
                        message = await self.ws.recv()
                except TimeoutError:
                    if self.heartbeat.awaiting_echo:
                        return await self._pong_timeout()
                    await self._ping()
                    continue
                self._on_message(message)
        except ConnectionClosed:
            await self.ws.wait_closed()
            return close_of(self.ws)

    async def _ping(self) -> None:
        self.fire("ping")
        self.heartbeat.ping_sent()
        await self.ws.send(self.ping_msg)

    async def _pong_timeout(self) -> Closed:
        self.fire("pong-timeout")
        return await close_connection(self.ws, PONG_TIMEOUT_CODE, PONG_TIMEOUT_REASON)

    def handle(self, message: str | bytes) -> None:
        """Handle one received frame (also the first one, read before the session ran)."""
        self._on_message(message)

    def _on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            # Browsers get binary frames as Blobs and ignore them; so does this client.
            logger.debug("Dropped a %d-byte binary frame", len(message))
            return
        self.fire("message", message)
        if message == self.ping_msg:
            latency = self.heartbeat.echo_received()
            if latency is not None:
                self.latency = latency
                self.fire("pong", latency)
            return
        self.on_text(message)
