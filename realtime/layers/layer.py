"""``MultiRedisChannelLayer``: a Channels layer over several independent Redis nodes.

Every process subscribes its channels on every healthy node; each publish goes to one
healthy node (``redundancy`` > 1: to several) chosen by the ``strategy``. Messages to named
channels (no ``!``) are stored on the nodes instead, until received or expired
(:mod:`realtime.layers.named`). With zero nodes
the layer works inside one process. State and connections are per event loop: each loop
that uses the layer gets its own instance (:class:`~realtime.layers.core.LayerCore`), whose
connections close with ``close()`` or when ``asyncio.run`` (``async_to_sync``) ends the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

from channels.layers import BaseChannelLayer

from . import extensions
from .config import NodeConfig, parse_config, parse_node
from .core import LayerCore, NoHealthyRedisNode
from .health import NodeHealth
from .redis_node import RedisNode
from .signals import redis_health_changed
from .signing import seal, unseal
from .storage import LayerStorage
from .transports import InProcessBus, RedisNodes

logger = logging.getLogger("realtime.layers")

__all__ = ["MultiRedisChannelLayer", "NoHealthyRedisNode"]


class MultiRedisChannelLayer(BaseChannelLayer):
    """A Channels layer over N independent Redis nodes (CONFIG keys: see the settings
    reference). Besides Channels' ``groups`` and ``flush`` it declares the extensions of
    :mod:`realtime.layers.extensions`."""

    extensions = [
        "groups",
        "flush",
        extensions.LOCALITY,
        extensions.REMOTE_SEND,
        extensions.HEALTH,
        extensions.RUNTIME_NODES,
        extensions.MEMBERSHIP,
        extensions.STORAGE,
    ]
    #: True with zero nodes: nothing leaves this process (set per instance from CONFIG).
    is_process_local: bool = True
    #: This server node's name in health reports; the realtime app hands over its own
    #: (``REALTIME["SERVER_NAME"]``) when Django is ready.
    server_name: ClassVar[Callable[[], str]] = staticmethod(
        lambda: f"{socket.gethostname()}-{os.getpid()}"
    )

    def __init__(self, **config: Any) -> None:
        self.config = parse_config(config)
        super().__init__(expiry=self.config.expiry, capacity=self.config.capacity)
        self.channel_capacity = self.compile_capacities(self.config.channel_capacity)
        #: True with zero nodes: nothing leaves this process (the hub then publishes nothing).
        self.is_process_local = not self.config.nodes
        self.nodes: list[NodeConfig] = list(self.config.nodes)
        self.excluded_nodes: frozenset[str] = frozenset()
        self.bus = InProcessBus()
        self._cores: WeakKeyDictionary[asyncio.AbstractEventLoop, LayerCore] = WeakKeyDictionary()
        # Loops of other threads (async_to_sync) add and drop instances while a thread may
        # be listing them (health() from a view).
        self._cores_lock = threading.Lock()

    @classmethod
    def is_configured_process_local(cls, config: dict[str, Any]) -> bool:
        """True when ``config`` (a CHANNEL_LAYERS CONFIG) has no Redis node."""
        return not config.get("nodes")

    # -- the instance of the running loop ------------------------------------------------

    async def _core(self) -> LayerCore:
        loop = asyncio.get_running_loop()
        core = self._cores.get(loop)
        if core is not None and core.ready:
            return core
        if core is None:
            core = LayerCore(self, replace(self.config, nodes=tuple(self.nodes)))
            with self._cores_lock:
                self._cores[loop] = core
            core.starting = loop.create_task(core.start(), name="realtime-layer-start")
        try:
            await asyncio.shield(core.starting)
        except Exception:
            with self._cores_lock:
                self._cores.pop(loop, None)
            await core.close()
            raise
        return core

    # -- Channels layer API --------------------------------------------------------------

    async def new_channel(self, prefix: str = "specific") -> str:
        """A new process-specific channel name, ready to receive on."""
        core = await self._core()
        name = await core.new_channel(prefix)
        self.require_valid_channel_name(name)
        return name

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """Send to one channel. Raises ``ChannelFull`` when a local channel is at capacity
        and :class:`NoHealthyRedisNode` when no Redis node could take the message."""
        self.require_valid_channel_name(channel)
        core = await self._core()
        await core.send(channel, message)

    async def receive(self, channel: str) -> dict[str, Any]:
        """Wait for the next message on a channel of this process."""
        self.require_valid_channel_name(channel)
        core = await self._core()
        return await core.receive(channel)

    async def group_add(self, group: str, channel: str) -> None:
        """Add ``channel`` to ``group``; returns once messages to the group can reach it."""
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        core = await self._core()
        await core.group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        """Remove ``channel`` from ``group`` (nothing happens if it was not a member)."""
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        core = await self._core()
        await core.group_discard(group, channel)

    async def group_has_member(self, group: str, channel: str) -> bool:
        """True when ``channel`` is a member of ``group`` in this process (cheap: long-lived
        members such as the hub's node channel check and re-assert their memberships)."""
        core = await self._core()
        return channel in core.local.groups.get(group, ())

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Send to every member of ``group`` in every process. Never raises for full
        channels or unavailable Redis nodes (those drops are logged and counted)."""
        self.require_valid_group_name(group)
        core = await self._core()
        await core.group_send(group, message)

    async def group_send_remote(self, group: str, message: dict[str, Any]) -> None:
        """Like :meth:`group_send`, but only for the members in *other* processes: the
        caller has delivered to this process's members itself (the hub does)."""
        self.require_valid_group_name(group)
        core = await self._core()
        await core.group_send(group, message, local=False)

    async def flush(self) -> None:
        """Drop every message, group membership and non-preset subscription of this
        process (in the running event loop)."""
        core = await self._core()
        await core.flush()

    async def close(self) -> None:
        """Close the connections of the running event loop's instance."""
        with self._cores_lock:
            core = self._cores.pop(asyncio.get_running_loop(), None)
        if core is not None:
            if core.starting is not None and not core.starting.done():
                await asyncio.gather(core.starting, return_exceptions=True)
            await core.close()

    async def storage(self) -> LayerStorage | None:
        """Plain Redis commands on this layer's nodes for the running loop (see
        :class:`~realtime.layers.storage.LayerStorage`); None with zero nodes."""
        if self.is_process_local:
            return None
        core = await self._core()
        transport = core.transport
        return (
            LayerStorage(transport, self.config.prefix)
            if isinstance(transport, RedisNodes)
            else None
        )

    # -- health and runtime changes ------------------------------------------------------

    def _any_core(self) -> LayerCore | None:
        loop = _running_loop()
        core = self._cores.get(loop) if loop is not None else None
        if core is None:
            core = next((c for c in self._live_cores() if c.ready), None)
        return core

    def health(self) -> list[NodeHealth]:
        """A snapshot of every Redis node (see :class:`NodeHealth`) as the running loop's
        instance sees it (from sync code: the first running instance, e.g. the server's)."""
        core = self._any_core()
        if core is not None:
            return core.transport.snapshot()
        return [
            NodeHealth(
                node.key,
                node.host,
                node.port,
                excluded=node.key in self.excluded_nodes,
                kind=node.kind,
            )
            for node in self.nodes
        ]

    def stats(self) -> dict[str, int]:
        """Traffic counters of the running loop's instance: published, received,
        duplicates_dropped, channel_full_drops, group_messages_dropped, malformed_dropped,
        expired, dead_channels_swept, publish_retries; with Redis nodes and named channels in
        use: stored, taken and store_failures; with signing on, the messages dropped for their
        signature: unsigned_dropped, unknown_key_dropped, forged_dropped, stale_dropped,
        replayed_dropped."""
        core = self._any_core()
        return core.counters() if core is not None else {}

    def set_excluded_nodes(self, addresses: Iterable[str]) -> None:
        """Make publishers avoid these nodes (addresses or URLs) unless no other healthy
        node remains; an empty list clears it. For the cluster code: a node that another
        server process cannot read from would otherwise swallow messages meant for it."""
        keys = frozenset(self._address(address) for address in addresses)
        self.excluded_nodes = keys
        for core in self._live_cores():
            if _running_loop() is core.loop:
                core.transport.set_excluded(keys)
            else:
                core.loop.call_soon_threadsafe(core.transport.set_excluded, keys)

    def _live_cores(self) -> list[LayerCore]:
        with self._cores_lock:
            cores = list(self._cores.values())
        return [core for core in cores if not core.loop.is_closed()]

    def _address(self, url_or_address: str) -> str:
        address = parse_node(url_or_address, "address").key
        if address not in {node.key for node in self.nodes}:
            # The address, not the URL: a URL may carry a password.
            raise ValueError(f"{address} is not one of this layer's Redis nodes")
        return address

    def seal_secret(self, secret: str) -> str:
        """``secret`` (a Redis URL with its password) sealed for the other processes of this
        deployment: only a holder of the bus key can read it on Redis. ``RuntimeError``
        when the bus is not signed (no key)."""
        if not self.config.signing_keys:
            raise RuntimeError(
                "the bus between servers is not signed (no Redis node, or CONFIG['signing'] "
                "is False): there is no key to seal a secret with"
            )
        return seal(self.config.signing_keys[0], secret)

    def unseal_secret(self, token: str) -> str:
        """The secret of a :meth:`seal_secret` token; ``ValueError`` when it is not one."""
        return unseal(self.config.signing_keys, token)

    async def add_node(self, url: str | dict[str, Any]) -> None:
        """Start using one more Redis node while traffic flows."""
        if self.is_process_local:
            raise RuntimeError(
                "This layer was configured with zero Redis nodes (in-process mode); "
                "configure at least one node to add others at runtime."
            )
        node = parse_node(url, "add_node")
        if node.key in {known.key for known in self.nodes}:
            raise ValueError(f"{node.key} is already one of this layer's Redis nodes")
        self.nodes.append(node)
        for core in self._live_cores():
            if isinstance(core.transport, RedisNodes):
                added = await self._on_loop(core, core.transport.add_node(node))
                if added is not None:
                    self._emit(core, added, "added", "node", None)

    async def remove_node(self, url: str) -> None:
        """Stop using a Redis node; messages in flight on it are re-published elsewhere."""
        address = self._address(url)
        self.nodes = [node for node in self.nodes if node.key != address]
        for core in self._live_cores():
            if isinstance(core.transport, RedisNodes):
                node = core.transport.nodes.get(address)
                await self._on_loop(core, core.transport.remove_node(address))
                if node is not None:
                    self._emit(core, node, "removed", "node", None)

    async def _on_loop(self, core: LayerCore, coroutine: Any) -> Any:
        if core.loop is asyncio.get_running_loop():
            return await coroutine
        future = asyncio.run_coroutine_threadsafe(coroutine, core.loop)
        return await asyncio.wrap_future(future)

    def health_changed(
        self, core: LayerCore, node: RedisNode, kind: str, ok: bool, error: str | None
    ) -> None:
        """Called by an instance when a connection of ``node`` went up or down, or (``kind``
        ``failover``) when the primary of a Sentinel or Cluster entry moved."""
        event = "failover" if kind == "failover" else ("up" if ok else "down")
        self._emit(core, node, event, kind, error)

    def _server_name(self) -> str:
        try:
            return type(self).server_name()
        except Exception:  # settings not configured (a script using the layer directly)
            return f"{socket.gethostname()}-{os.getpid()}"

    def _emit(
        self, core: LayerCore, node: RedisNode, event: str, kind: str, error: str | None
    ) -> None:
        snapshot = core.transport.snapshot()
        details = {
            "host": node.config.host,
            "port": node.config.port,
            "address": node.address,
            "kind": node.config.kind,
            "server_name": self._server_name(),
            "event": event,
            "connection_type": kind,
            "healthy": node.health.healthy and event != "removed",
            "error": error,
            "healthy_publishers": sum(1 for n in snapshot if n.publish_ok),
            "healthy_subscribers": sum(1 for n in snapshot if n.subscribe_ok),
            "node_count": len(snapshot),
        }
        for receiver, result in redis_health_changed.send_robust(
            sender=type(self), layer=self, **details
        ):
            if isinstance(result, Exception):
                logger.error("redis_health_changed receiver %r failed: %s", receiver, result)
        if self.config.on_health_change is not None:
            try:
                self.config.on_health_change(layer=self, **details)
            except Exception:
                logger.exception("CONFIG['on_health_change'] failed")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
