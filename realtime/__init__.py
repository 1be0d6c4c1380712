"""realtime: distributed WebSocket events, rooms and cross-server calls for Django Channels.

Everything public is importable from here; the imports are lazy so that listing the app in
INSTALLED_APPS loads nothing before Django is ready (and the Python client loads no Django).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:  # what a type checker sees; at run time __getattr__ imports on first use
    from .api import (
        bind_user,
        broadcast,
        cluster_room_member_count,
        cluster_room_members,
        emit_cross_server,
        emit_cross_server_sync,
        is_member,
        join_room,
        leave_room,
        live_nodes,
        notify_cross_server,
        remove_room,
        reply_to_client,
        room_member_count,
        room_members,
        stream_cross_server,
        to_room,
        to_user,
        to_users,
        unbind_user,
        user_rooms,
        where_is,
    )
    from .client import (
        CallTimeout,
        ClientClosed,
        ClientError,
        ClientOptions,
        ConnectFailed,
        ConnectionLost,
        NotConnected,
        RealtimeClient,
        ServerError,
    )
    from .cluster.calls import CrossServerMessage, CrossServerReply, CrossServerResult
    from .cluster.membership import NodeInfo
    from .connection.consumer import RealtimeConsumer
    from .connection.handlers import on, on_connect, on_cross_server, on_disconnect
    from .connection.socket import Socket
    from .hub import Hub, UserNotBound, UserNotConnected, get_hub
    from .wire.protocol import MISSING, InvalidEventName, PayloadNotJSON

_EXPORTS = {
    "on": "connection.handlers",
    "on_connect": "connection.handlers",
    "on_disconnect": "connection.handlers",
    "on_cross_server": "connection.handlers",
    "MISSING": "wire.protocol",
    "InvalidEventName": "wire.protocol",
    "PayloadNotJSON": "wire.protocol",
    "Hub": "hub",
    "get_hub": "hub",
    "UserNotBound": "hub",
    "UserNotConnected": "hub",
    "Socket": "connection.socket",
    "broadcast": "api",
    "to_user": "api",
    "to_users": "api",
    "to_room": "api",
    "bind_user": "api",
    "unbind_user": "api",
    "join_room": "api",
    "leave_room": "api",
    "remove_room": "api",
    "room_members": "api",
    "room_member_count": "api",
    "user_rooms": "api",
    "is_member": "api",
    "emit_cross_server": "api",
    "stream_cross_server": "api",
    "notify_cross_server": "api",
    "emit_cross_server_sync": "api",
    "reply_to_client": "api",
    "CrossServerResult": "cluster.calls",
    "CrossServerReply": "cluster.calls",
    "CrossServerMessage": "cluster.calls",
    "live_nodes": "api",
    "where_is": "api",
    "cluster_room_members": "api",
    "cluster_room_member_count": "api",
    "RealtimeClient": "client",
    "ClientOptions": "client",
    "ClientError": "client",
    "CallTimeout": "client",
    "NotConnected": "client",
    "ConnectionLost": "client",
    "ConnectFailed": "client",
    "ClientClosed": "client",
    "ServerError": "client",
    "RealtimeConsumer": "connection.consumer",
    "NodeInfo": "cluster.membership",
}

__all__ = [
    "MISSING",
    "CallTimeout",
    "ClientClosed",
    "ClientError",
    "ClientOptions",
    "ConnectFailed",
    "ConnectionLost",
    "CrossServerMessage",
    "CrossServerReply",
    "CrossServerResult",
    "Hub",
    "InvalidEventName",
    "NodeInfo",
    "NotConnected",
    "PayloadNotJSON",
    "RealtimeClient",
    "RealtimeConsumer",
    "ServerError",
    "Socket",
    "UserNotBound",
    "UserNotConnected",
    "__version__",
    "bind_user",
    "broadcast",
    "cluster_room_member_count",
    "cluster_room_members",
    "emit_cross_server",
    "emit_cross_server_sync",
    "get_hub",
    "is_member",
    "join_room",
    "leave_room",
    "live_nodes",
    "notify_cross_server",
    "on",
    "on_connect",
    "on_cross_server",
    "on_disconnect",
    "remove_room",
    "reply_to_client",
    "room_member_count",
    "room_members",
    "stream_cross_server",
    "to_room",
    "to_user",
    "to_users",
    "unbind_user",
    "user_rooms",
    "where_is",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime' has no attribute {name!r}")
    return getattr(import_module(f"realtime.{module}"), name)
