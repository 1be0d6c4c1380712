"""The store of named channels (names without ``!``) on the Redis nodes.

A message sent to ``"thumbnails"`` waits in Redis until some process receives it or it
expires, whether or not a receiver exists yet. Placement and copies:

* The channel's nodes are its consistent-hash ring order (:func:`ring_order`) over every
  configured node; a send writes the message to the first ``redundancy`` (k) healthy ones,
  each copy an identical *entry* in a Redis list ``<prefix>:q:{<channel>}``.
* An entry starts with a fixed header: expiry time (Unix ms), the message id (origin and
  sequence of the sending layer instance), and the tags of the nodes holding its copies, in
  ring order. ``capacity`` is checked per node (``LLEN`` after dropping expired heads).
* A receiver pops an entry from the first healthy node that has one (``TAKE``), then *claims*
  its id on every copy node it can reach, **in the entry's node order**: a claim is an atomic
  ``SET <prefix>:t:{<channel>}:<id> NX`` that also removes the copy there. It delivers only
  if it won every claim it made; a lost claim means another receiver has the message.

Why this is exactly once when a node dies (the test kills one of three with k = 2):
two receivers that both reach some copy node meet on its marker, which only one can win, so
at most one delivers. Since everyone claims in the same order and stops at its first loss,
the receiver that won the last contested node never lost an earlier one, so at least one
delivers. What it does not cover: a network partition where two receivers see disjoint sets
of copy nodes, a node that comes back *empty* while copies of its messages live elsewhere
(its markers are gone), and a receiving process that dies holding a message (as with
channels_redis: a popped message is that process's).

This module only stores and takes; :mod:`realtime.layers.named` wires it into the layer
(envelopes, signing, wake-ups, receivers). It reaches a node through :class:`StoreNode`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple, Protocol

import hiredis
from channels.exceptions import ChannelFull

from .named_scripts import ADD, CLAIM, FLUSH, TAKE
from .strategies import ring_order
from .throttle import throttled

logger = logging.getLogger("realtime.layers")

#: A claim marker outlives every copy of its message by this much (clock skew between hosts).
MARKER_MARGIN_MS = 10_000
_ID_SIZE = 28  # 16 hex digits of origin, 12 of sequence
_TAG_SIZE = 8
_HEAD = 13 + _ID_SIZE + 2  # expiry ms, id, number of copy nodes

_SHAS = {script: hashlib.sha1(script.encode()).hexdigest() for script in (ADD, TAKE, CLAIM, FLUSH)}
_FAILURES = (ConnectionError, OSError, hiredis.ReplyError, TimeoutError)


class StoreNode(Protocol):
    """What the store needs of one Redis node (``RedisNode`` is one)."""

    @property
    def address(self) -> str:
        """The node's address, the same in every process (``redis://host:port/db``)."""

    @property
    def usable(self) -> bool:
        """True while this process can send the node commands."""

    def command(self, *args: Any) -> Awaitable[Any]:
        """Run one Redis command; fails if the node cannot take it."""


def node_tag(address: str) -> str:
    """A short, fixed-size name of a node inside an entry."""
    return hashlib.blake2b(address.encode(), digest_size=_TAG_SIZE // 2).hexdigest()


class Entry(NamedTuple):
    """A stored message: its id, the tags of its copy nodes (ring order) and its payload."""

    raw: bytes
    message_id: str
    tags: tuple[str, ...]
    payload: bytes


def pack_entry(expires_ms: int, message_id: str, tags: list[str], payload: bytes) -> bytes:
    """The bytes stored in a channel's list (the header :data:`TAKE` reads, then payload)."""
    head = f"{expires_ms:013d}{message_id}{len(tags):02d}{''.join(tags)}".encode()
    return head + payload


def unpack_entry(raw: bytes) -> Entry:
    """The parts of an entry; raises ``ValueError`` on anything else."""
    count = int(raw[13 + _ID_SIZE : _HEAD])
    tags_end = _HEAD + count * _TAG_SIZE
    if len(raw) < tags_end or count < 1:
        raise ValueError("truncated entry")
    tags = raw[_HEAD:tags_end].decode("ascii")
    return Entry(
        raw,
        raw[13 : _HEAD - 2].decode("ascii"),
        tuple(tags[i : i + _TAG_SIZE] for i in range(0, len(tags), _TAG_SIZE)),
        raw[tags_end:],
    )


def message_id(origin: str, sequence: int) -> str:
    """The id of a message: its sender's origin (16 hex digits) and sequence."""
    return f"{origin[:16]:0>16}{sequence % 16**12:012x}"


class NamedChannelStore:
    """The stored named channels of one layer instance's Redis nodes.

    ``nodes`` returns the instance's nodes by address (changes at runtime are seen).
    """

    def __init__(
        self,
        nodes: Callable[[], Mapping[str, StoreNode]],
        prefix: str,
        expiry: float,
        redundancy: int,
        capacity_for: Callable[[str], int],
    ) -> None:
        self.nodes = nodes
        self.prefix = prefix
        self.expiry_ms = int(expiry * 1000)
        self.redundancy = redundancy
        self.capacity_for = capacity_for
        self.stats: Counter[str] = Counter()

    def _queue_key(self, channel: str) -> str:
        return f"{self.prefix}:q:{{{channel}}}"

    def _marker_prefix(self, channel: str) -> str:
        return f"{self.prefix}:t:{{{channel}}}:"

    def _order(self, channel: str) -> list[StoreNode]:
        nodes = self.nodes()
        ordered = ring_order(tuple(sorted(nodes)), channel)
        return [nodes[address] for address in ordered if nodes[address].usable]

    # -- sending -------------------------------------------------------------------------

    async def send(self, channel: str, message_id: str, payload: bytes) -> bool:
        """Store a message on ``redundancy`` healthy nodes. False when no node could take
        it; raises ``ChannelFull`` when every node that answered was at capacity."""
        order = self._order(channel)
        full = False
        for start in range(0, len(order), self.redundancy):
            targets = order[start : start + self.redundancy]
            stored, refused = await self._store(channel, message_id, payload, targets)
            if stored:
                self.stats["stored"] += 1
                return True
            full = full or refused
            if full:
                break
        if full:
            raise ChannelFull(channel)
        return False

    async def _store(
        self, channel: str, message_id: str, payload: bytes, targets: list[StoreNode]
    ) -> tuple[bool, bool]:
        expires_ms = int(time.time() * 1000) + self.expiry_ms
        tags = [node_tag(node.address) for node in targets]
        entry = pack_entry(expires_ms, message_id, tags, payload)
        keys = [self._queue_key(channel), self._marker_prefix(channel) + message_id]
        args = [entry, self.capacity_for(channel), self.expiry_ms + MARKER_MARGIN_MS]
        results = await asyncio.gather(
            *(_script(node, ADD, keys, args) for node in targets), return_exceptions=True
        )
        answers = []
        for node, result in zip(targets, results, strict=True):
            if isinstance(result, BaseException):
                self.stats["store_failures"] += 1
                _warn("store", node.address, result)
            else:
                answers.append(result[0])
                self.stats["expired"] += int(result[1])
        return 1 in answers, 0 in answers

    # -- receiving -----------------------------------------------------------------------

    async def take(self, channel: str) -> bytes | None:
        """The payload of the next message of ``channel`` this process won, or None."""
        for node in self._order(channel):
            while True:
                entry, claimed = await self._pop(node, channel)
                if entry is None:
                    break
                if await self._claim(channel, entry, node if claimed else None):
                    self.stats["taken"] += 1
                    return entry.payload
                self.stats["duplicates_dropped"] += 1
        return None

    async def _pop(self, node: StoreNode, channel: str) -> tuple[Entry | None, bool]:
        args = [self._marker_prefix(channel), node_tag(node.address)]
        try:
            reply = await _script(
                node, TAKE, [self._queue_key(channel)], [*args, self.expiry_ms + MARKER_MARGIN_MS]
            )
        except _FAILURES as error:
            _warn("take", node.address, error)
            return None, False
        self.stats["expired"] += int(reply[0])
        if len(reply) < 3:
            return None, False
        try:
            return unpack_entry(reply[1]), bool(reply[2])
        except ValueError:
            self.stats["malformed_dropped"] += 1
            return None, False

    async def _claim(self, channel: str, entry: Entry, claimed: StoreNode | None) -> bool:
        by_tag = {node_tag(node.address): node for node in self._order(channel)}
        keys = [self._queue_key(channel), self._marker_prefix(channel) + entry.message_id]
        args = [entry.raw, self.expiry_ms + MARKER_MARGIN_MS]
        for tag in entry.tags:
            node = by_tag.get(tag)
            if node is None or node is claimed:
                continue  # down in this process's view (or won by TAKE itself)
            try:
                won = await _script(node, CLAIM, keys, args)
            except _FAILURES as error:
                _warn("claim", node.address, error)
                continue
            if won != 1:
                return False
        return True

    async def flush(self) -> None:
        """Delete every stored message and marker of this layer's prefix on every node."""
        pattern = f"{self.prefix}:[qt]:*"
        for node in list(self.nodes().values()):
            if node.usable:
                try:
                    await _script(node, FLUSH, [], [pattern])
                except _FAILURES as error:
                    _warn("flush", node.address, error)


async def _script(node: StoreNode, script: str, keys: list[Any], args: list[Any]) -> Any:
    try:
        return await node.command("EVALSHA", _SHAS[script], len(keys), *keys, *args)
    except hiredis.ReplyError as error:
        if not str(error).startswith("NOSCRIPT"):
            raise
    return await node.command("EVAL", script, len(keys), *keys, *args)


def _warn(action: str, address: str, error: BaseException) -> None:
    throttled(
        ("named", action, address),
        logging.WARNING,
        "Named channel %s on %s failed: %s",
        action,
        address,
        error,
    )
