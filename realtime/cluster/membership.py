"""Cluster membership: every node announces itself; every node keeps the table of live nodes.

Each node publishes a presence message on the all-nodes group every
``NODE_HEARTBEAT_INTERVAL`` seconds (name, host, pid, start time, version, connections,
rooms, users, and its own view of every Redis node's health). A node that missed
``NODE_MISSED_HEARTBEATS`` announcements is dead. The table gives the default number of
expected cross-server replies, the names of nodes that did not reply, duplicate server name
detection, and the data of the admin status page and ``realtime_status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import signals
from ..conf import realtime_settings
from ..metrics import DropReport, metrics
from ..node.features import LayerFeatures
from ..node.identity import NodeIdentity
from ..node.link import NodeLink
from ..throttled_log import ThrottledLogger
from ..version import __version__
from ..wire import names
from ..wire.node_messages import Presence

logger = logging.getLogger(__name__)
#: (connections, rooms, users) on this node right now.
LocalCounts = Callable[[], tuple[int, int, int]]


@dataclass
class NodeInfo:
    """What a node says about itself in its announcements."""

    name: str
    instance: str
    host: str
    pid: int
    started: float
    version: str
    connections: int
    rooms: int
    users: int
    redis: list[dict[str, Any]] | None = None
    counters: dict[str, int] | None = None
    last_seen: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        """A plain dict (for messages, JSON output and signals)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeInfo:
        """Build from an announcement, ignoring keys a newer version may add."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def layer_health(features: LayerFeatures) -> list[dict[str, Any]] | None:
    """The layer's per-Redis-node health as plain dicts, or None for layers without it."""
    if features.health is None:
        return None
    entries = []
    for entry in features.health():
        entries.append(
            dataclasses.asdict(entry) if dataclasses.is_dataclass(entry) else dict(entry)
        )
    return entries


def node_counters(features: LayerFeatures) -> dict[str, int]:
    """What the limits refused or dropped (realtime.metrics) and the layer's traffic
    counters (prefixed ``layer_``)."""
    counters = metrics.snapshot()
    if features.stats is not None:
        counters.update({f"layer_{name}": value for name, value in features.stats().items()})
    return counters


def redis_key(entry: dict[str, Any]) -> str:
    """A stable name for a Redis node in a health entry (its address, never a password)."""
    for key in ("address", "url", "key"):
        if entry.get(key):
            return str(entry[key])
    return f"{entry.get('host')}:{entry.get('port')}"


def _readable(health: list[dict[str, Any]]) -> set[str]:
    # A peer reads a Redis node it lists without a broken subscription; one it does not list
    # at all (just added elsewhere, not yet there) it cannot read either.
    return {redis_key(entry) for entry in health if entry.get("subscribe_ok") is not False}


def redis_healthy(entry: dict[str, Any]) -> bool:
    """Usable for publishing and, where the node subscribes at all, for receiving."""
    return bool(entry.get("publish_ok")) and entry.get("subscribe_ok") is not False


class LatencyHistory:
    """This node's measured latency to each Redis node, one sample per announcement."""

    def __init__(self) -> None:
        self.samples: dict[str, deque[tuple[float, float | None]]] = {}

    def record(self, health: list[dict[str, Any]], now: float | None = None) -> None:
        """Append one sample per Redis node (None while it is unhealthy)."""
        now = time.time() if now is None else now
        keep = max(1, int(realtime_settings.LATENCY_HISTORY_MINUTES * 60 / _interval()))
        for entry in health:
            series = self.samples.setdefault(redis_key(entry), deque(maxlen=keep))
            latency = entry.get("latency_ms")
            series.append((now, latency if redis_healthy(entry) else None))

    def as_dict(self) -> dict[str, list[tuple[float, float | None]]]:
        """The series by Redis node."""
        return {key: list(series) for key, series in self.samples.items()}


def _interval() -> float:
    return float(realtime_settings.NODE_HEARTBEAT_INTERVAL)


class Membership:
    """The live-node table of one node (or observer), and the announcement loop."""

    def __init__(self, identity: NodeIdentity, link: NodeLink, counts: LocalCounts) -> None:
        self.identity = identity
        self.link = link
        self.counts = counts
        self.started = time.time()
        self.peers: dict[str, NodeInfo] = {}
        # name -> {instance: (first seen, last seen)}, to tell a restart from two live processes.
        self._instances: dict[str, dict[str, tuple[float, float]]] = {}
        self.duplicates: set[str] = set()
        # Recently departed nodes (name, last announcement, when), newest last.
        self.departed: deque[tuple[str, dict[str, Any], float]] = deque(maxlen=20)
        self.latency = LatencyHistory()
        # Redis nodes publishers avoid because a live peer cannot read from them.
        self.excluded_redis: list[str] = []
        # Observers only: names live peers vouch for (name -> when we were told).
        self.vouched: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._throttled = ThrottledLogger(logger, 60.0)
        self._drops = DropReport(logging.getLogger("realtime.drops"))

    @property
    def interval(self) -> float:
        """Seconds between announcements."""
        return float(realtime_settings.NODE_HEARTBEAT_INTERVAL)

    @property
    def dead_after(self) -> float:
        """Seconds of silence after which a node is dead."""
        return self.interval * realtime_settings.NODE_MISSED_HEARTBEATS

    def own_info(self) -> NodeInfo:
        """This node's current announcement."""
        connections, rooms, users = self.counts()
        features = self.link.features
        return NodeInfo(
            name=self.identity.name,
            instance=self.identity.instance_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            started=self.started,
            version=__version__,
            connections=connections,
            rooms=rooms,
            users=users,
            redis=layer_health(features) if self.link.enabled else None,
            counters=node_counters(features),
        )

    async def start(self) -> None:
        """Start announcing (nothing to do in single-node mode)."""
        if self._task is None and self.link.enabled:
            self._wake = asyncio.Event()
            signals.redis_health_changed.connect(self._on_own_redis_health)
            self._task = asyncio.get_running_loop().create_task(
                self._announce_loop(), name="realtime-membership"
            )

    def _on_own_redis_health(self, sender: Any = None, layer: Any = None, **kwargs: Any) -> None:
        # Announce at once when this node's Redis health changes: peers must stop publishing
        # on a Redis node this one cannot read *before* it misses messages there, not up to an
        # interval later (and resume as soon as it reads again).
        if layer is self.link.layer and self._wake is not None:
            self._wake.set()

    async def stop(self) -> None:
        """Stop announcing and tell the others this node is leaving (they drop it at once)."""
        task, self._task = self._task, None
        if task is None:
            return
        signals.redis_health_changed.disconnect(self._on_own_redis_health)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(Exception):
            await self.link.publish(
                names.ALL_NODES_GROUP, Presence(self.own_info().as_dict(), leaving=True)
            )

    async def _announce_loop(self) -> None:
        while True:
            info = self.own_info()
            self._drops.check(info.counters or {})
            try:
                await self.link.publish(names.ALL_NODES_GROUP, Presence(info.as_dict()))
            except Exception:
                self._throttled.log(
                    "announce", logging.WARNING, "Announcing this node failed", exc_info=True
                )
            self.sweep()
            self.latency.record(layer_health(self.link.features) or [])
            assert self._wake is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    async def on_presence(self, message: Presence) -> None:
        """Record another node's announcement."""
        info = NodeInfo.from_dict(message.node)
        if message.leaving:
            self._forget(info)
            return
        info.last_seen = time.time()
        self._check_duplicate(info)
        if info.name == self.identity.name:
            return
        joined = info.name not in self.peers
        self.peers[info.name] = info
        if joined:
            level = logging.INFO if self.identity.role == "node" else logging.DEBUG
            logger.log(
                level, "Server node %s joined (pid %s on %s)", info.name, info.pid, info.host
            )
            signals.node_joined.send(
                sender=Membership, membership=self, name=info.name, info=info.as_dict()
            )
        self.share_subscriber_health()

    def share_subscriber_health(self) -> None:
        """Make this node's publishers avoid Redis nodes that a live peer cannot read from.

        A node whose subscription to a Redis node is broken, or that does not have the node
        (yet: ``realtime_redis add`` reaches the nodes one by one), would silently miss every
        message published there (the seed's defect); every peer announces what it can read.
        """
        # Observers (commands) publish too: `realtime_redis add` reads the new Redis node
        # before the nodes do, and must not send them its request through it.
        exclude = self.link.features.exclude_redis
        if exclude is None:
            return
        ours = {redis_key(entry) for entry in layer_health(self.link.features) or []}
        unreadable = sorted(
            {
                address
                for info in self.peers.values()
                if info.redis is not None
                for address in ours - _readable(info.redis)
            }
        )
        if unreadable == self.excluded_redis:
            return
        self.excluded_redis = unreadable
        if unreadable:
            logger.warning(
                "Publishing avoids %s: a server node cannot read from it", ", ".join(unreadable)
            )
        exclude(unreadable)

    def _check_duplicate(self, info: NodeInfo) -> None:
        if info.name == self.identity.name:
            # This process is alive: anyone else announcing its name is a duplicate.
            if info.instance != self.identity.instance_id:
                self._report_duplicate(info.name, [info.instance])
            return
        now = info.last_seen
        seen = self._instances.setdefault(info.name, {})
        first_seen, _ = seen.get(info.instance, (now, now))
        seen[info.instance] = (first_seen, now)
        for instance, (_, last) in list(seen.items()):
            if now - last > self.dead_after:
                del seen[instance]
        # Another instance that announced after this one first appeared is alive at the same
        # time; a restarted node's old instance went silent before the new one appeared.
        concurrent = [
            i for i, (_, last) in seen.items() if i != info.instance and last > first_seen
        ]
        if concurrent:
            self._report_duplicate(info.name, [*concurrent, info.instance])

    def _report_duplicate(self, name: str, instances: list[str]) -> None:
        if own := name == self.identity.name:
            instances = sorted({*instances, self.identity.instance_id})
        self.duplicates.add(name)
        self._throttled.log(
            ("duplicate", name),
            logging.ERROR,
            "DUPLICATE SERVER NAME %r is used by %d live processes (%s)%s. Give every node its "
            "own REALTIME_SERVER_NAME: cross-server replies and targeting are wrong until then.",
            name,
            len(instances),
            ", ".join(instances),
            " including this one" if own else "",
        )
        signals.duplicate_server_name.send(
            sender=Membership, membership=self, name=name, instances=instances
        )

    def _forget(self, info: NodeInfo) -> None:
        current = self.peers.get(info.name)
        if current is None or current.instance != info.instance:
            return  # an older process of that name, or one never seen
        del self.peers[info.name]
        self._instances.pop(info.name, None)
        self.departed.append((info.name, current.as_dict(), time.time()))
        logger.info("Server node %s left the cluster", info.name)
        signals.node_left.send(
            sender=Membership, membership=self, name=info.name, info=current.as_dict()
        )
        self.share_subscriber_health()

    def sweep(self) -> list[str]:
        """Drop nodes silent for longer than ``dead_after``; returns their names."""
        now = time.time()
        gone = [name for name, info in self.peers.items() if now - info.last_seen > self.dead_after]
        for name in gone:
            info = self.peers.pop(name)
            self._instances.pop(name, None)
            self.duplicates.discard(name)
            self.departed.append((name, info.as_dict(), now))
            logger.warning("Server node %s left (silent for %.1fs)", name, now - info.last_seen)
            signals.node_left.send(
                sender=Membership, membership=self, name=name, info=info.as_dict()
            )
        if gone:
            self.share_subscriber_health()
        return gone

    def live_names(self) -> list[str]:
        """Names of the live nodes (this one included unless it is an observer), sorted;
        an observer adds the names its peers vouched for recently."""
        names = {info.name for info in self.live_nodes()}
        now = time.time()
        names.update(name for name, when in self.vouched.items() if now - when <= self.dead_after)
        return sorted(names)

    def vouch(self, names: set[str]) -> None:
        """Record nodes that live peers consider alive (observers learning the cluster)."""
        now = time.time()
        self.vouched.update(dict.fromkeys(names - {self.identity.name}, now))

    def live_nodes(self) -> list[NodeInfo]:
        """Announcements of the live nodes, this one (fresh) included unless it is an
        observer, sorted by name."""
        self.sweep()
        nodes = dict(self.peers)
        if self.identity.role == "node":
            nodes[self.identity.name] = self.own_info()
        return [nodes[name] for name in sorted(nodes)]
