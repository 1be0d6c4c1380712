"""Publish strategies: pure functions from a health snapshot to the nodes to try, in order.

Each returns node addresses, best first. A publish goes to the first one (or the first
``redundancy`` ones) and fails over down the list. Nodes whose publishing connection is down
are never listed. Nodes marked ``excluded`` (another server cannot read them) come after
every other usable node, and nodes whose subscription in this process is broken come last.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from functools import lru_cache

from .health import NodeHealth

VIRTUAL_POINTS = 64
STRATEGIES = ("hash", "round-robin", "random", "fastest")


def _point(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


@lru_cache(maxsize=32)
def hash_ring(addresses: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The consistent-hash ring of ``addresses``: sorted points and the node at each."""
    points = sorted(
        (_point(f"{address}#{index}"), address)
        for address in addresses
        for index in range(VIRTUAL_POINTS)
    )
    return tuple(p for p, _ in points), tuple(a for _, a in points)


@lru_cache(maxsize=4096)
def ring_order(addresses: tuple[str, ...], channel: str) -> tuple[str, ...]:
    """Every address in ring order starting at ``channel``'s point: its owner first, then the
    node that takes over when the owner is down, and so on."""
    points, owners = hash_ring(addresses)
    if not points:
        return ()
    start = bisect.bisect(points, _point(channel))
    order: dict[str, None] = {}
    for index in range(start, start + len(points)):
        order.setdefault(owners[index % len(points)], None)
        if len(order) == len(addresses):
            break
    return tuple(order)


def _tier(node: NodeHealth) -> int:
    if node.subscribe_ok is False:
        return 2
    return 1 if node.excluded else 0


def candidates(
    strategy: str,
    nodes: Sequence[NodeHealth],
    channel: str,
    counter: int = 0,
    chance: float = 0.0,
) -> list[str]:
    """Addresses to publish ``channel``'s message on, best first.

    ``counter`` drives ``round-robin`` (the caller increments it per publish) and ``chance``
    in [0, 1) drives ``random`` (the caller draws it), so the function itself is pure.
    """
    usable = [node for node in nodes if node.publish_ok]
    if strategy == "hash":
        rank = {address: i for i, address in enumerate(ring_order(_addresses(nodes), channel))}
        ordered = sorted(usable, key=lambda node: rank[node.address])
    elif strategy == "fastest":
        ordered = sorted(usable, key=_latency_key)
    elif strategy in ("round-robin", "random"):
        ordered = _rotated(usable, counter if strategy == "round-robin" else chance)
    else:
        raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    return [node.address for node in sorted(ordered, key=_tier)]


def _addresses(nodes: Sequence[NodeHealth]) -> tuple[str, ...]:
    return tuple(node.address for node in nodes)


def _latency_key(node: NodeHealth) -> tuple[bool, float]:
    return node.latency_ms is None, node.latency_ms or 0.0


def _rotated(nodes: list[NodeHealth], position: float) -> list[NodeHealth]:
    if not nodes:
        return []
    # Rotate within the best tier only, so the spread is even among the preferred nodes.
    best = min(_tier(node) for node in nodes)
    preferred = [node for node in nodes if _tier(node) == best]
    shift = int(position * len(preferred)) if isinstance(position, float) else position
    shift %= len(preferred)
    rest = [node for node in nodes if _tier(node) != best]
    return preferred[shift:] + preferred[:shift] + rest
