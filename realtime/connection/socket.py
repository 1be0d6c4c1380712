"""The connection object handlers receive: params, path, user, bound user id and helpers.

It also owns the connection's bounded outgoing queue. Frames go straight to the server's
``send`` while the client keeps up; only when the server reports that the client stopped
reading (:meth:`Socket.pause_sending`, called by the daphne flow control in
``daphne_compat``) are frames held here, up to ``SEND_QUEUE_MAX_FRAMES`` /
``SEND_QUEUE_MAX_BYTES``. Past either bound the connection is closed with 4008 instead of
letting the server's memory grow. Under a server that reports nothing, nothing is queued.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..conf import realtime_settings
from ..metrics import metrics
from ..throttled_log import ThrottledLogger, shared_logger
from ..wire import codes
from ..wire.frames import OutgoingFrame
from ..wire.frames import check_frame_size as _check_frame_size
from ..wire.protocol import MISSING, encode_push, parse_params, parse_path

AsgiSend = Callable[[dict[str, Any]], Awaitable[None]]
_ids = itertools.count(1)
logger = logging.getLogger(__name__)

# Key of the ASGI "websocket.accept" message that hands the socket to a server integration
# able to report a client that stops reading (daphne_compat); other servers ignore it.
FLOW_CONTROL_KEY = "realtime.flow_control"


class UserNotBound(RuntimeError):
    """A room operation on a connection that has no bound user."""


class SocketOwner(Protocol):
    """What a :class:`Socket` needs of the node that serves it (the hub implements it; the
    connection layer never imports the hub)."""

    name: str
    instance_id: str

    async def bind_user(self, user_id: Any, socket: Socket, kick_previous: bool = False) -> None:
        """Bind ``socket`` to ``user_id``."""

    async def unbind_socket(self, socket: Socket) -> None:
        """Remove the user binding of one connection."""

    async def join_room(self, namespace: str, room: Any, user_id: Any) -> None:
        """Add a user with a connection here to a room."""

    async def leave_room(self, namespace: str, room: Any, user_id: Any) -> None:
        """Remove a user from a room."""

    def user_rooms(self, user_id: Any) -> set[tuple[str, str]]:
        """The rooms a user is a member of on this node."""


def bad_input_log() -> ThrottledLogger:
    """The throttled logger of the connection layer: bad frames, floods, slow clients."""
    return shared_logger("realtime.connection", realtime_settings.BAD_FRAME_LOG_INTERVAL)


def _frame_size(message: dict[str, Any]) -> int:
    return len(message.get("text") or message.get("bytes") or "")


def check_frame_size(frame: OutgoingFrame) -> None:
    """Raise :class:`~realtime.wire.frames.FrameTooLarge` past ``MAX_FRAME_BYTES``."""
    _check_frame_size(frame, realtime_settings.MAX_FRAME_BYTES)


# Stops (True) or restarts (False) reading a connection; installed by a server integration.
ReadControl = Callable[[bool], None]

# Writes a finished frame straight to the connection; False when it cannot (the caller then
# sends the ASGI message the usual way). Installed by a server integration (daphne_compat).
DirectWriter = Callable[[OutgoingFrame], bool]


class Socket:
    """One client connection on this node.

    Attributes:
        id: unique id of the connection within this node.
        params: query-string parameters (str, or list of str for repeated keys).
        path: the URL path without leading slashes.
        user_id: the user id bound with :meth:`bind`, or None.
        state: a dict for the application's own per-connection data (kept when recovered).
        recovered: True when the session of a reconnecting client was restored.
        flow_controlled: True when the server reports when the client stops reading.
    """

    __slots__ = (
        "_backlog",
        "_backlog_size",
        "_flusher",
        "_paused",
        "_reader",
        "_send",
        "_writer",
        "closed",
        "flow_controlled",
        "hub",
        "id",
        "params",
        "path",
        "recovered",
        "scope",
        "state",
        "user_id",
    )

    def __init__(self, scope: dict[str, Any], send: AsgiSend, hub: SocketOwner) -> None:
        self.id = str(next(_ids))
        self.scope = scope
        self._send = send
        self.hub = hub
        self.params = parse_params(scope.get("query_string", b""))
        self.path = parse_path(scope.get("path", ""))
        self.user_id: str | None = None
        self.state: dict[str, Any] = {}
        # True in @on_connect when the session of a reconnecting client was restored.
        self.recovered = False
        self.closed = False
        self.flow_controlled = False
        # None while frames go straight out (the fast path); a deque while held back.
        self._backlog: deque[dict[str, Any]] | None = None
        self._backlog_size = 0
        self._paused = False
        self._flusher: asyncio.Task[None] | None = None
        self._writer: DirectWriter | None = None
        self._reader: ReadControl | None = None

    def __repr__(self) -> str:
        return f"<Socket {self.id} user={self.user_id!r} path={self.path!r}>"

    @property
    def user(self) -> Any:
        """The Django user of the connection (``AnonymousUser`` without a session login)."""
        return self.scope.get("user")

    @property
    def client_address(self) -> str | None:
        """The client's IP address as the server saw it, if known."""
        client = self.scope.get("client")
        return client[0] if client else None

    async def send_text(self, text: str) -> bool:
        """Send a finished text frame; returns False when the connection is closing or
        closed. Raises :class:`FrameTooLarge` past ``MAX_FRAME_BYTES``."""
        frame = OutgoingFrame(text)
        check_frame_size(frame)
        return self.write_now(frame) or await self.transmit(frame.message)

    def write_now(self, frame: OutgoingFrame) -> bool:
        """Write ``frame`` straight to the connection, when the server integration allows it.

        The fast path of a fan-out: no coroutine, no ASGI middleware, the frame's bytes built
        once for all recipients. False when it did not write (no direct writer, the
        connection is closed, or frames are being held for a slow client): the caller then
        uses :meth:`transmit`, which knows what to do in each of those cases.
        """
        writer = self._writer
        if writer is None or self.closed or self._backlog is not None:
            return False
        return writer(frame)

    def attach_writer(self, writer: DirectWriter | None) -> None:
        """Let the server integration write finished frames directly (see ``write_now``)."""
        self._writer = writer

    def attach_reader(self, reader: ReadControl | None) -> None:
        """Let the server integration stop and restart reading the client (see
        :meth:`pause_reading`)."""
        self._reader = reader

    def pause_reading(self, paused: bool) -> bool:
        """Stop (``True``) or restart (``False``) reading what the client sends, so that its
        own send buffer fills and it slows down; False when the server cannot."""
        if self._reader is None or self.closed:
            return False
        self._reader(paused)
        return True

    @property
    def writes_directly(self) -> bool:
        """True when the server integration installed a direct writer for this connection."""
        return self._writer is not None

    async def transmit(self, message: dict[str, Any]) -> bool:
        """Hand a ready ASGI send message to the server (the hub shares one per fan-out).

        Returns False when the connection is closing or closed (counted as
        ``sends_to_closing``; the server refusing the send marks it closed, logged
        throttled), or was just closed because its outgoing queue overflowed.
        """
        if self.closed:
            metrics.incr("sends_to_closing")
            return False
        if self._backlog is None:
            try:
                await self._send(message)
            except Exception as error:
                self._send_refused(error)
                return False
            return True
        return await self._hold(message)

    def connection_closing(self) -> None:
        """The server integration saw the connection start closing: send nothing more."""
        if not self.closed:
            self.mark_closed()

    def _send_refused(self, error: Exception) -> None:
        # A send to a connection the server is closing (autobahn's Disconnected): the
        # connection is over for us. One line per interval, however many frames and peers.
        self.mark_closed()
        metrics.incr("sends_to_closing")
        bad_input_log().log(
            "send-refused",
            logging.WARNING,
            "The server refused a frame for %r (%s: %s); treating the connection as closed",
            self,
            type(error).__name__,
            error,
        )

    # -- flow control (called by the server integration, see daphne_compat) ---------------

    @property
    def queued_frames(self) -> int:
        """Frames held back because the client is not reading."""
        return len(self._backlog) if self._backlog is not None else 0

    @property
    def queued_bytes(self) -> int:
        """Total length of the frames held back."""
        return self._backlog_size

    def pause_sending(self) -> None:
        """The client stopped reading: hold further frames here (bounded)."""
        if not self._paused:
            metrics.incr("send_pauses")
        self._paused = True
        if self._backlog is None:
            self._backlog = deque()

    def resume_sending(self) -> None:
        """The client caught up: send the held frames, in order, then go straight again."""
        self._paused = False
        if self._backlog is None or self._flusher is not None:
            return
        if not self._backlog:
            self._backlog = None
            return
        # One task per resume (not per frame); it stops when paused again.
        self._flusher = asyncio.get_running_loop().create_task(self._flush())

    def stop_sending(self) -> None:
        """The connection is gone: send nothing more and discard what is held."""
        self._paused = True
        self.mark_closed()

    async def _hold(self, message: dict[str, Any]) -> bool:
        backlog = self._backlog
        assert backlog is not None
        backlog.append(message)
        self._backlog_size += _frame_size(message)
        max_frames = realtime_settings.SEND_QUEUE_MAX_FRAMES
        max_bytes = realtime_settings.SEND_QUEUE_MAX_BYTES
        if (max_frames is not None and len(backlog) > max_frames) or (
            max_bytes is not None and self._backlog_size > max_bytes
        ):
            # Many slow clients at once (a network outage) still log once per interval.
            bad_input_log().log(
                "slow-client",
                logging.WARNING,
                "Closing %r: %d frames (%d bytes) waiting for a client that does not read",
                self,
                len(backlog),
                self._backlog_size,
            )
            metrics.incr("slow_client_closes")
            await self.close(*codes.SLOW_CLIENT)
            return False
        return True

    async def _flush(self) -> None:
        try:
            while self._backlog and not self._paused and not self.closed:
                message = self._backlog.popleft()
                self._backlog_size -= _frame_size(message)
                await self._send(message)
            if not self._paused and not self._backlog:
                self._backlog = None
                self._backlog_size = 0
        except Exception:
            logger.exception("Sending held frames to %r failed", self)
            self._discard_backlog()
        finally:
            self._flusher = None

    def _discard_backlog(self) -> None:
        if self._backlog:
            metrics.incr("dropped_frames", len(self._backlog))
            self._backlog.clear()
        self._backlog_size = 0

    def mark_closed(self) -> None:
        """The connection ended: send nothing more and free what is held."""
        self.closed = True
        self._discard_backlog()

    async def emit(self, event: str, data: Any = MISSING) -> bool:
        """Push ``event`` with ``data`` to this connection only."""
        return await self.send_text(encode_push(event, data))

    async def bind(self, user_id: Any, kick_previous: bool = False) -> None:
        """Bind this connection to ``user_id`` (see :meth:`Hub.bind_user`)."""
        await self.hub.bind_user(user_id, self, kick_previous=kick_previous)

    async def unbind(self) -> None:
        """Remove the user binding (and, with the last connection, the user's rooms)."""
        await self.hub.unbind_socket(self)

    async def join(self, namespace: str, room: Any) -> None:
        """Join the bound user to a room; raises ``UserNotBound`` when no user is bound."""
        await self.hub.join_room(namespace, room, self._require_user())

    async def leave(self, namespace: str, room: Any) -> None:
        """Remove the bound user from a room."""
        await self.hub.leave_room(namespace, room, self._require_user())

    @property
    def rooms(self) -> set[tuple[str, str]]:
        """The (namespace, room) pairs the bound user is a member of on this node."""
        return self.hub.user_rooms(self.user_id) if self.user_id is not None else set()

    def _require_user(self) -> str:
        if self.user_id is None:
            raise UserNotBound("bind a user to the connection (socket.bind) before joining rooms")
        return self.user_id

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with a close code (e.g. 4011 auth failure, 4012 kicked)."""
        if self.closed:
            return
        # Held frames are dropped: the close frame goes out now, behind what the server
        # already buffered (at most its write buffer).
        self.mark_closed()
        message: dict[str, Any] = {"type": "websocket.close", "code": code}
        if reason:
            message["reason"] = reason
        await self._send(message)
