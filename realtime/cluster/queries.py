"""Cluster-wide queries, answered by every live node through internal cross-server events.

They go beyond the original framework, which only knew its own node: where a user is
connected, and who is in a room across the cluster. A node that dies drops out of the
answers as soon as membership drops it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..hub import get_hub

if TYPE_CHECKING:
    from ..hub import Hub
    from .calls import CrossServer
    from .membership import NodeInfo

WHERE = "realtime:where"
ROOM_MEMBERS = "realtime:room-members"
MEMBERS = "realtime:members"


async def _is_connected_here(hub: Hub, user_id: Any) -> bool:
    return hub.is_connected(user_id)


async def _room_members_here(hub: Hub, payload: Any) -> list[str]:
    return sorted(hub.room_members(payload["ns"], payload["room"]))


async def _live_names_here(hub: Hub, payload: Any) -> list[str]:
    return hub.cluster.live_names()


def install_system_handlers(cross_server: CrossServer) -> None:
    """Register the internal handlers the queries below rely on."""
    cross_server.system_handlers.update(
        {WHERE: _is_connected_here, ROOM_MEMBERS: _room_members_here, MEMBERS: _live_names_here}
    )


async def learn_membership(hub: Hub, timeout: float = 1.0) -> None:
    """For an observer: also count the nodes its peers still consider alive.

    An observer only hears nodes that announce while it listens; a node that died a moment
    ago is still a member for everyone else, and calls should name it as missing.
    """
    result = await hub.cross_server.emit(MEMBERS, None, timeout=timeout)
    hub.cluster.vouch({name for names in result.responses.values() for name in names})


async def live_nodes() -> list[NodeInfo]:
    """The live server nodes (this one included), with their latest announcements."""
    return get_hub().cluster.live_nodes()


async def where_is(user_id: Any, timeout: float = 2.0) -> list[str]:
    """Names of the nodes where ``user_id`` has a connection."""
    result = await get_hub().cross_server.emit(WHERE, str(user_id), timeout=timeout)
    return sorted(node for node, here in result.responses.items() if here)


async def cluster_room_members(namespace: str, room: Any, timeout: float = 2.0) -> set[str]:
    """User ids in a room on every live node."""
    payload = {"ns": namespace, "room": str(room)}
    result = await get_hub().cross_server.emit(ROOM_MEMBERS, payload, timeout=timeout)
    return {user for members in result.responses.values() for user in members}


async def cluster_room_member_count(namespace: str, room: Any, timeout: float = 2.0) -> int:
    """Number of distinct users in a room across the cluster."""
    return len(await cluster_room_members(namespace, room, timeout))
