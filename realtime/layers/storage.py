"""Plain Redis commands on the layer's nodes, for features that keep data (recovery history).

:meth:`MultiRedisChannelLayer.storage` returns a :class:`LayerStorage` for the running event
loop. It reuses each node's publishing connection (commands are pipelined with publishes),
orders nodes by consistent hashing whatever the publish strategy, and skips nodes whose
publisher is down. It knows nothing of what is stored.
"""

from __future__ import annotations

from typing import Any

import hiredis

from .redis_cluster import ClusterNode
from .strategies import candidates
from .transports import RedisNodes


class LayerStorage:
    """Commands on the Redis nodes of one layer instance (one event loop)."""

    def __init__(self, transport: RedisNodes, prefix: str) -> None:
        self._transport = transport
        #: The layer's key prefix (CONFIG["prefix"]); keys of stored data start with it.
        self.prefix = prefix
        #: Copies the layer keeps of each publish (CONFIG["redundancy"]).
        self.redundancy = transport.redundancy

    def order(self, key: str) -> list[str]:
        """Addresses of the healthy nodes for ``key``: its hash-ring owner first.

        Standalone and Sentinel entries only: a Redis Cluster entry spreads keys over
        slots, and the stored data's scripts use several keys per call.
        """
        nodes = self._transport.nodes
        return [
            address
            for address in candidates("hash", self._transport.snapshot(), key)
            if not isinstance(nodes.get(address), ClusterNode)
        ]

    async def command(self, address: str, *args: Any) -> Any:
        """Run one command on node ``address``; ``ConnectionError`` when it cannot answer.

        Redis error replies are raised as ``hiredis.ReplyError``.
        """
        node = self._transport.nodes.get(address)
        if node is None:
            raise ConnectionError(f"{address} is not one of the layer's nodes")
        reply = await node.command(*args)
        if isinstance(reply, hiredis.ReplyError):
            raise reply
        return reply

    def generation(self, address: str) -> int:
        """How many times this process saw the node's publisher go down (data kept on a
        node that was unreachable may be stale; users of this class compare generations)."""
        return self._transport.downs.get(address, 0)
