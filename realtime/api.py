"""Module-level async API over the running loop's hub (``from realtime import to_room``).

Sync code (views, management commands) wraps these with ``asgiref.sync.async_to_sync``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Unpack

from asgiref.sync import async_to_sync

from .cluster import queries
from .hub import get_hub
from .wire.protocol import MISSING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .cluster.calls import CallOptions, CrossServerReply, CrossServerResult
    from .cluster.membership import NodeInfo
    from .connection.socket import Socket
    from .node.registry import RoomKey


async def broadcast(event: str, data: Any = MISSING) -> None:
    """Push ``event`` to every connection on every node."""
    await get_hub().broadcast(event, data)


async def to_user(user_id: Any, event: str, data: Any = MISSING) -> None:
    """Push ``event`` to every connection of ``user_id``, whatever node it is on."""
    await get_hub().to_user(user_id, event, data)


async def to_users(user_ids: Iterable[Any], event: str, data: Any = MISSING) -> None:
    """Push ``event`` to every connection of each user in ``user_ids``."""
    await get_hub().to_users(user_ids, event, data)


async def to_room(
    namespace: str, room: Any, event: str, data: Any = MISSING, exclude: Iterable[Any] = ()
) -> None:
    """Push ``event`` to every member of a room on every node, except ``exclude`` user ids."""
    await get_hub().to_room(namespace, room, event, data, exclude=exclude)


async def bind_user(user_id: Any, socket: Socket, kick_previous: bool = False) -> None:
    """Bind a connection to a user id (``kick_previous`` closes older ones with 4012)."""
    await get_hub().bind_user(user_id, socket, kick_previous=kick_previous)


async def unbind_user(user_id: Any) -> None:
    """Unbind every connection of ``user_id`` on this node."""
    await get_hub().unbind_user(user_id)


async def join_room(namespace: str, room: Any, user_id: Any) -> None:
    """Add a user connected to this node to a room."""
    await get_hub().join_room(namespace, room, user_id)


async def leave_room(namespace: str, room: Any, user_id: Any) -> None:
    """Remove a user from a room."""
    await get_hub().leave_room(namespace, room, user_id)


async def remove_room(namespace: str, room: Any) -> None:
    """Remove every member of a room on this node."""
    await get_hub().remove_room(namespace, room)


async def room_members(namespace: str, room: Any) -> set[str]:
    """User ids in a room on this node."""
    return get_hub().room_members(namespace, room)


async def room_member_count(namespace: str, room: Any) -> int:
    """Number of users in a room on this node."""
    return get_hub().room_member_count(namespace, room)


async def user_rooms(user_id: Any) -> set[RoomKey]:
    """The (namespace, room) pairs of a user on this node."""
    return get_hub().user_rooms(user_id)


async def is_member(namespace: str, room: Any, user_id: Any) -> bool:
    """True when the user is in the room on this node."""
    return get_hub().is_member(namespace, room, user_id)


async def emit_cross_server(
    event: str, data: Any = None, **options: Unpack[CallOptions]
) -> CrossServerResult:
    """Call ``@on_cross_server(event)`` handlers on the target nodes (default: all live
    nodes) and collect their replies; options and result: :class:`~realtime.cluster.calls.
    CallOptions`, :class:`~realtime.cluster.calls.CrossServerResult`."""
    return await get_hub().cross_server.emit(event, data, **options)


def stream_cross_server(
    event: str, data: Any = None, **options: Unpack[CallOptions]
) -> AsyncIterator[CrossServerReply]:
    """Like :func:`emit_cross_server`, yielding each node's reply as it arrives."""
    return get_hub().cross_server.stream(event, data, **options)


async def notify_cross_server(
    event: str, data: Any = None, targets: Iterable[str] | None = None, except_self: bool = False
) -> None:
    """Send a cross-server event without waiting for replies."""
    await get_hub().cross_server.notify(event, data, targets, except_self=except_self)


def emit_cross_server_sync(
    event: str, data: Any = None, **options: Unpack[CallOptions]
) -> CrossServerResult:
    """:func:`emit_cross_server` for sync code (views, management commands)."""
    return async_to_sync(emit_cross_server)(event, data, **options)


async def reply_to_client(ref: dict[str, Any], payload: Any = MISSING) -> None:
    """Answer a client callback forwarded from another node with ``ack.forward()``."""
    await get_hub().reply_to_client(ref, payload)


# -- cluster-wide queries (answered by every live node) ------------------------------------


async def live_nodes() -> list[NodeInfo]:
    """The live server nodes (this one included), with their latest announcements."""
    return get_hub().cluster.live_nodes()


async def where_is(user_id: Any, timeout: float = 2.0) -> list[str]:
    """Names of the nodes where ``user_id`` has a connection."""
    return await queries.where_is(get_hub().cross_server, user_id, timeout)


async def cluster_room_members(namespace: str, room: Any, timeout: float = 2.0) -> set[str]:
    """User ids in a room on every live node."""
    return await queries.room_members(get_hub().cross_server, namespace, room, timeout)


async def cluster_room_member_count(namespace: str, room: Any, timeout: float = 2.0) -> int:
    """Number of distinct users in a room across the cluster."""
    return len(await cluster_room_members(namespace, room, timeout))
