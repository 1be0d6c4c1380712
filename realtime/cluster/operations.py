"""Cluster operations run on every node through internal cross-server events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..hub import Hub
    from .calls import CrossServer

REDIS_ADD = "realtime:redis-add"
REDIS_REMOVE = "realtime:redis-remove"


def _layer_method(hub: Hub, name: str) -> Any:
    method = getattr(hub.link.layer, name, None)
    if method is None:
        raise RuntimeError(f"the channel layer of {hub.name} cannot {name.replace('_', ' ')}")
    return method


async def _redis_add(hub: Hub, url: str) -> dict[str, Any]:
    await _layer_method(hub, "add_node")(url)
    return {"nodes": len(_layer_method(hub, "health")())}


async def _redis_remove(hub: Hub, url: str) -> dict[str, Any]:
    await _layer_method(hub, "remove_node")(url)
    return {"nodes": len(_layer_method(hub, "health")())}


def install_operations(cross_server: CrossServer) -> None:
    """Register the operation handlers."""
    cross_server.system_handlers.update({REDIS_ADD: _redis_add, REDIS_REMOVE: _redis_remove})
