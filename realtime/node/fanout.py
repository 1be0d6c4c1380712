"""Local delivery: one finished frame handed to many local connections.

The frame's bytes are built once for all recipients (:class:`~realtime.wire.frames.
OutgoingFrame`); each connection gets them straight from its direct writer when the server
integration installed one, else through the ASGI send, which also holds frames for a client
that stopped reading.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..conf import realtime_settings
from ..metrics import metrics
from ..throttled_log import ThrottledLogger
from ..wire.frames import FrameTooLarge, OutgoingFrame, check_frame_size
from ..wire.node_messages import Position, ToAll, ToRoom, ToUsers
from .registry import LocalRegistry, Socket

# Sends one push to local connections given its history position (None: not kept); the
# hub hands over recovery's, which adds the position to the frames of clients that track it.
PushSender = Callable[[list[Any], str, Any], Awaitable[int]]

logger = logging.getLogger(__name__)
_failures = ThrottledLogger(logger, 10.0)


def frame_too_large(frame: OutgoingFrame) -> bool:
    """True (counted and logged, throttled) when ``frame`` exceeds ``MAX_FRAME_BYTES``."""
    try:
        check_frame_size(frame, realtime_settings.MAX_FRAME_BYTES)
    except FrameTooLarge as error:
        metrics.incr("oversize_frames_dropped")
        _failures.log("oversize", logging.WARNING, "Not sending a frame: %s", error)
        return True
    return False


async def deliver(sockets: Iterable[Socket], frame: str) -> int:
    """Hand one finished frame to local connections; returns how many got it. A frame over
    ``MAX_FRAME_BYTES`` (from another node) is dropped once, counted and logged."""
    outgoing = OutgoingFrame(frame)
    if frame_too_large(outgoing):
        return 0  # once for the whole fan-out, not once per recipient
    message = outgoing.message
    sent = 0
    for socket in sockets:
        try:
            # Straight to the connection when it can be (the bytes are built once for all);
            # otherwise the ASGI send, which also holds frames for slow clients.
            if socket.write_now(outgoing) or await socket.transmit(message):
                sent += 1
        except Exception:
            # Repeats per recipient and per frame: one line per 10 s, with a count.
            _failures.log(
                "deliver", logging.ERROR, "Sending a frame to %r failed", socket, exc_info=True
            )
    return sent


async def _plain(sockets: list[Any], frame: str, position: Any) -> int:
    return await deliver(sockets, frame)


class FanOut:
    """Delivers pushes to this node's connections, as addressed by a publish."""

    def __init__(self, registry: LocalRegistry, send: PushSender | None = None) -> None:
        self.registry = registry
        self.send = send or _plain

    async def to_all(self, frame: str, position: Position | None = None) -> int:
        """Every local connection."""
        return await self.send(list(self.registry.sockets.values()), frame, position)

    async def to_users(
        self, user_ids: Iterable[str], frame: str, positions: dict[str, Position] | None = None
    ) -> int:
        """Every local connection of these users (each with its own history position)."""
        if not positions:
            return await self.send(self.registry.users_sockets(user_ids), frame, None)
        sent = 0
        for user_id in user_ids:
            sockets = list(self.registry.user_sockets(user_id))
            if sockets:
                sent += await self.send(sockets, frame, positions.get(user_id))
        return sent

    async def to_room(
        self,
        key: tuple[str, str],
        frame: str,
        exclude: Iterable[str] = (),
        position: Position | None = None,
    ) -> int:
        """Every local connection of the room's members but the excluded user ids."""
        sockets = self.registry.room_sockets(key, frozenset(exclude))
        return await self.send(sockets, frame, position)

    async def on_message(self, message: ToAll | ToUsers | ToRoom) -> None:
        """Deliver what another node published to this one."""
        if isinstance(message, ToAll):
            await self.to_all(message.frame, message.position)
        elif isinstance(message, ToUsers):
            await self.to_users(message.user_ids, message.frame, message.positions)
        else:
            key = (message.namespace, message.room)
            await self.to_room(key, message.frame, message.exclude, message.position)
