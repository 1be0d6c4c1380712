"""The live cluster status, as data: for the admin page, its JSON endpoint and commands."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .cluster.membership import NodeInfo, redis_healthy, redis_key
from .metrics import dropped_total

if TYPE_CHECKING:
    from .hub import Hub


def _node_row(info: NodeInfo, hub: Hub, now: float, state: str) -> dict[str, Any]:
    row = info.as_dict()
    row.update(
        state=state,
        uptime=max(0.0, now - info.started),
        seen_ago=0.0 if info.name == hub.name else max(0.0, now - info.last_seen),
        is_self=info.name == hub.name,
        dropped=dropped_total(info.counters or {}),
        redis=[
            {
                **entry,
                "key": redis_key(entry),
                "healthy": redis_healthy(entry),
                "deployment": describe_deployment(entry),
            }
            for entry in (info.redis or [])
        ],
    )
    return row


def describe_deployment(entry: dict[str, Any]) -> str:
    """What a Redis entry is and what it uses now: ``standalone``, ``sentinel, primary
    10.0.0.7:6379, 1 failover``, ``cluster, 3 shards (10.0.0.1:7000, ...), 0 failovers``."""
    kind = entry.get("kind") or "standalone"
    if kind == "standalone":
        return kind
    failovers = entry.get("failovers") or 0
    moves = f"{failovers} failover{'' if failovers == 1 else 's'}"
    if kind == "sentinel":
        return f"sentinel, primary {entry.get('primary') or 'not found yet'}, {moves}"
    shards = list(entry.get("shards") or [])
    listed = f"{len(shards)} shard{'' if len(shards) == 1 else 's'}"
    return f"{kind}, {listed} ({', '.join(shards) or 'none yet'}), {moves}"


def cluster_status(hub: Hub) -> dict[str, Any]:
    """Everything the status page shows, from the point of view of ``hub``'s node."""
    now = time.time()
    membership = hub.cluster
    nodes = [
        _node_row(info, hub, now, "duplicate" if info.name in membership.duplicates else "alive")
        for info in membership.live_nodes()
    ]
    departed = [
        {"name": name, "host": info.get("host"), "pid": info.get("pid"), "left_ago": now - when}
        for name, info, when in reversed(membership.departed)
        if name not in {n["name"] for n in nodes}
    ]
    redis_nodes = sorted({entry["key"] for node in nodes for entry in node["redis"]})
    counters = sorted({name for node in nodes for name in node.get("counters") or {}})
    return {
        "generated": now,
        "serving_node": hub.name,
        "mode": "cluster" if hub.distributed else "single-node",
        "heartbeat_interval": membership.interval,
        "nodes": nodes,
        "departed": departed,
        "redis_nodes": redis_nodes,
        "counters": counters,
        "latency_history": membership.latency.as_dict(),
        "health_log_dropped": hub.health_log.dropped,
    }
