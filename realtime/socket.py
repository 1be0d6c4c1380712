"""The connection object handlers receive: params, path, user, bound user id and helpers."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .protocol import MISSING, encode_push, parse_params, parse_path

if TYPE_CHECKING:
    from .hub import Hub

AsgiSend = Callable[[dict[str, Any]], Awaitable[None]]
_ids = itertools.count(1)


class Socket:
    """One client connection on this node.

    Attributes:
        id: unique id of the connection within this node.
        params: query-string parameters (str, or list of str for repeated keys).
        path: the URL path without leading slashes.
        user_id: the user id bound with :meth:`bind`, or None.
        state: a dict for the application's own per-connection data.
    """

    __slots__ = ("_send", "closed", "hub", "id", "params", "path", "scope", "state", "user_id")

    def __init__(self, scope: dict[str, Any], send: AsgiSend, hub: Hub) -> None:
        self.id = str(next(_ids))
        self.scope = scope
        self._send = send
        self.hub = hub
        self.params = parse_params(scope.get("query_string", b""))
        self.path = parse_path(scope.get("path", ""))
        self.user_id: str | None = None
        self.state: dict[str, Any] = {}
        self.closed = False

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
        """Send a finished text frame; returns False when the connection is already closed."""
        return await self.transmit({"type": "websocket.send", "text": text})

    async def transmit(self, message: dict[str, Any]) -> bool:
        """Hand a ready ASGI send message to the server (the hub shares one per fan-out)."""
        if self.closed:
            return False
        await self._send(message)
        return True

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
            from .hub import UserNotBound

            raise UserNotBound("bind a user to the connection (socket.bind) before joining rooms")
        return self.user_id

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with a close code (e.g. 4011 auth failure, 4012 kicked)."""
        if self.closed:
            return
        self.closed = True
        message: dict[str, Any] = {"type": "websocket.close", "code": code}
        if reason:
            message["reason"] = reason
        await self._send(message)
