"""realtime: distributed WebSocket events, rooms and cross-server calls for Django Channels.

Everything public is importable from here; the imports are lazy so that listing the app in
INSTALLED_APPS loads nothing before Django is ready.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

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
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime' has no attribute {name!r}")
    return getattr(import_module(f"realtime.{module}"), name)
