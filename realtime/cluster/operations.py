"""Cluster operations run on every node through internal cross-server events."""

from __future__ import annotations

from typing import Any

from ..node.features import LayerFeatures
from .calls import CrossServer

REDIS_ADD = "realtime:redis-add"
REDIS_REMOVE = "realtime:redis-remove"


def install_operations(cross_server: CrossServer, features: LayerFeatures) -> None:
    """Register the operation handlers over the node layer's declared features."""
    node = cross_server.identity.name

    def require(operation: Any, what: str) -> Any:
        if operation is None or features.health is None:
            raise RuntimeError(f"the channel layer of {node} cannot {what}")
        return operation

    async def redis_add(url: str) -> dict[str, Any]:
        await require(features.add_node, "add node")(url)
        return {"nodes": len(features.health())}  # type: ignore[misc]

    async def redis_remove(url: str) -> dict[str, Any]:
        await require(features.remove_node, "remove node")(url)
        return {"nodes": len(features.health())}  # type: ignore[misc]

    cross_server.system_handlers.update({REDIS_ADD: redis_add, REDIS_REMOVE: redis_remove})
