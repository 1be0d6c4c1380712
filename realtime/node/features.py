"""What the node's channel layer offers, read once from its declared ``extensions``.

The hub works over any Channels layer: Channels' in-memory layer, channels_redis, ours. Our
layer declares more (:mod:`realtime.layers.extensions`); everything else gets the plain
Channels API. A layer that declares a feature it lacks is refused here, at start-up, with
the name of what is missing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from channels.layers import InMemoryChannelLayer

from ..layers import extensions


class LayerBrokenPromise(TypeError):
    """The layer declares an extension whose methods it does not have."""


@dataclass(frozen=True, slots=True)
class LayerFeatures:
    """The node layer's capabilities; None where the layer does not offer one."""

    layer: Any
    process_local: bool
    groups: bool
    group_expiry: float | None
    send_remote: Callable[[str, dict[str, Any]], Awaitable[None]] | None
    health: Callable[[], list[Any]] | None
    stats: Callable[[], dict[str, int]] | None
    exclude_redis: Callable[[Iterable[str]], None] | None
    add_node: Callable[[str], Awaitable[None]] | None
    remove_node: Callable[[str], Awaitable[None]] | None
    has_member: Callable[[str, str], Awaitable[bool]] | None = None
    seal_secret: Callable[[str], str] | None = None
    unseal_secret: Callable[[str], str] | None = None
    storage: Callable[[], Awaitable[Any]] | None = None

    @classmethod
    def of(cls, layer: Any) -> LayerFeatures:
        """Read ``layer``'s declared features (None: no layer, a single process)."""
        missing = extensions.missing_members(layer) if layer is not None else []
        if missing:
            raise LayerBrokenPromise(
                f"{type(layer).__name__} declares extensions it lacks: {', '.join(missing)}"
            )
        declared = set(getattr(layer, "extensions", ()) or ())

        def offered(name: str, member: str) -> Any:
            return getattr(layer, member) if name in declared else None

        expiry = getattr(layer, "group_expiry", None)
        return cls(
            layer=layer,
            process_local=_process_local(layer, declared),
            groups="groups" in declared,
            group_expiry=float(expiry) if isinstance(expiry, int | float) and expiry > 0 else None,
            send_remote=offered(extensions.REMOTE_SEND, "group_send_remote"),
            health=offered(extensions.HEALTH, "health"),
            stats=offered(extensions.HEALTH, "stats"),
            exclude_redis=offered(extensions.HEALTH, "set_excluded_nodes"),
            add_node=offered(extensions.RUNTIME_NODES, "add_node"),
            remove_node=offered(extensions.RUNTIME_NODES, "remove_node"),
            has_member=offered(extensions.MEMBERSHIP, "group_has_member"),
            seal_secret=offered(extensions.RUNTIME_NODES, "seal_secret"),
            unseal_secret=offered(extensions.RUNTIME_NODES, "unseal_secret"),
            storage=offered(extensions.STORAGE, "storage"),
        )


def _process_local(layer: Any, declared: set[str]) -> bool:
    if layer is None:
        return True
    if extensions.LOCALITY in declared:
        return bool(layer.is_process_local)
    return isinstance(layer, InMemoryChannelLayer)
