"""The node's API: connections, users, rooms and sends that reach every node.

Fan-out happens once per node. The hub keeps this node's connections, users and rooms in a
:class:`~realtime.node.registry.LocalRegistry`, encodes each push once, and hands the finished text
frame straight to every local recipient. Other nodes are reached through the Channels layer
API only: the hub reads one node-level channel, joins node-level groups (all nodes, each user
with local connections, each room with local members) and publishes **one** message per send,
which every node with recipients fans out locally the same way. With a process-local layer
(in-memory, or the Redis layer with no nodes) nothing is published at all.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from channels.layers import InMemoryChannelLayer, get_channel_layer

from .cluster.calls import CALL, REPLY, CrossServer
from .cluster.health_log import HealthLog
from .cluster.membership import PRESENCE, Membership
from .conf import realtime_settings, server_name
from .connection.handlers import Registry, registry
from .connection.limits import ConnectionsPerAddress
from .connection.socket import OutgoingFrame
from .node.link import NodeLink
from .node.registry import LocalRegistry, RoomKey
from .wire import names
from .wire.protocol import MISSING, encode_push, encode_reply

if TYPE_CHECKING:
    from .connection.socket import Socket

logger = logging.getLogger(__name__)

KICKED_CODE = 4012
KICKED_REASON = "Logged in elsewhere"
_gc_frozen = False


class UserNotBound(RuntimeError):
    """A room operation on a connection that has no bound user."""


class UserNotConnected(LookupError):
    """A room operation for a user with no connection on any reachable node."""


def is_process_local(layer: Any) -> bool:
    """True when ``layer`` cannot carry messages to another node.

    A layer may say so itself with an ``is_process_local`` attribute (the Redis layer with no
    nodes does); Channels' in-memory layer is process-local.
    """
    if layer is None:
        return True
    flag = getattr(layer, "is_process_local", None)
    if flag is not None:
        return bool(flag)
    return isinstance(layer, InMemoryChannelLayer)


def _room_key(namespace: str, room: Any) -> RoomKey:
    if not isinstance(namespace, str) or not namespace:
        raise ValueError(f"room namespace must be a non-empty string, not {namespace!r}")
    return namespace, str(room)


def _freeze_gc_once() -> None:
    global _gc_frozen
    if realtime_settings.GC_FREEZE and not _gc_frozen:
        _gc_frozen = True
        gc.collect()
        gc.freeze()


class Hub:
    """One per event loop (see :func:`get_hub`); every method is safe to call concurrently."""

    def __init__(
        self,
        layer: Any = MISSING,
        name: str | None = None,
        handlers: Registry | None = None,
        role: str = "node",
    ) -> None:
        if role not in ("node", "observer"):
            raise ValueError(f"role must be 'node' or 'observer', not {role!r}")
        self.name = name or server_name()
        # An observer (a management command) hears the cluster and calls it, but is no node:
        # it answers no calls, announces nothing and is not counted in membership.
        self.role = role
        # The process-wide handler registry unless a test gives this hub its own.
        self.handlers = handlers or registry
        # Distinguishes this process's own publishes from another process of the same name.
        self.instance_id = f"{self.name}#{secrets.token_hex(4)}"
        self.local = LocalRegistry()
        # Open connections per client address (REALTIME["MAX_CONNECTIONS_PER_IP"]).
        self.addresses = ConnectionsPerAddress()
        if layer is MISSING:
            layer = get_channel_layer(realtime_settings.CHANNEL_LAYER)
        self.link = NodeLink(self, layer)
        self.cluster = Membership(self)
        self.cross_server = CrossServer(self)
        self.health_log = HealthLog(self)
        self._node_handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "realtime.all": self._on_all,
            "realtime.users": self._on_users,
            "realtime.room": self._on_room,
            "realtime.kick": self._on_kick,
            "realtime.ack": self._on_ack,
            PRESENCE: self.cluster.on_presence,
            CALL: self.cross_server.on_call,
            REPLY: self.cross_server.on_reply,
        }
        from .cluster.operations import install_operations
        from .cluster.queries import install_system_handlers

        install_system_handlers(self.cross_server)
        install_operations(self.cross_server)

    @property
    def distributed(self) -> bool:
        """True when sends must also reach other server nodes."""
        return self.link.enabled

    async def start_node(self) -> None:
        """Join the cluster as a server node: listen to other nodes and announce this one."""
        if self.role != "node":
            raise RuntimeError("an observer hub cannot become a server node")
        await self.link.start_listening()
        await self.cluster.start()

    async def observe(self, wait: float | None = None) -> None:
        """As an observer, listen to announcements for ``wait`` seconds (default: a little
        more than one announcement interval) to learn the live nodes."""
        await self.link.ensure_channel()
        await self.link.sync_group(names.ALL_NODES_GROUP, lambda: True)
        await asyncio.sleep(self.cluster.interval * 1.5 + 0.1 if wait is None else wait)

    async def stop(self) -> None:
        """Leave the cluster and stop listening to other nodes (tests and shutdown)."""
        await self.cluster.stop()
        await self.cross_server.stop()
        await self.health_log.stop()
        await self.link.stop()

    # -- connections ---------------------------------------------------------------------

    async def register(self, socket: Socket) -> None:
        """Track a newly opened connection."""
        self.local.add_socket(socket)
        _freeze_gc_once()
        if not self.link.is_node:
            await self.start_node()

    async def unregister(self, socket: Socket) -> None:
        """Forget a closed connection, its user binding and, with it, room memberships."""
        user_id = socket.user_id
        user_gone, emptied = self.local.remove_socket(socket)
        await self._sync_after_unbind(user_id, user_gone, emptied)

    async def bind_user(self, user_id: Any, socket: Socket, kick_previous: bool = False) -> None:
        """Bind ``socket`` to ``user_id``; with ``kick_previous`` close the user's other
        connections on every node with close code 4012."""
        user_id = str(user_id)
        old_user = socket.user_id
        if old_user is not None and old_user != user_id:
            await self.unbind_socket(socket)
        _, others = self.local.bind(socket, user_id)
        if kick_previous:
            await self.link.publish(
                names.user_group(user_id),
                {"type": "realtime.kick", "user": user_id},
            )
            for other in others:
                await self._kick(other)
        await self.link.sync_group(names.user_group(user_id), lambda: user_id in self.local.users)

    async def _kick(self, socket: Socket) -> None:
        user_id = socket.user_id
        user_gone, emptied = self.local.unbind(socket)
        await socket.close(KICKED_CODE, KICKED_REASON)
        await self._sync_after_unbind(user_id, user_gone, emptied)

    async def unbind_socket(self, socket: Socket) -> None:
        """Remove the user binding of one connection."""
        user_id = socket.user_id
        user_gone, emptied = self.local.unbind(socket)
        await self._sync_after_unbind(user_id, user_gone, emptied)

    async def unbind_user(self, user_id: Any) -> None:
        """Remove the binding of every local connection of ``user_id``."""
        for socket in list(self.local.user_sockets(str(user_id))):
            await self.unbind_socket(socket)

    async def _sync_after_unbind(
        self, user_id: str | None, user_gone: bool, emptied: list[RoomKey]
    ) -> None:
        if not user_gone or user_id is None:
            return
        await self.link.sync_group(names.user_group(user_id), lambda: user_id in self.local.users)
        for key in emptied:
            await self._sync_room_group(key)

    # -- rooms ---------------------------------------------------------------------------

    async def join_room(self, namespace: str, room: Any, user_id: Any) -> None:
        """Add a user with a connection on this node to a room.

        Raises :class:`UserNotConnected` when the user has no connection here.
        """
        key = _room_key(namespace, room)
        user_id = str(user_id)
        if user_id not in self.local.users:
            raise UserNotConnected(f"user {user_id!r} has no connection on node {self.name}")
        if self.local.join(key, user_id):
            await self._sync_room_group(key)

    async def leave_room(self, namespace: str, room: Any, user_id: Any) -> None:
        """Remove a user from a room (nothing happens if they were not a member)."""
        key = _room_key(namespace, room)
        if self.local.leave(key, str(user_id)):
            await self._sync_room_group(key)

    async def remove_room(self, namespace: str, room: Any) -> None:
        """Remove every member of a room on this node."""
        key = _room_key(namespace, room)
        if self.local.remove_room(key):
            await self._sync_room_group(key)

    async def _sync_room_group(self, key: RoomKey) -> None:
        await self.link.sync_group(names.room_group(*key), lambda: key in self.local.rooms)

    def room_members(self, namespace: str, room: Any) -> set[str]:
        """User ids in a room on this node."""
        return set(self.local.rooms.get(_room_key(namespace, room), ()))

    def room_member_count(self, namespace: str, room: Any) -> int:
        """Number of users in a room on this node."""
        return len(self.local.rooms.get(_room_key(namespace, room), ()))

    def user_rooms(self, user_id: Any) -> set[RoomKey]:
        """The (namespace, room) pairs a user is a member of on this node."""
        return set(self.local.user_rooms.get(str(user_id), ()))

    def is_member(self, namespace: str, room: Any, user_id: Any) -> bool:
        """True when the user is a member of the room on this node."""
        return str(user_id) in self.local.rooms.get(_room_key(namespace, room), ())

    def is_connected(self, user_id: Any) -> bool:
        """True when the user has a connection on this node."""
        return str(user_id) in self.local.users

    # -- sends ---------------------------------------------------------------------------
    # Local connections get the frame first: they never wait for the remote publish, which
    # may take until a frozen Redis node is detected (the caller still learns of a failure).

    async def broadcast(self, event: str, data: Any = MISSING) -> None:
        """Push to every connection on every node."""
        frame = encode_push(event, data)
        await self.deliver(list(self.local.sockets.values()), frame)
        await self.link.publish(names.ALL_NODES_GROUP, {"type": "realtime.all", "f": frame})

    async def to_user(self, user_id: Any, event: str, data: Any = MISSING) -> None:
        """Push to every connection of one user, whatever node it is on."""
        user_id = str(user_id)
        frame = encode_push(event, data)
        message = {"type": "realtime.users", "ids": [user_id], "f": frame}
        await self.deliver(list(self.local.user_sockets(user_id)), frame)
        await self.link.publish(names.user_group(user_id), message)

    async def to_users(self, user_ids: Iterable[Any], event: str, data: Any = MISSING) -> None:
        """Push to every connection of several users with one message per node."""
        ids = list(dict.fromkeys(str(user_id) for user_id in user_ids))
        if len(ids) == 1:
            await self.to_user(ids[0], event, data)
            return
        frame = encode_push(event, data)
        await self.deliver(self._user_sockets(ids), frame)
        if ids:
            message = {"type": "realtime.users", "ids": ids, "f": frame}
            await self.link.publish(names.ALL_NODES_GROUP, message)

    async def to_room(
        self,
        namespace: str,
        room: Any,
        event: str,
        data: Any = MISSING,
        exclude: Iterable[Any] = (),
    ) -> None:
        """Push to every member of a room on every node, except the ``exclude`` user ids."""
        key = _room_key(namespace, room)
        excluded = [str(user_id) for user_id in exclude]
        frame = encode_push(event, data)
        message = {"type": "realtime.room", "ns": key[0], "room": key[1], "x": excluded, "f": frame}
        await self.deliver(self.local.room_sockets(key, frozenset(excluded)), frame)
        await self.link.publish(names.room_group(*key), message)

    def _user_sockets(self, user_ids: Iterable[str]) -> list[Socket]:
        return [socket for uid in user_ids for socket in self.local.user_sockets(uid)]

    async def deliver(self, sockets: list[Socket], frame: str) -> int:
        """Hand one finished frame to local connections; returns how many got it."""
        outgoing = OutgoingFrame(frame)
        message = outgoing.message
        sent = 0
        for socket in sockets:
            try:
                # Straight to the connection when it can be (the bytes are built once for
                # all); otherwise the ASGI send, which also holds frames for slow clients.
                if socket.write_now(outgoing) or await socket.transmit(message):
                    sent += 1
            except Exception:
                logger.exception("Sending a frame to %r failed", socket)
        return sent

    # -- messages from other nodes ---------------------------------------------------------

    async def handle_node_message(self, message: dict[str, Any]) -> None:
        """Act on one message another node published (called by the node link)."""
        kind = message.get("type")
        if self.role == "observer" and kind not in (PRESENCE, REPLY):
            return
        handler = self._node_handlers.get(kind)
        if handler is None:
            logger.warning("Ignoring an unknown node message type %r", message.get("type"))
            return
        await handler(message)

    async def _on_all(self, message: dict[str, Any]) -> None:
        await self.deliver(list(self.local.sockets.values()), message["f"])

    async def _on_users(self, message: dict[str, Any]) -> None:
        await self.deliver(self._user_sockets(message["ids"]), message["f"])

    async def _on_room(self, message: dict[str, Any]) -> None:
        key = (message["ns"], message["room"])
        sockets = self.local.room_sockets(key, frozenset(message.get("x", ())))
        await self.deliver(sockets, message["f"])

    async def _on_kick(self, message: dict[str, Any]) -> None:
        for socket in list(self.local.user_sockets(message["user"])):
            await self._kick(socket)

    async def _on_ack(self, message: dict[str, Any]) -> None:
        if message.get("i") != self.instance_id:
            return  # addressed to an earlier process of the same name
        socket = self.local.sockets.get(message["s"])
        if socket is not None:
            await socket.send_text(message["f"])

    async def reply_to_client(self, ref: dict[str, Any], payload: Any = MISSING) -> None:
        """Answer a client's callback forwarded with ``ack.forward()``, from any node.

        The reply frame is encoded here and delivered through the node the client is
        connected to.
        """
        frame = encode_reply(ref["callbackId"], payload)
        if ref["instance"] == self.instance_id:
            socket = self.local.sockets.get(ref["socket"])
            if socket is not None:
                await socket.send_text(frame)
            return
        message = {"type": "realtime.ack", "i": ref["instance"], "s": ref["socket"], "f": frame}
        await self.link.publish(names.node_group(ref["node"]), message)

    # -- introspection ---------------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        """Open connections on this node."""
        return len(self.local.sockets)

    @property
    def room_count(self) -> int:
        """Rooms with at least one member on this node."""
        return len(self.local.rooms)


_hubs: WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = WeakKeyDictionary()


def get_hub() -> Hub:
    """The hub of the running event loop (daphne runs one loop, so one hub per process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub


def existing_hub() -> Hub | None:
    """The running loop's hub if one was made already (never creates one)."""
    try:
        return _hubs.get(asyncio.get_running_loop())
    except RuntimeError:
        return None


def set_hub(hub: Hub) -> None:
    """Install ``hub`` as the running loop's hub (tests build hubs with their own layer)."""
    _hubs[asyncio.get_running_loop()] = hub
