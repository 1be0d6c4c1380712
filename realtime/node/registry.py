"""This node's local registry of connections, bound users and room memberships (pure data).

Room members are user ids; a room delivers to every local connection of each member. A user
leaves every room when their last local connection unbinds or closes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from ..wire.frames import OutgoingFrame

RoomKey = tuple[str, str]


class Socket(Protocol):
    """What the node needs of one local connection (the connection layer's ``Socket``)."""

    id: str
    user_id: str | None

    def write_now(self, frame: OutgoingFrame) -> bool:
        """Write a finished frame straight out; False when it cannot."""

    async def transmit(self, message: dict[str, Any]) -> bool:
        """Hand an ASGI send message to the server; False when closed."""

    async def send_text(self, text: str) -> bool:
        """Send one text frame; False when closed."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection."""


class LocalRegistry:
    """Connections, users and rooms of this node, with O(1) lookups for fan-out."""

    def __init__(self) -> None:
        self.sockets: dict[str, Socket] = {}
        self.users: dict[str, dict[str, Socket]] = {}
        self.rooms: dict[RoomKey, set[str]] = {}
        self.user_rooms: dict[str, set[RoomKey]] = {}

    def add_socket(self, socket: Socket) -> None:
        """Register an open connection."""
        self.sockets[socket.id] = socket

    def remove_socket(self, socket: Socket) -> tuple[bool, list[RoomKey]]:
        """Forget a connection; returns (its user has no local connection left, emptied rooms)."""
        self.sockets.pop(socket.id, None)
        return self.unbind(socket)

    def bind(self, socket: Socket, user_id: str) -> tuple[bool, list[Socket]]:
        """Bind ``socket`` to ``user_id``; returns (first local connection, other connections)."""
        if socket.user_id != user_id:
            self.unbind(socket)
        connections = self.users.setdefault(user_id, {})
        first = not connections
        others = [other for other in connections.values() if other is not socket]
        connections[socket.id] = socket
        socket.user_id = user_id
        return first, others

    def unbind(self, socket: Socket) -> tuple[bool, list[RoomKey]]:
        """Unbind ``socket``; returns (its user is gone from this node, rooms left empty)."""
        user_id = socket.user_id
        if user_id is None:
            return False, []
        socket.user_id = None
        connections = self.users.get(user_id)
        if connections is None or connections.pop(socket.id, None) is None:
            return False, []
        if connections:
            return False, []
        del self.users[user_id]
        emptied = [
            key for key in list(self.user_rooms.get(user_id, ())) if self.leave(key, user_id)
        ]
        return True, emptied

    def join(self, key: RoomKey, user_id: str) -> bool:
        """Add a member; returns True when the room had no local member before."""
        members = self.rooms.setdefault(key, set())
        was_empty = not members
        members.add(user_id)
        self.user_rooms.setdefault(user_id, set()).add(key)
        return was_empty

    def leave(self, key: RoomKey, user_id: str) -> bool:
        """Remove a member; returns True when the room has no local member left."""
        members = self.rooms.get(key)
        if not members or user_id not in members:
            return False
        members.discard(user_id)
        rooms = self.user_rooms.get(user_id)
        if rooms is not None:
            rooms.discard(key)
            if not rooms:
                del self.user_rooms[user_id]
        if members:
            return False
        del self.rooms[key]
        return True

    def remove_room(self, key: RoomKey) -> set[str]:
        """Remove every member of a room; returns the former members."""
        members = set(self.rooms.get(key, ()))
        for user_id in members:
            self.leave(key, user_id)
        return members

    def user_sockets(self, user_id: str) -> Iterable[Socket]:
        """The local connections of a user (empty when the user is not here)."""
        connections = self.users.get(user_id)
        return connections.values() if connections else ()

    def users_sockets(self, user_ids: Iterable[str]) -> list[Socket]:
        """The local connections of several users."""
        return [socket for user_id in user_ids for socket in self.user_sockets(user_id)]

    def room_sockets(self, key: RoomKey, exclude: frozenset[str] = frozenset()) -> list[Socket]:
        """Every local connection of every member of a room, minus excluded user ids."""
        members = self.rooms.get(key)
        if not members:
            return []
        users = self.users
        return [
            socket
            for user_id in members
            if user_id not in exclude and user_id in users
            for socket in users[user_id].values()
        ]
