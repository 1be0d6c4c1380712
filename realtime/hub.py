"""The node's API and the composition root: the only module that knows every part.

Fan-out happens once per node. The hub keeps this node's connections, users and rooms in a
:class:`~realtime.node.registry.LocalRegistry`, encodes each push once, and hands the finished
text frame straight to every local recipient (:mod:`realtime.node.fanout`). Other nodes are
reached through the Channels layer API only (:class:`~realtime.node.link.NodeLink`): the hub
reads one node-level channel, joins node-level groups (all nodes, each user with local
connections, each room with local members) and publishes **one** message per send, which
every node with recipients fans out locally the same way. With a process-local layer
(in-memory, or the Redis layer with no nodes) nothing is published at all.

The parts below the hub never import it: each gets what it needs from it when the hub
builds it (a :class:`~realtime.node.identity.NodeIdentity`, the link, a callable), and the
connection layer gets the hub itself through narrow protocols (``SocketOwner``,
``ConnectionOwner``).
"""

from __future__ import annotations

import asyncio
import gc
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from weakref import WeakKeyDictionary

from channels.layers import get_channel_layer

from .cluster.calls import CrossServer
from .cluster.health_log import HealthLog
from .cluster.membership import Membership
from .cluster.operations import install_operations
from .cluster.queries import install_system_handlers
from .conf import realtime_settings, server_name
from .connection.handlers import Registry, registry
from .connection.limits import ConnectionsPerAddress
from .connection.socket import Socket, UserNotBound, check_frame_size
from .node.fanout import FanOut, deliver
from .node.features import LayerFeatures
from .node.identity import NodeIdentity, Role
from .node.link import NodeLink
from .node.registry import LocalRegistry, RoomKey
from .recovery.attach import HubRecovery
from .recovery.streams import BROADCAST_STREAM, room_stream, user_stream
from .wire import codes, names
from .wire import node_messages as msg
from .wire.frames import OutgoingFrame
from .wire.protocol import MISSING, encode_push, encode_reply

__all__ = ["Hub", "UserNotBound", "UserNotConnected", "get_hub", "set_hub"]

_gc_frozen = False


class UserNotConnected(LookupError):
    """A room operation for a user with no connection on any reachable node."""


def _push_frame(event: str, data: Any) -> str:
    """The push's frame; raises ``FrameTooLarge`` before it reaches anyone."""
    frame = encode_push(event, data)
    check_frame_size(OutgoingFrame(frame))
    return frame


def _room_key(namespace: str, room: Any) -> RoomKey:
    if not isinstance(namespace, str) or not namespace:
        raise ValueError(f"room namespace must be a non-empty string, not {namespace!r}")
    return namespace, str(room)


def _recovery_settings() -> tuple[bool, float, dict[str, Any]]:
    settings = realtime_settings
    return settings.RECOVERY, settings.RECOVERY_WINDOW, settings.HISTORY


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
        role: Role = "node",
    ) -> None:
        if role not in ("node", "observer"):
            raise ValueError(f"role must be 'node' or 'observer', not {role!r}")
        name = name or server_name()
        self.identity = NodeIdentity(name, f"{name}#{secrets.token_hex(4)}", role)
        # The process-wide handler registry unless a test gives this hub its own.
        self.handlers = handlers or registry
        self.local = LocalRegistry()
        # Open connections per client address (REALTIME["MAX_CONNECTIONS_PER_IP"]).
        self.addresses = ConnectionsPerAddress()
        if layer is MISSING:
            layer = get_channel_layer(realtime_settings.CHANNEL_LAYER)
        features = LayerFeatures.of(layer)
        self.link = NodeLink(features, self.identity.instance_id, self._on_node)
        # Connection state recovery (realtime.recovery): history, sessions, our clients.
        self.history = HubRecovery(
            self, deliver, features.storage, self.link.enabled, _recovery_settings
        )
        self.fanout = FanOut(self.local, self.history.send)
        self.cluster = Membership(self.identity, self.link, self._counts)
        self.cross_server = CrossServer(
            self.identity, self.link, self.cluster, self.handlers.cross_server.get
        )
        install_system_handlers(self.cross_server, self)
        install_operations(self.cross_server, self.link.features)
        self.health_log = HealthLog(name)
        self._node_started = False
        self._node_handlers: dict[type, Callable[[Any], Awaitable[None]]] = {
            msg.ToAll: self.fanout.on_message,
            msg.ToUsers: self.fanout.on_message,
            msg.ToRoom: self.fanout.on_message,
            msg.Kick: self._on_kick,
            msg.ClientReply: self._on_client_reply,
            msg.Presence: self.cluster.on_presence,
            msg.Call: self.cross_server.on_call,
            msg.Reply: self.cross_server.on_reply,
        }

    @property
    def name(self) -> str:
        """This server node's name."""
        return self.identity.name

    @property
    def instance_id(self) -> str:
        """This process's id: tells its publishes apart from another process of the name."""
        return self.identity.instance_id

    @property
    def role(self) -> Role:
        """``"node"``, or ``"observer"`` for a management command's hub."""
        return self.identity.role

    @property
    def distributed(self) -> bool:
        """True when sends must also reach other server nodes."""
        return self.link.enabled

    def _counts(self) -> tuple[int, int, int]:
        return len(self.local.sockets), len(self.local.rooms), len(self.local.users)

    async def start_node(self) -> None:
        """Join the cluster as a server node: listen to other nodes and announce this one."""
        if self.role != "node":
            raise RuntimeError("an observer hub cannot become a server node")
        self.health_log.listen(self.link.layer, self.cluster)
        await self.link.start_listening(self.name)
        await self.cluster.start()
        self._node_started = True

    async def observe(self, wait: float | None = None) -> None:
        """As an observer, listen to announcements for ``wait`` seconds (default: a little
        more than one announcement interval) to learn the live nodes."""
        await self.link.ensure_channel()
        await self.link.sync_group(names.ALL_NODES_GROUP, lambda: True)
        await asyncio.sleep(self.cluster.interval * 1.5 + 0.1 if wait is None else wait)

    async def stop(self) -> None:
        """Leave the cluster and stop listening to other nodes (tests and shutdown)."""
        self._node_started = False
        await self.cluster.stop()
        await self.cross_server.stop()
        await self.health_log.stop()
        await self.link.stop()

    # -- connections ---------------------------------------------------------------------

    async def register(self, socket: Socket) -> None:
        """Track a newly opened connection."""
        self.local.add_socket(socket)
        _freeze_gc_once()
        if not self._node_started:  # retried on the next connection if it failed
            await self.start_node()

    async def unregister(self, socket: Socket) -> None:
        """Forget a closed connection, its user binding and, with it, room memberships
        (a recovering client's session is kept first, while its pushes are still noted)."""
        await self.history.suspend(socket)
        user_id = socket.user_id
        user_gone, emptied = self.local.remove_socket(socket)
        self.history.detach(socket)
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
            await self.link.publish(names.user_group(user_id), msg.Kick(user_id))
            for other in others:
                await self._kick(other)
        await self.link.sync_group(names.user_group(user_id), lambda: user_id in self.local.users)

    async def _kick(self, socket: Any) -> None:
        user_id = socket.user_id
        user_gone, emptied = self.local.unbind(socket)
        await socket.close(*codes.KICKED)
        await self._sync_after_unbind(user_id, user_gone, emptied)

    async def unbind_socket(self, socket: Socket) -> None:
        """Remove the user binding of one connection."""
        user_id = socket.user_id
        user_gone, emptied = self.local.unbind(socket)
        await self._sync_after_unbind(user_id, user_gone, emptied)

    async def unbind_user(self, user_id: Any) -> None:
        """Remove the binding of every local connection of ``user_id``."""
        for socket in list(self.local.user_sockets(str(user_id))):
            await self.unbind_socket(socket)  # type: ignore[arg-type]

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
        frame = _push_frame(event, data)
        sockets = list(self.local.sockets.values())
        position = await self.history.push(sockets, frame, BROADCAST_STREAM)
        await self.link.publish(names.ALL_NODES_GROUP, msg.ToAll(frame, position))

    async def to_user(self, user_id: Any, event: str, data: Any = MISSING) -> None:
        """Push to every connection of one user, whatever node it is on."""
        user_id = str(user_id)
        frame = _push_frame(event, data)
        sockets = list(self.local.user_sockets(user_id))
        position = await self.history.push(sockets, frame, user_stream(user_id))
        positions = {user_id: position} if position is not None else None
        message = msg.ToUsers([user_id], frame, positions)
        await self.link.publish(names.user_group(user_id), message)

    async def to_users(self, user_ids: Iterable[Any], event: str, data: Any = MISSING) -> None:
        """Push to every connection of several users with one message per node."""
        ids = list(dict.fromkeys(str(user_id) for user_id in user_ids))
        if len(ids) == 1:
            await self.to_user(ids[0], event, data)
            return
        frame = _push_frame(event, data)
        positions = await self.history.push_users(ids, frame, self.local.user_sockets) or None
        if ids:
            await self.link.publish(names.ALL_NODES_GROUP, msg.ToUsers(ids, frame, positions))

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
        frame = _push_frame(event, data)
        sockets = self.local.room_sockets(key, frozenset(excluded))
        position = await self.history.push(sockets, frame, room_stream(*key), excluded)
        message = msg.ToRoom(*key, frame, excluded, position)
        await self.link.publish(names.room_group(*key), message)

    async def deliver(self, sockets: list[Any], frame: str) -> int:
        """Hand one finished frame to local connections; returns how many got it."""
        return await deliver(sockets, frame)

    # -- messages from other nodes ---------------------------------------------------------

    async def _on_node(self, message: msg.NodeMessage) -> None:
        """Act on one message another node published (called by the node link)."""
        if self.role == "observer" and not isinstance(message, msg.Presence | msg.Reply):
            return
        await self._node_handlers[type(message)](message)

    async def _on_kick(self, message: msg.Kick) -> None:
        for socket in list(self.local.user_sockets(message.user_id)):
            await self._kick(socket)

    async def _on_client_reply(self, message: msg.ClientReply) -> None:
        if message.instance != self.instance_id:
            return  # addressed to an earlier process of the same name
        socket = self.local.sockets.get(message.socket_id)
        if socket is not None:
            await socket.send_text(message.frame)

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
        message = msg.ClientReply(ref["instance"], ref["socket"], frame)
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


def set_hub(hub: Hub) -> None:
    """Install ``hub`` as the running loop's hub (commands and tests build their own)."""
    _hubs[asyncio.get_running_loop()] = hub
