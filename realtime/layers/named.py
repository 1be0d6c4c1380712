"""Named channels (names without ``!``) in a layer with Redis nodes: Channels' worker pattern.

A message sent to ``"thumbnails"`` is stored on the nodes (:mod:`realtime.layers.named_store`)
until some process receives it or it expires. Its payload is the same signed envelope a
publish carries, so compression, signing and malformed-message handling are the bus's.
After storing, the sender publishes an empty *wake-up* on ``<prefix>:c:<channel>``; processes
receiving on the channel hear it and take the message. A wake-up lost with its node only
delays them: they also look every :data:`POLL_INTERVAL` seconds.

Each process takes messages only while some receive waits (one fetcher task per channel),
and hands them to its local queue, so a receive cancelled meanwhile loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from .named_store import NamedChannelStore, message_id
from .signing import BusSigner
from .throttle import throttled
from .wire import MalformedMessage, pack_envelope

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterator
    from typing import Any

    from .config import LayerConfig
    from .local import LocalChannels
    from .named_store import StoreNode
    from .reader import EnvelopeReader
    from .wire import Compressor

logger = logging.getLogger("realtime.layers")

POLL_INTERVAL = 0.5
NAMED = "c"  # the kind of Redis channel that carries wake-ups: <prefix>:c:<name>


class NamedOwner(Protocol):
    """What named channels use of the layer instance (:class:`~realtime.layers.core.LayerCore`)
    that owns them: its envelope, publishing and delivery helpers."""

    origin: str
    compressor: Compressor
    local: LocalChannels
    signer: BusSigner | None
    reader: EnvelopeReader
    _sequence: Iterator[int]

    def _redis_channel(self, kind: str, name: str) -> bytes: ...

    def _no_node_error(self, channel: str) -> Exception: ...

    async def _publish(self, redis_channel: bytes, target: str, body: bytes) -> bool: ...

    def _deliver(self, channel: str, message: dict[str, Any]) -> None: ...

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None: ...


class NamedChannels:
    """Send to, and receive from, stored named channels for one layer instance.

    A part of the layer instance kept apart for size; ``core`` is that instance
    (:class:`NamedOwner`)."""

    def __init__(
        self,
        core: NamedOwner,
        nodes: Callable[[], Mapping[str, StoreNode]],
        capacity_for: Callable[[str], int],
        config: LayerConfig,
    ) -> None:
        self.core = core
        self.store = NamedChannelStore(
            nodes, config.prefix, config.expiry, config.redundancy, capacity_for
        )
        self.signer: BusSigner | None = None
        if core.signer is not None:
            # A stored message may wait for ``expiry`` before a receiver verifies it.
            max_age = config.signing_max_age
            self.signer = BusSigner(
                config.signing_keys, None if max_age is None else max_age + config.expiry
            )
        self._wakeups: dict[str, asyncio.Event] = {}
        self._fetching: set[str] = set()

    @property
    def stats(self) -> dict[str, int]:
        """stored, taken, store_failures, duplicates_dropped, expired, malformed_dropped."""
        return self.store.stats

    async def send(self, channel: str, body: bytes) -> None:
        """Store the message (raises ``ChannelFull`` or ``NoHealthyRedisNode``), then wake
        the receivers."""
        core = self.core
        flags, wire_body = core.compressor.compress(body)
        sequence = next(core._sequence)
        payload = pack_envelope(flags, core.origin, sequence, channel, wire_body)
        redis_channel = core._redis_channel(NAMED, channel)
        if self.signer is not None:
            payload = self.signer.sign(redis_channel, payload)
        if not await self.store.send(channel, message_id(core.origin, sequence), payload):
            raise core._no_node_error(channel)
        self.wake(channel)  # a receiver in this instance never hears its own wake-up
        try:
            await core._publish(redis_channel, channel, b"")
        except Exception as error:  # receivers poll: a lost wake-up only delays them
            throttled(("wake", channel), logging.WARNING, "Wake-up for %s: %s", channel, error)

    def wake(self, channel: str) -> None:
        """A message for ``channel`` was stored somewhere: a waiting fetcher looks now."""
        event = self._wakeups.get(channel)
        if event is not None:
            event.set()

    def ensure_fetching(self, channel: str) -> None:
        """Fetch messages of ``channel`` into the local queue while receivers wait there."""
        if channel not in self._fetching:
            self._fetching.add(channel)
            self._wakeups.setdefault(channel, asyncio.Event())
            self.core._spawn(self._fetch(channel))

    def _wanted(self, channel: str) -> bool:
        queue = self.core.local.channels.get(channel)
        if queue is None:
            return False
        waiting = sum(1 for waiter in queue.waiters if not waiter.done())
        return waiting > len(queue.messages)

    async def _fetch(self, channel: str) -> None:
        wakeup = self._wakeups[channel]
        try:
            while self._wanted(channel):
                wakeup.clear()
                try:
                    payload = await self.store.take(channel)
                except Exception as error:  # a bug or a refusal must not strand the receivers
                    throttled(("take", channel), logging.ERROR, "Take on %s: %s", channel, error)
                    payload = None
                if payload is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), POLL_INTERVAL)
                    continue
                self._deliver(channel, payload)
        finally:
            self._fetching.discard(channel)

    def _deliver(self, channel: str, payload: bytes) -> None:
        core = self.core
        redis_channel = core._redis_channel(NAMED, channel)
        envelope = core.reader.open(redis_channel, payload, self.signer)
        if envelope is None:
            return
        try:
            if envelope.target != channel:
                raise MalformedMessage(f"stored for {envelope.target!r}, found in {channel!r}")
            core._deliver(channel, core.compressor.decode(envelope.flags, envelope.body))
        except (MalformedMessage, ValueError) as error:
            core.reader.malformed(redis_channel, error)

    async def flush(self) -> None:
        """Delete every stored message of this layer's prefix."""
        await self.store.flush()
