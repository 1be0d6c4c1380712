"""One layer instance per event loop: local channels and groups, the Redis channels they map
onto, publishing and the handling of what arrives.

Redis channels, apart by construction (``:`` never occurs in a group or channel name):

* ``<prefix>:g:<namespace>`` - every group whose name starts with ``<namespace>.``;
  receivers drop messages for groups they have no member of
* ``<prefix>:p:<instance>`` - the specific channels (``name.<instance>!xyz``) of one instance
* ``<prefix>:c:<name>`` - a named channel (no ``!``): the wake-up its receivers hear when a
  message was stored for it (see :mod:`realtime.layers.named`; with zero nodes the message
  itself, between the event loops of one process)
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Protocol

from channels.exceptions import ChannelFull

from ..wire.names import group_namespace
from .local import LocalChannels
from .named import NAMED, NamedChannels
from .reader import EnvelopeReader
from .signing import COUNTERS, BusSigner
from .subscriptions import NamespaceSubscriptions
from .throttle import throttled
from .transports import BusMember, RedisNodes
from .wire import (
    Compressor,
    Deduplicator,
    decode_message,
    encode_message,
    pack_envelope,
)

if TYPE_CHECKING:
    from .config import LayerConfig
    from .redis_node import RedisNode
    from .transports import InProcessBus

logger = logging.getLogger("realtime.layers")

GROUP, PROCESS = "g", "p"


class NoHealthyRedisNode(ConnectionError):
    """``send`` found no Redis node that could take the message."""


def bus_signer(config: LayerConfig) -> BusSigner | None:
    """The signer of a layer instance starting now (None when nothing is signed): it refuses
    what was signed before now, less the clock skew allowed (a replayed capture)."""
    if not (config.signing and config.nodes):
        return None
    not_before = time.time() - config.signing_clock_skew
    return BusSigner(config.signing_keys, config.signing_max_age, not_before=not_before)


def owner_of(channel: str) -> str:
    """The instance id inside a specific channel name ``prefix.<instance>!suffix``."""
    return channel[: channel.index("!")].rpartition(".")[2]


class CoreOwner(Protocol):
    """What an instance needs of the layer object that made it (the layer does not hand
    itself over whole: the instance cannot reach back into other loops' instances)."""

    bus: InProcessBus
    excluded_nodes: frozenset[str]

    def get_capacity(self, channel: str) -> int:
        """The capacity of ``channel``."""

    def health_changed(
        self, core: LayerCore, node: RedisNode, kind: str, ok: bool, error: str | None
    ) -> None:
        """A connection of ``node`` went up or down."""


class LayerCore:
    """The layer's state and traffic in one event loop."""

    def __init__(self, layer: CoreOwner, config: LayerConfig) -> None:
        self.layer = layer
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.origin = secrets.token_hex(8)
        self.local = LocalChannels(layer.get_capacity, config.expiry)
        self.compressor = Compressor(config.compression, config.compression_threshold)
        self.signer = bus_signer(config)
        # Signed: a sequence older than the window is a replay; unsigned: a late copy.
        self.dedupe = Deduplicator(refuse_older=self.signer is not None)
        self.stats: Counter[str] = Counter()
        self.reader = EnvelopeReader(self.stats, config.signing_key_source)
        self._sequence = itertools.count(1)
        self._prefix = config.prefix
        self.process_channel = self._redis_channel(PROCESS, self.origin)
        self._kinds: dict[bytes, str] = {self.process_channel: PROCESS}
        self._listening: set[str] = set()
        self._process_subscription: asyncio.Task[None] | None = None
        self._last_sweep = time.monotonic()
        self.ready = False
        self.starting: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.transport: RedisNodes | BusMember
        self.named: NamedChannels | None = None
        if config.nodes:
            self.transport = RedisNodes(
                config,
                f"{self._prefix}-{self.origin}",
                self.on_message,
                self._health_changed,
                layer.excluded_nodes,
            )
            transport = self.transport
            self.named = NamedChannels(self, lambda: transport.nodes, layer.get_capacity, config)
        else:
            self.transport = BusMember(layer.bus, self.on_message)
        self.namespaces = NamespaceSubscriptions(
            config.preset_namespaces,
            config.auto_unsubscribe,
            self.local.has_members,
            self._subscribe_namespace,
            self._unsubscribe_namespace,
        )

    async def start(self) -> None:
        """Connect, then subscribe the preset namespaces."""
        await self.transport.start()
        for namespace in sorted(self.config.preset_namespaces):
            await self.namespaces.sync(namespace)
        self.ready = True

    async def close(self) -> None:
        """Close every connection of this instance."""
        self.ready = False
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._process_subscription is not None:
            await asyncio.gather(self._process_subscription, return_exceptions=True)
        await self.transport.close()

    def _redis_channel(self, kind: str, name: str) -> bytes:
        return f"{self._prefix}:{kind}:{name}".encode()

    # -- channels ------------------------------------------------------------------------

    async def new_channel(self, prefix: str) -> str:
        """A specific channel of this instance, ready to receive."""
        await self._subscribe_process_channel()
        name = f"{prefix}.{self.origin}!{secrets.token_hex(6)}"
        self.local.ensure(name)
        return name

    async def _subscribe_process_channel(self) -> None:
        # Concurrent first callers (consumers connecting at once) all wait for the one
        # subscription, so none gets a channel that cannot receive yet.
        if self._process_subscription is None:
            self._process_subscription = self.loop.create_task(
                self.transport.subscribe([self.process_channel])
            )
        await asyncio.shield(self._process_subscription)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """Deliver to a local queue, or publish to the instance that owns the channel."""
        body = encode_message(message)
        if "!" in channel:
            owner = owner_of(channel)
            if owner == self.origin:
                self._put_or_raise(channel, decode_message(body))
                return
            redis_channel = self._redis_channel(PROCESS, owner)
            if not await self._publish(redis_channel, channel, body):
                raise self._no_node_error(channel)
            return
        if self.named is not None:
            await self.named.send(channel, body)
            return
        delivered = False
        if self.local.has(channel) or channel in self._listening or not self.config.nodes:
            self._put_or_raise(channel, decode_message(body))
            delivered = True
        published = await self._publish(self._redis_channel(NAMED, channel), channel, body)
        if not published and not delivered:
            raise self._no_node_error(channel)

    def _put_or_raise(self, channel: str, message: dict[str, Any]) -> None:
        if not self.local.put(channel, message):
            raise ChannelFull(channel)

    def _no_node_error(self, channel: str) -> NoHealthyRedisNode:
        states = ", ".join(
            f"{node.address} ({'up' if node.healthy else 'down'}"
            f"{': ' + node.last_error if node.last_error and not node.healthy else ''})"
            for node in self.transport.snapshot()
        )
        return NoHealthyRedisNode(
            f"No healthy Redis node could take the message for {channel!r}; nodes: {states}"
        )

    async def receive(self, channel: str) -> dict[str, Any]:
        """The next message of ``channel`` (which this instance must own or listen to)."""
        if "!" not in channel and channel not in self._listening:
            self._listening.add(channel)
            redis_channel = self._redis_channel(NAMED, channel)
            self._kinds[redis_channel] = NAMED
            await self.transport.subscribe([redis_channel])
        # Marked before the sweep: a receiver that is back for more is alive, however long
        # its last message took (a node reader behind on a backlog must keep its groups).
        self.local.mark_active(channel)
        self._maybe_sweep()
        if self.named is not None and "!" not in channel:
            self.named.ensure_fetching(channel)
        return await self.local.get(channel)

    # -- groups --------------------------------------------------------------------------

    async def group_add(self, group: str, channel: str) -> None:
        """Add a member; returns once this instance hears the group's namespace."""
        self.local.group_add(group, channel)
        await self.namespaces.sync(group_namespace(group))

    async def group_discard(self, group: str, channel: str) -> None:
        """Remove a member; the namespace may be unsubscribed when it was the last."""
        if self.local.group_discard(group, channel):
            await self.namespaces.sync(group_namespace(group))

    async def group_send(self, group: str, message: dict[str, Any], local: bool = True) -> None:
        """Deliver to local members directly, publish once for the other instances."""
        body = encode_message(message)
        self._maybe_sweep()
        if local:
            members = self.local.groups.get(group)
            if members:
                self._deliver_to_members(members, 0, body)
        redis_channel = self._redis_channel(GROUP, group_namespace(group))
        try:
            published = await self._publish(redis_channel, group, body)
        except Exception:
            logger.exception("Publishing a message to group %s failed", group)
            published = False
        if not published:
            self.stats["group_messages_dropped"] += 1
            throttled(
                ("group-drop", self.layer),
                logging.ERROR,
                "No healthy Redis node: a message to group %s reached no other process "
                "(%d dropped so far)",
                group,
                self.stats["group_messages_dropped"],
            )

    async def _subscribe_namespace(self, namespace: str) -> None:
        redis_channel = self._redis_channel(GROUP, namespace)
        self._kinds[redis_channel] = GROUP
        await self.transport.subscribe([redis_channel])

    async def _unsubscribe_namespace(self, namespace: str) -> None:
        await self.transport.unsubscribe([self._redis_channel(GROUP, namespace)])

    # -- publishing and receiving --------------------------------------------------------

    async def _publish(self, redis_channel: bytes, target: str, body: bytes) -> bool:
        if self.config.nodes or len(self.layer.bus.members) > 1:
            flags, wire_body = self.compressor.compress(body)
            payload = pack_envelope(flags, self.origin, next(self._sequence), target, wire_body)
            if self.signer is not None:
                payload = self.signer.sign(redis_channel, payload)
            self.stats["published"] += 1
            return await self.transport.publish(redis_channel, payload)
        return True

    def on_message(self, redis_channel: bytes, payload: bytes) -> None:
        """Handle one payload heard on ``redis_channel`` (called for every message)."""
        envelope = self.reader.open(redis_channel, payload, self.signer)
        if envelope is None:
            return
        if envelope.origin == self.origin:
            return  # our own publish: local members already have it
        seen = self.dedupe.classify(envelope.origin, envelope.sequence)
        if seen:
            self.reader.repeated(redis_channel, seen, self.dedupe.window)
            return
        kind = self._kinds.get(redis_channel)
        target = envelope.target
        try:
            if kind == GROUP:
                members = self.local.groups.get(target)
                if members:
                    self._deliver_to_members(members, envelope.flags, envelope.body)
            elif kind == NAMED and self.named is not None:
                self.named.wake(target)
            elif self._addressed_here(kind, target):
                self._deliver(target, self.compressor.decode(envelope.flags, envelope.body))
        except Exception as error:  # one bad message must never abort the subscriber
            self.reader.malformed(redis_channel, error)

    def _addressed_here(self, kind: str | None, target: str) -> bool:
        if kind == PROCESS:
            return "!" in target and owner_of(target) == self.origin
        return kind == NAMED and target in self._listening

    def _deliver_to_members(self, members: set[str], flags: int, body: bytes) -> None:
        for channel in list(members):
            message = self.compressor.decode(flags, body)
            if ("!" in channel and owner_of(channel) != self.origin) or (
                "!" not in channel and self.named is not None
            ):
                self._spawn(self._forward(channel, message))
            else:
                self._deliver(channel, message)

    def _deliver(self, channel: str, message: dict[str, Any]) -> None:
        if self.local.put(channel, message):
            self.stats["received"] += 1
            return
        self.stats["channel_full_drops"] += 1
        throttled(
            "channel-full",
            logging.WARNING,
            "Channel %s is full (capacity %d); dropping a message",
            channel,
            self.layer.get_capacity(channel),
        )

    async def _forward(self, channel: str, message: dict[str, Any]) -> None:
        # A group member that is another instance's channel, or a named channel stored on
        # the nodes: send it there.
        try:
            await self.send(channel, message)
        except ChannelFull:
            self.stats["channel_full_drops"] += 1
            throttled(("full", channel), logging.WARNING, "Channel %s is full; dropping", channel)
        except Exception as error:
            throttled("forward", logging.WARNING, "Forward to %s: %s", channel, error)

    def _health_changed(self, node: RedisNode, kind: str, ok: bool, error: str | None) -> None:
        self.layer.health_changed(self, node, kind, ok, error)

    # -- upkeep --------------------------------------------------------------------------

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < min(self.config.expiry / 2, 5.0):
            return
        self._last_sweep = now
        for namespace in self.local.sweep_expired():
            self._spawn(self.namespaces.sync(namespace))

    def _spawn(self, coroutine: Any) -> None:
        task = self.loop.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def flush(self) -> None:
        """Forget every message, membership and subscription except the preset ones."""
        self.local.flush()
        if self.named is not None:
            await self.named.flush()
        dropped = [self._redis_channel(GROUP, ns) for ns in self.namespaces.reset()]
        dropped += [self._redis_channel(NAMED, name) for name in self._listening]
        self._listening.clear()
        if dropped:
            await self.transport.unsubscribe(dropped)

    def counters(self) -> dict[str, int]:
        """Traffic counters of this instance."""
        retries = self.transport.retries
        signature_drops = dict.fromkeys(COUNTERS.values(), 0) if self.signer else {}
        counters = Counter({**signature_drops, **self.stats})
        if self.named is not None:
            counters.update(self.named.stats)  # stored, taken, store_failures, expired, ...
        counters["expired"] += self.local.expired
        counters["dead_channels_swept"] = self.local.dead_swept
        return {**counters, "publish_retries": retries}
