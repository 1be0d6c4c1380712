"""How one layer instance reaches the other processes: over N Redis nodes, or (zero nodes)
over an in-process bus between the instances of one layer in different event loops.

Both carry opaque payloads on named channels and keep the set of channels this instance
wants to hear (``wanted``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import Callable
from typing import Any

import hiredis

from .addresses import CLUSTER, SENTINEL
from .config import LayerConfig, NodeConfig
from .health import NodeHealth
from .redis_cluster import ClusterNode
from .redis_node import RedisNode
from .sentinel import SentinelNode
from .strategies import candidates
from .throttle import throttled

logger = logging.getLogger("realtime.layers")

MessageHandler = Callable[[bytes, bytes], None]
HealthHandler = Callable[[RedisNode, str, bool, "str | None"], None]


def make_node(config: NodeConfig, owner: RedisNodes) -> RedisNode | ClusterNode:
    """The node object for one entry of ``nodes``, by its kind."""
    if config.kind == SENTINEL:
        return SentinelNode(config, owner)
    if config.kind == CLUSTER:
        return ClusterNode(config, owner)
    return RedisNode(config, owner)


class RedisNodes:
    """Every Redis node of one layer instance: subscribe on all, publish on the best."""

    def __init__(
        self,
        config: LayerConfig,
        name: str,
        on_message: MessageHandler,
        on_health: HealthHandler,
        excluded: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name
        self.interval = config.health_check_interval
        self.timeout = config.health_check_timeout
        self.strategy = config.strategy
        self.redundancy = config.redundancy
        self.wanted: set[bytes] = set()
        self.nodes = {node.key: make_node(node, self) for node in config.nodes}
        self.excluded = excluded
        self.on_message = on_message
        self._on_health = on_health
        self._counter = 0
        self._cache: dict[bytes, list[str]] = {}
        self.retries = 0
        # Times each node's publisher went down (see LayerStorage.generation).
        self.downs: dict[str, int] = {}

    async def start(self) -> None:
        """Connect every node's publisher (each gives up after one failed attempt)."""
        await asyncio.gather(*(node.start() for node in self.nodes.values()))

    async def close(self) -> None:
        """Close every node."""
        await asyncio.gather(*(node.close() for node in self.nodes.values()))

    def on_health(self, node: RedisNode, kind: str, ok: bool, error: str | None) -> None:
        """A node changed health: forget cached routes, tell the layer."""
        self._cache.clear()
        if kind == "publisher" and not ok:
            self.downs[node.address] = self.downs.get(node.address, 0) + 1
        self._on_health(node, kind, ok, error)

    def snapshot(self) -> list[NodeHealth]:
        """Health of every node, in configuration order."""
        return [
            node.health.changed(excluded=True) if address in self.excluded else node.health
            for address, node in self.nodes.items()
        ]

    def set_excluded(self, addresses: frozenset[str]) -> None:
        """Nodes to avoid when publishing (see ``MultiRedisChannelLayer.set_excluded_nodes``)."""
        self.excluded = addresses
        self._cache.clear()

    # -- publishing ----------------------------------------------------------------------

    def _order(self, channel: bytes) -> list[str]:
        if self.strategy in ("hash", "fastest"):
            order = self._cache.get(channel)
            if order is None:
                order = candidates(self.strategy, self.snapshot(), channel.decode())
                if self.strategy == "hash":
                    self._cache[channel] = order  # latency changes must not be cached
            return order
        self._counter += 1
        return candidates(
            self.strategy, self.snapshot(), channel.decode(), self._counter, random.random()
        )

    async def publish(self, channel: bytes, payload: bytes) -> bool:
        """Publish on ``redundancy`` healthy nodes, each failed copy re-published on the next
        node; False when no copy could be published."""
        order = self._order(channel)
        if not order:
            return False
        used: set[str] = set()
        if self.redundancy == 1 or len(order) == 1:
            return await self._publish_copy(channel, payload, order, used)
        copies = min(self.redundancy, len(order))
        results = await asyncio.gather(
            *(self._publish_copy(channel, payload, order, used) for _ in range(copies))
        )
        return any(results)

    async def _publish_copy(
        self, channel: bytes, payload: bytes, order: list[str], used: set[str]
    ) -> bool:
        for address in order:
            if address in used:
                continue
            used.add(address)
            node = self.nodes.get(address)
            if node is None:
                continue
            try:
                await node.publish(channel, payload)
                return True
            except (ConnectionError, OSError, hiredis.ReplyError) as error:
                self.retries += 1
                throttled(
                    ("publish", address),
                    logging.WARNING,
                    "PUBLISH on %s failed (%s); trying the next node",
                    address,
                    error,
                )
        return False

    # -- subscribing ---------------------------------------------------------------------

    async def subscribe(self, channels: list[bytes]) -> None:
        """Hear ``channels`` on every node; returns once every node that is up confirmed."""
        self.wanted.update(channels)
        await asyncio.gather(*(node.subscribe(channels) for node in self.nodes.values()))

    async def unsubscribe(self, channels: list[bytes]) -> None:
        """Stop hearing ``channels``."""
        self.wanted.difference_update(channels)
        for node in self.nodes.values():
            node.unsubscribe(channels)

    # -- runtime changes -----------------------------------------------------------------

    async def add_node(self, config: NodeConfig) -> RedisNode:
        """Start using one more node: connect, and subscribe what this instance hears."""
        node = make_node(config, self)
        self.nodes[config.key] = node
        self._cache.clear()
        await node.start()
        if self.wanted:
            await node.subscribe(list(self.wanted))
        return node

    async def remove_node(self, address: str) -> None:
        """Stop using a node; publishes in flight on it fail over to the others."""
        node = self.nodes.pop(address, None)
        self._cache.clear()
        if node is not None:
            await node.close()


class InProcessBus:
    """The transport of a layer with zero nodes: instances of the layer in other event loops
    of this process (``async_to_sync`` callers, other threads) hear each other through it."""

    def __init__(self) -> None:
        self.members: weakref.WeakSet[BusMember] = weakref.WeakSet()

    def deliver(self, sender: BusMember, channel: bytes, payload: bytes) -> None:
        """Hand ``payload`` to every other member that wants ``channel``."""
        for member in list(self.members):
            if member is sender or channel not in member.wanted:
                continue
            try:
                member.loop.call_soon_threadsafe(member.on_message, channel, payload)
            except RuntimeError:  # that loop is closed
                self.members.discard(member)


class BusMember:
    """One layer instance on the in-process bus (same interface as :class:`RedisNodes`)."""

    def __init__(self, bus: InProcessBus, on_message: MessageHandler) -> None:
        self.bus = bus
        self.on_message = on_message
        self.loop = asyncio.get_running_loop()
        self.wanted: set[bytes] = set()
        self.retries = 0
        self.nodes: dict[str, Any] = {}

    async def start(self) -> None:
        """Join the bus."""
        self.bus.members.add(self)

    async def close(self) -> None:
        """Leave the bus."""
        self.bus.members.discard(self)

    def snapshot(self) -> list[NodeHealth]:
        """No Redis nodes."""
        return []

    def set_excluded(self, addresses: frozenset[str]) -> None:
        """Nothing to exclude without nodes."""

    async def publish(self, channel: bytes, payload: bytes) -> bool:
        """Hand the payload to the other instances in this process."""
        self.bus.deliver(self, channel, payload)
        return True

    async def subscribe(self, channels: list[bytes]) -> None:
        """Hear ``channels``."""
        self.wanted.update(channels)

    async def unsubscribe(self, channels: list[bytes]) -> None:
        """Stop hearing ``channels``."""
        self.wanted.difference_update(channels)
