"""The features a channel layer may declare beyond the Channels spec, by name.

A layer lists what it offers in its ``extensions`` attribute, as Channels' own layers list
``"groups"`` and ``"flush"``; code above the layer reads that list once, when it takes the
layer into use (:class:`realtime.node.features.LayerFeatures`), instead of probing for
methods at call time. Each name promises the methods of its protocol below.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Protocol

#: ``is_process_local``: True when nothing sent leaves this process.
LOCALITY: Final = "realtime.locality"
#: ``group_send_remote(group, message)``: deliver to the group's members in other processes
#: only (the caller served its own process's members).
REMOTE_SEND: Final = "realtime.remote_send"
#: ``health()``, ``stats()``, ``set_excluded_nodes(addresses)``: per-Redis-node health, traffic
#: counters, and Redis nodes that publishers avoid.
HEALTH: Final = "realtime.health"
#: ``add_node(url)``, ``remove_node(url)``: change the Redis nodes while traffic flows;
#: ``seal_secret(text)``, ``unseal_secret(token)``: carry a URL's password to the other
#: processes unreadable on Redis.
RUNTIME_NODES: Final = "realtime.runtime_nodes"
#: ``group_has_member(group, channel)``: whether a channel of this process is still a member
#: (long-lived members re-assert what the layer dropped).
MEMBERSHIP: Final = "realtime.membership"
#: ``async storage()``: plain Redis commands on the layer's nodes, for data kept there
#: (connection state recovery); None when the layer has no Redis node.
STORAGE: Final = "realtime.storage"


class Locality(Protocol):
    """The :data:`LOCALITY` extension."""

    is_process_local: bool


class RemoteSend(Protocol):
    """The :data:`REMOTE_SEND` extension."""

    async def group_send_remote(self, group: str, message: dict[str, Any]) -> None:
        """Send to the group's members in other processes."""


class Health(Protocol):
    """The :data:`HEALTH` extension."""

    def health(self) -> list[Any]:
        """One health entry (a dataclass or dict) per Redis node."""

    def stats(self) -> dict[str, int]:
        """Traffic counters."""

    def set_excluded_nodes(self, addresses: Iterable[str]) -> None:
        """Make publishers avoid these Redis nodes."""


class RuntimeNodes(Protocol):
    """The :data:`RUNTIME_NODES` extension."""

    async def add_node(self, url: str) -> None:
        """Start using one more Redis node."""

    async def remove_node(self, url: str) -> None:
        """Stop using a Redis node."""

    def seal_secret(self, secret: str) -> str:
        """``secret`` sealed with the bus key."""

    def unseal_secret(self, token: str) -> str:
        """The secret of a sealed token; ValueError when it is not one."""


class Membership(Protocol):
    """The :data:`MEMBERSHIP` extension."""

    async def group_has_member(self, group: str, channel: str) -> bool:
        """True when ``channel`` (of this process) is a member of ``group``."""


class Storage(Protocol):
    """The :data:`STORAGE` extension."""

    async def storage(self) -> Any:
        """A :class:`~realtime.layers.storage.LayerStorage` of the running loop, or None."""


#: The methods or attributes each extension promises.
REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    LOCALITY: ("is_process_local",),
    REMOTE_SEND: ("group_send_remote",),
    HEALTH: ("health", "stats", "set_excluded_nodes"),
    RUNTIME_NODES: ("add_node", "remove_node", "seal_secret", "unseal_secret"),
    MEMBERSHIP: ("group_has_member",),
    STORAGE: ("storage",),
}


def missing_members(layer: Any) -> list[str]:
    """What ``layer`` declares in ``extensions`` but lacks (empty when it keeps its word)."""
    declared = getattr(layer, "extensions", ()) or ()
    return [
        f"{name}: {member}"
        for name in declared
        for member in REQUIRED.get(name, ())
        if not hasattr(layer, member)
    ]
