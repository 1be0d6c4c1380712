"""Cluster operations run on every node through internal cross-server events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..node.features import LayerFeatures
from .calls import CrossServer

REDIS_ADD = "realtime:redis-add"
REDIS_REMOVE = "realtime:redis-remove"


def node_url(unseal: Callable[[str], str] | None, target: Any) -> str:
    """The URL of a ``redis-add`` request: a plain URL (no password), or ``{"sealed_url":
    ...}`` sealed with the bus key (a password never travels readable on Redis)."""
    if isinstance(target, dict) and isinstance(target.get("sealed_url"), str):
        if unseal is None:
            raise RuntimeError("this node's channel layer cannot read a sealed Redis URL")
        try:
            return unseal(target["sealed_url"])
        except ValueError as error:
            raise ValueError(f"cannot read the sealed Redis URL: {error}") from None
    if isinstance(target, str):
        return target
    raise ValueError("a Redis URL or a sealed one was expected")


def install_operations(cross_server: CrossServer, features: LayerFeatures) -> None:
    """Register the operation handlers over the node layer's declared features."""
    node = cross_server.identity.name

    def require(operation: Any, what: str) -> Any:
        if operation is None or features.health is None:
            raise RuntimeError(f"the channel layer of {node} cannot {what}")
        return operation

    async def redis_add(target: Any) -> dict[str, Any]:
        url = node_url(features.unseal_secret, target)
        await require(features.add_node, "add node")(url)
        return {"nodes": len(features.health())}  # type: ignore[misc]

    async def redis_remove(url: str) -> dict[str, Any]:
        await require(features.remove_node, "remove node")(url)
        return {"nodes": len(features.health())}  # type: ignore[misc]

    cross_server.system_handlers.update({REDIS_ADD: redis_add, REDIS_REMOVE: redis_remove})
