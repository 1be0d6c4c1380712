"""Cluster-wide queries, answered by every live node through internal cross-server events.

They go beyond the original framework, which only knew its own node: where a user is
connected, and who is in a room across the cluster. A node that dies drops out of the
answers as soon as membership drops it. The public functions are in :mod:`realtime.api`.
"""

from __future__ import annotations

from typing import Any, Protocol

from .calls import CrossServer

WHERE = "realtime:where"
ROOM_MEMBERS = "realtime:room-members"
MEMBERS = "realtime:members"


class LocalState(Protocol):
    """What the queries read of this node (the hub implements it)."""

    def is_connected(self, user_id: Any) -> bool:
        """True when the user has a connection on this node."""

    def room_members(self, namespace: str, room: Any) -> set[str]:
        """User ids in a room on this node."""


def install_system_handlers(cross_server: CrossServer, node: LocalState) -> None:
    """Register the internal handlers the queries below rely on."""

    async def is_connected_here(user_id: Any) -> bool:
        return node.is_connected(user_id)

    async def room_members_here(payload: Any) -> list[str]:
        return sorted(node.room_members(payload["ns"], payload["room"]))

    async def live_names_here(payload: Any) -> list[str]:
        return cross_server.membership.live_names()

    cross_server.system_handlers.update(
        {WHERE: is_connected_here, ROOM_MEMBERS: room_members_here, MEMBERS: live_names_here}
    )


async def learn_membership(cross_server: CrossServer, timeout: float = 1.0) -> None:
    """For an observer: also count the nodes its peers still consider alive.

    An observer only hears nodes that announce while it listens; a node that died a moment
    ago is still a member for everyone else, and calls should name it as missing.
    """
    result = await cross_server.emit(MEMBERS, None, timeout=timeout)
    cross_server.membership.vouch({name for names in result.responses.values() for name in names})


async def where_is(cross_server: CrossServer, user_id: Any, timeout: float = 2.0) -> list[str]:
    """Names of the nodes where ``user_id`` has a connection."""
    result = await cross_server.emit(WHERE, str(user_id), timeout=timeout)
    return sorted(node for node, here in result.responses.items() if here)


async def room_members(
    cross_server: CrossServer, namespace: str, room: Any, timeout: float = 2.0
) -> set[str]:
    """User ids in a room on every live node."""
    payload = {"ns": namespace, "room": str(room)}
    result = await cross_server.emit(ROOM_MEMBERS, payload, timeout=timeout)
    return {user for members in result.responses.values() for user in members}
