"""The WebSocket consumer: one per connection, speaking protocol v1 (PROTOCOL.md).

It answers the heartbeat, enforces the frame size limit, dispatches client events to their
handlers (each in its own task, so a slow handler never delays the heartbeat echo) and sends
replies. It does not create a channel-layer channel per connection: pushes arrive through the
node's hub, which hands finished frames straight to the connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.consumer import AsyncConsumer

from .acks import Ack
from .conf import realtime_settings
from .hub import get_hub
from .protocol import HEARTBEAT, ClientEvent, MalformedFrame, decode_frame, error_payload
from .socket import Socket
from .throttled_log import ThrottledLogger

logger = logging.getLogger(__name__)

FRAME_TOO_LARGE_CODE = 1009
SERVER_ERROR_CODE = 1011
# Seconds handlers still running at disconnect may take to finish before being cancelled.
DISCONNECT_GRACE = 5.0


_throttled_logger: ThrottledLogger | None = None


def _throttled() -> ThrottledLogger:
    # One per process: a flood from many connections still logs once per interval.
    global _throttled_logger
    if _throttled_logger is None:
        _throttled_logger = ThrottledLogger(logger, realtime_settings.BAD_FRAME_LOG_INTERVAL)
    return _throttled_logger


def _utf8_length_exceeds(text: str, limit: int) -> bool:
    # A character takes at most 4 UTF-8 bytes: only long frames need encoding to measure.
    length = len(text)
    if length > limit:
        return True
    return length * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit


class RealtimeConsumer(AsyncConsumer):
    """Serves one WebSocket connection; route it with ``RealtimeConsumer.as_asgi()``."""

    def __init__(self) -> None:
        self.socket: Socket | None = None
        self.pending: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The ASGI entry point (replaces Channels' per-consumer layer channel and dispatch)."""
        self.scope = scope
        self.base_send = send
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        hub = get_hub()
        socket = self.socket = Socket(scope, send, hub)
        await send({"type": "websocket.accept"})
        await hub.register(socket)
        try:
            if await self._run_connect_hooks(socket):
                await self._serve(socket, receive)
            else:
                await self._drain_until_disconnect(receive)
        finally:
            socket.closed = True
            await hub.unregister(socket)
            await self._finish_pending()
            await self._run_disconnect_hooks(socket)

    async def _run_connect_hooks(self, socket: Socket) -> bool:
        for hook in socket.hub.handlers.connect_hooks:
            try:
                await hook(socket)
            except Exception:
                logger.exception("Connect hook %s failed", hook.__qualname__)
                await socket.close(SERVER_ERROR_CODE, "Server error")
            if socket.closed:
                return False
        return True

    async def _run_disconnect_hooks(self, socket: Socket) -> None:
        for hook in socket.hub.handlers.disconnect_hooks:
            try:
                await hook(socket)
            except Exception:
                logger.exception("Disconnect hook %s failed", hook.__qualname__)

    @staticmethod
    async def _drain_until_disconnect(receive: Any) -> None:
        while (await receive())["type"] != "websocket.disconnect":
            pass

    async def _serve(self, socket: Socket, receive: Any) -> None:
        heartbeat = realtime_settings.HEARTBEAT_MESSAGE
        max_bytes = realtime_settings.MAX_FRAME_BYTES
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message["type"] != "websocket.receive" or socket.closed:
                continue
            text = message.get("text")
            if text is None:
                self._drop("binary frame", len(message.get("bytes") or b""))
            elif text == heartbeat:
                await socket.send_text(text)
            elif _utf8_length_exceeds(text, max_bytes):
                logger.info(
                    "Closing %r: a %d-character frame exceeds %d bytes",
                    socket,
                    len(text),
                    max_bytes,
                )
                await socket.close(FRAME_TOO_LARGE_CODE, "Frame too large")
            else:
                await self._on_text(socket, text, heartbeat)

    def _drop(self, reason: str, size: int) -> None:
        _throttled().log(
            "bad-frame", logging.DEBUG, "Dropped a client frame (%s, %d long)", reason, size
        )

    async def _on_text(self, socket: Socket, text: str, heartbeat: str) -> None:
        try:
            event = decode_frame(text, heartbeat)
        except MalformedFrame as exc:
            self._drop(str(exc), len(text))
            return
        if event is HEARTBEAT:  # pragma: no cover - the caller compares first
            return
        assert isinstance(event, ClientEvent)
        ack = Ack(socket, event.callback_id)
        handler = socket.hub.handlers.events.get(event.event)
        if handler is None:
            _throttled().log(
                "unknown-event", logging.DEBUG, "No handler for client event %r", event.event
            )
            await ack(error_payload(f"Unknown event {event.event!r}", "UNKNOWN_EVENT"))
            return
        if len(self.pending) >= realtime_settings.MAX_PENDING_HANDLERS:
            _throttled().log(
                "busy",
                logging.WARNING,
                "%r has too many handlers running; refusing %r",
                socket,
                event.event,
            )
            await ack(error_payload("Too many requests in progress", "BUSY"))
            return
        task = asyncio.get_running_loop().create_task(
            self._run_handler(handler, socket, event, ack)
        )
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _run_handler(
        self, handler: Any, socket: Socket, event: ClientEvent, ack: Ack
    ) -> None:
        timeout = realtime_settings.HANDLER_TIMEOUT
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                result = await handler(socket, event.payload, ack)
                if result is not None and ack.wanted:
                    await ack(result)
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                _throttled().log(
                    ("timeout", event.event),
                    logging.WARNING,
                    "Handler for %r timed out after %ss",
                    event.event,
                    timeout,
                )
                message, code = f"Handler for {event.event!r} timed out", "HANDLER_TIMEOUT"
            else:
                _throttled().log(
                    ("error", event.event),
                    logging.ERROR,
                    "Handler for client event %r failed",
                    event.event,
                    exc_info=True,
                )
                message, code = f"Handler for {event.event!r} failed", "HANDLER_ERROR"
            await ack(error_payload(message, code))

    async def _finish_pending(self) -> None:
        if not self.pending:
            return
        _, still_running = await asyncio.wait(set(self.pending), timeout=DISCONNECT_GRACE)
        for task in still_running:
            task.cancel()
