"""A ``nodes`` entry that is a Redis Cluster: groups and process channels over sharded
pub/sub (``SPUBLISH`` / ``SSUBSCRIBE``, Redis 7+), each channel on the shard that owns its
slot.

Why our own routing rather than redis-py's ``RedisCluster``: redis-py's asyncio cluster
client has no pub/sub at all (sharded or not), and its command path costs several times
the per-publish time of the layer's hiredis connections (``layers/resp.py``), which the
speed targets are measured against. Routing here is small: one :class:`ShardNode` (a
:class:`~realtime.layers.redis_node.RedisNode` speaking the sharded commands) per shard
primary, the slot map from ``CLUSTER SLOTS``, and these rules:

* a channel's slot is CRC16 of its name (or its ``{hash tag}``) modulo 16384;
* ``MOVED`` answers re-route the publish at once and refresh the slot map; ``ASK`` answers
  send that one publish with ``ASKING`` to the named node;
* the slot map is refreshed when a shard's connection goes down (then once per health
  interval until it is back or replaced), when the server unsubscribes a channel (its slot
  moved), and every ``REFRESH_EVERY`` seconds; shards that are no longer primaries are
  closed and their channels subscribed on the new owners (a failover);
* the entry can publish while any shard can (a publish whose shard is down fails, and the
  layer re-publishes it on the next entry); it reads fully only while every shard holding
  a subscription does (``subscribe_ok``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import hiredis

from .addresses import CLUSTER, NodeConfig
from .health import NodeHealth
from .redis_node import ConfiguredEntry, NodeOwner, RedisNode
from .resp import RedisConnectionLost, RespConnection, ask_once
from .slots import SLOTS, crc16, key_slot

__all__ = ["ClusterNode", "ShardNode", "crc16", "key_slot"]

logger = logging.getLogger("realtime.layers")

REFRESH_EVERY = 10.0


class ShardOwner:
    """What a shard reports to: the cluster entry; and the channels wanted on this shard."""

    def __init__(self, cluster: ClusterNode) -> None:
        self.cluster = cluster
        self.name = cluster.owner.name
        self.interval = cluster.owner.interval
        self.timeout = cluster.owner.timeout
        self.wanted: set[bytes] = set()
        self.on_message = cluster.owner.on_message

    def on_health(self, node: RedisNode, kind: str, ok: bool, error: str | None) -> None:
        """A shard connection went up or down."""
        self.cluster.shard_health(node, kind, ok, error)


class ShardNode(RedisNode):
    """One shard primary of a cluster, spoken to with the sharded pub/sub commands."""

    PUBLISH, SUBSCRIBE, UNSUBSCRIBE = "SPUBLISH", "SSUBSCRIBE", "SUNSUBSCRIBE"
    owner: ShardOwner

    def __init__(self, config: NodeConfig, owner: ShardOwner) -> None:
        super().__init__(config, owner)
        self.retry_cap = max(0.1, owner.interval)

    def _send_each(self, connection: RespConnection, command: str, channels: list[bytes]) -> None:
        for channel in channels:
            connection.send(command, channel)

    def _unsubscribed(self, channel: bytes) -> None:
        self._subscribed.discard(channel)
        if channel in self.owner.wanted:  # not asked for: the server moved the slot away
            self.owner.cluster.slot_moved(channel)

    def publish_asking(self, channel: bytes, payload: bytes) -> asyncio.Future[Any]:
        """``ASKING`` then ``SPUBLISH`` (the answer to an ``-ASK`` redirection)."""
        connection = self._publisher
        if connection is None:
            return self.publish(channel, payload)
        connection.command("ASKING")
        return connection.command(self.PUBLISH, channel, payload)


class ClusterNode(ConfiguredEntry):
    """A Redis Cluster entry; the same interface as :class:`RedisNode` for the layer."""

    def __init__(self, config: NodeConfig, owner: NodeOwner) -> None:
        self.config = config
        self.owner = owner
        self.health = NodeHealth(
            config.key, config.host, config.port, since=time.time(), kind=CLUSTER
        )
        self.slots: list[str | None] = [None] * SLOTS
        self.shards: dict[str, ShardNode] = {}
        self._slot_of: dict[bytes, int] = {}
        self._stale = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._closing = False

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Read the slot map and connect every shard primary (failures retry later)."""
        try:
            await self.refresh()
        except Exception as error:
            self.health = self.health.changed(last_error=f"{type(error).__name__}: {error}")
        self._task = asyncio.get_running_loop().create_task(
            self._upkeep(), name="realtime-cluster-topology"
        )

    async def close(self) -> None:
        """Stop refreshing and close every shard."""
        self._closing = True
        tasks = [t for t in (self._task, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(shard.close() for shard in self.shards.values()))

    async def _upkeep(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stale.wait(), REFRESH_EVERY)
            self._stale.clear()
            with contextlib.suppress(Exception):
                await self.refresh()
            if not self._complete():
                # A shard is down or a slot has no owner: look again next interval.
                await asyncio.sleep(self.owner.interval)
                self._stale.set()

    def _complete(self) -> bool:
        shards = self.shards.values()
        return all(self.slots) and all(shard.health.publish_ok for shard in shards)

    def slot_moved(self, channel: bytes) -> None:
        """The server unsubscribed ``channel`` (its slot moved): refresh and re-place it."""
        self._stale.set()

    # -- topology ------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Read the slot map and apply it: new primaries connected, channels re-placed."""
        async with self._lock:
            ranges = await self._fetch_slots()
            await self._apply(ranges)

    async def _fetch_slots(self) -> list[tuple[int, int, str]]:
        healthy = [a for a, s in self.shards.items() if s.health.publish_ok]
        candidates = [_split(a) for a in healthy] + list(self.config.seeds)
        errors: list[str] = []
        name = f"{self.owner.name}-topology"
        for host, port in dict.fromkeys(candidates):
            node = self.config.at(host, port)
            ok, reply = await ask_once(
                node, ("CLUSTER", "SLOTS"), self.connect_timeout, name, errors
            )
            if reply:
                return [
                    (int(start), int(end), f"{primary[0].decode() or host}:{int(primary[1])}")
                    for start, end, primary, *_ in reply
                ]
            if ok:
                errors.append(f"{host}:{port}: no slots assigned")
        raise RedisConnectionLost(f"no cluster node answered CLUSTER SLOTS: {'; '.join(errors)}")

    async def _apply(self, ranges: list[tuple[int, int, str]]) -> None:
        slots: list[str | None] = [None] * SLOTS
        for start, end, address in sorted(ranges):
            slots[start : end + 1] = [address] * (end - start + 1)
        primaries = list(dict.fromkeys(address for _, _, address in sorted(ranges)))
        added = [a for a in primaries if a not in self.shards]
        removed = [a for a in self.shards if a not in primaries]
        for address in added:
            self.shards[address] = ShardNode(self.config.at(*_split(address)), ShardOwner(self))
        await asyncio.gather(*(self.shards[a].start() for a in added))
        self.slots = slots
        await self._place(list(self.owner.wanted))
        for address in removed:
            self._spawn(self.shards.pop(address).close())
        if removed and added:
            self._failover(removed, added)
        self._update_health(None)

    def _failover(self, removed: list[str], added: list[str]) -> None:
        self.health = self.health.changed(failovers=self.health.failovers + len(removed))
        message = f"shard primaries {', '.join(removed)} replaced by {', '.join(added)}"
        logger.warning("Redis %s: %s", self.address, message)
        self.owner.on_health(self, "failover", True, message)  # type: ignore[arg-type]

    def _shard_of(self, channel: bytes) -> str | None:
        slot = self._slot_of.get(channel)
        if slot is None:
            if len(self._slot_of) > 10_000:
                self._slot_of.clear()
            slot = self._slot_of[channel] = key_slot(channel)
        return self.slots[slot]

    def shard_for(self, key: bytes) -> ShardNode | None:
        """The shard primary that owns ``key``'s slot now (``None`` while unknown)."""
        address = self.slots[key_slot(key)]
        return self.shards.get(address) if address is not None else None

    @property
    def usable(self) -> bool:
        """True while commands can be sent (some shard's publishing connection is up)."""
        return bool(self.health.publish_ok)

    def command(self, *args: Any) -> asyncio.Future[Any]:
        """A keyed command on the shard that owns its key: the first of ``KEYS`` for
        EVAL/EVALSHA/FCALL, else the first argument (multi-key commands must keep their
        keys in one slot with a ``{hash tag}``). ``MOVED`` is not followed here: it fails
        the future, and the slot map is refreshed for the next call."""
        name = str(args[0]).upper() if not isinstance(args[0], bytes) else args[0].decode().upper()
        keyed = name in ("EVAL", "EVALSHA", "FCALL") and int(args[2]) > 0
        key = args[3] if keyed else args[1]
        shard = self.shard_for(key if isinstance(key, bytes) else str(key).encode())
        connection = shard._publisher if shard is not None and shard.health.publish_ok else None
        if connection is None:
            future = asyncio.get_running_loop().create_future()
            future.set_exception(RedisConnectionLost(f"{self.address}: no shard for {key!r}"))
            return future
        future = connection.command(*args)
        future.add_done_callback(self._moved_check)
        return future

    def _moved_check(self, future: asyncio.Future[Any]) -> None:
        error = None if future.cancelled() else future.exception()
        if isinstance(error, hiredis.ReplyError) and str(error).startswith(("MOVED", "ASK")):
            self._stale.set()

    async def _place(self, channels: list[bytes]) -> None:
        """Make each shard want (and subscribe) exactly the wanted channels it owns."""
        wanted = set(channels)
        placed: dict[str, list[bytes]] = {}
        for channel in channels:
            address = self._shard_of(channel)
            if address is not None:
                placed.setdefault(address, []).append(channel)
        for address, shard in self.shards.items():
            gone = [
                c for c in shard.owner.wanted if c not in wanted or self._shard_of(c) != address
            ]
            if gone:
                shard.owner.wanted.difference_update(gone)
                shard.unsubscribe(gone)
        await self._subscribe_on(placed)

    async def _subscribe_on(self, placed: dict[str, list[bytes]]) -> None:
        for address, group in placed.items():
            self.shards[address].owner.wanted.update(group)
        results = await asyncio.gather(
            *(self.shards[address].subscribe(group) for address, group in placed.items()),
            return_exceptions=True,
        )
        if any(isinstance(result, hiredis.ReplyError) for result in results):
            self._stale.set()  # MOVED: the map is out of date; the refresh re-places

    # -- publishing and subscribing ------------------------------------------------------

    async def publish(self, channel: bytes, payload: bytes) -> Any:
        """SPUBLISH on the shard that owns ``channel``'s slot, following one redirection."""
        address = self._shard_of(channel)
        shard = self.shards.get(address) if address is not None else None
        if shard is None:
            raise RedisConnectionLost(f"{self.address}: no shard serves the slot of {channel!r}")
        try:
            return await shard.publish(channel, payload)
        except hiredis.ReplyError as error:
            return await self._redirected(channel, payload, error)

    async def _redirected(self, channel: bytes, payload: bytes, error: hiredis.ReplyError) -> Any:
        kind, _, rest = str(error).partition(" ")
        if kind not in ("MOVED", "ASK"):
            raise error
        slot, _, target = rest.partition(" ")
        if kind == "MOVED":
            self._stale.set()
            if target not in self.shards:
                await self.refresh()
            self.slots[int(slot)] = target
        shard = self.shards.get(target)
        if shard is None:
            raise RedisConnectionLost(f"{self.address}: {kind} to unknown node {target}")
        if kind == "ASK":
            return await shard.publish_asking(channel, payload)
        return await shard.publish(channel, payload)

    async def drain(self) -> None:
        """Wait while a shard's send buffer is full."""
        await asyncio.gather(*(shard.drain() for shard in self.shards.values()))

    async def subscribe(self, channels: list[bytes]) -> None:
        """Subscribe ``channels`` (already in ``owner.wanted``) on their shards."""
        placed: dict[str, list[bytes]] = {}
        for channel in channels:
            address = self._shard_of(channel)
            if address is not None:
                placed.setdefault(address, []).append(channel)
        await self._subscribe_on(placed)
        self._update_health(None)

    def unsubscribe(self, channels: list[bytes]) -> None:
        """Unsubscribe ``channels`` (already removed from ``owner.wanted``)."""
        placed: dict[str, list[bytes]] = {}
        for channel in channels:
            address = self._shard_of(channel)
            if address is not None:
                placed.setdefault(address, []).append(channel)
        for address, group in placed.items():
            shard = self.shards[address]
            shard.owner.wanted.difference_update(group)
            shard.unsubscribe(group)

    # -- health --------------------------------------------------------------------------

    def shard_health(self, node: RedisNode, kind: str, ok: bool, error: str | None) -> None:
        """A shard's connection changed: refresh the map if it went down; report the entry."""
        if node not in self.shards.values():
            return  # a replaced primary closing
        if not ok:
            self._stale.set()
        self._update_health(error)

    def _update_health(self, error: str | None) -> None:
        shards = list(self.shards.values())
        reading = [s for s in shards if s.owner.wanted or s.health.subscribe_ok is not None]
        changes: dict[str, Any] = {
            "publish_ok": any(s.health.publish_ok for s in shards),
            "subscribe_ok": all(s.health.subscribe_ok for s in reading) if reading else None,
            "latency_ms": max((s.health.latency_ms or 0.0 for s in shards), default=None),
            "shards": tuple(self.shards),
        }
        if error is not None:
            changes["last_error"] = error
        before = self.health
        self.health = before.changed(**changes)
        for kind, field in (("publisher", "publish_ok"), ("subscriber", "subscribe_ok")):
            now = getattr(self.health, field)
            if getattr(before, field) != now and not (field == "subscribe_ok" and now is None):
                self.owner.on_health(self, kind, bool(now), error)  # type: ignore[arg-type]

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)
