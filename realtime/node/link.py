"""The hub's link to other server nodes, over the Channels layer API only.

It reads one node-level channel, keeps node-level group memberships in step with the local
registry (race-free: each group's add/discard is decided under that group's lock from the
registry's state at that moment), and publishes one message per send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..metrics import metrics
from ..throttled_log import ThrottledLogger
from ..wire import names
from ..wire.node_messages import ORIGIN_KEY, MalformedNodeMessage, NodeMessage, decode, encode
from .features import LayerFeatures

logger = logging.getLogger(__name__)
_throttled = ThrottledLogger(logger, 10.0)

_READ_ERROR_BACKOFF = (0.05, 2.0)
# How often memberships are checked against a layer that can say whether a channel is a
# member (the ``realtime.membership`` extension), and the lost ones re-added: a node whose
# layer dropped its channel from a group (swept as dead while far behind, flushed) is deaf
# for at most this.
REASSERT_PERIOD = 2.0
# Prefix of the node channel's name, so a layer's channel_capacity can give it room for
# bursts: {"realtime-node*": 100_000} (see project/settings.py).
NODE_CHANNEL_PREFIX = "realtime-node"


class NodeLink:
    """Publishing, listening and group membership for one hub."""

    def __init__(
        self,
        features: LayerFeatures,
        instance_id: str,
        on_message: Callable[[NodeMessage], Awaitable[None]],
    ) -> None:
        self.features = features
        self.layer = features.layer
        self.instance_id = instance_id
        self.on_message = on_message
        self.enabled = not features.process_local
        self.channel: str | None = None
        self.groups: set[str] = set()
        self._group_locks: dict[str, asyncio.Lock] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._listen_lock: asyncio.Lock | None = None
        # Layers that can skip this process's own channels spare us receiving our own sends.
        self._send_to_others = features.send_remote

    @property
    def listening(self) -> bool:
        """True once the node channel exists and is read."""
        return self.channel is not None

    @property
    def is_node(self) -> bool:
        """True once this process has joined the all-nodes group (it is a server node)."""
        return names.ALL_NODES_GROUP in self.groups

    async def ensure_channel(self) -> None:
        """Create the node channel and start reading it (enough to receive call replies)."""
        if not self.enabled or self.channel is not None:
            return
        if self._listen_lock is None:
            self._listen_lock = asyncio.Lock()
        async with self._listen_lock:
            if self.channel is not None:
                return
            channel = await self.layer.new_channel(NODE_CHANNEL_PREFIX)
            self.channel = channel
            loop = asyncio.get_running_loop()
            self._tasks.append(loop.create_task(self._read_loop(), name="realtime-node-reader"))
            if self.features.has_member is not None:
                self._tasks.append(loop.create_task(self._reassert_loop(REASSERT_PERIOD)))
            expiry = self.features.group_expiry
            if expiry is not None:
                period = min(expiry / 2, 3600.0)
                self._tasks.append(loop.create_task(self._refresh_loop(period)))

    async def start_listening(self, node_name: str) -> None:
        """Be a server node: read the node channel and join the all-nodes and own groups."""
        await self.ensure_channel()
        if not self.enabled:
            return
        for group in (names.ALL_NODES_GROUP, names.node_group(node_name)):
            await self.sync_group(group, lambda: True)

    async def stop(self) -> None:
        """Stop reading and leave every group (best effort)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.channel is not None:
            for group in list(self.groups):
                with contextlib.suppress(Exception):
                    await self.layer.group_discard(group, self.channel)
        self.groups.clear()
        self.channel = None

    async def publish(self, group: str, message: NodeMessage) -> None:
        """Send one message to the nodes in ``group``; errors reach the caller."""
        if not self.enabled:
            return
        data = encode(message)
        data[ORIGIN_KEY] = self.instance_id
        if self._send_to_others is not None:
            await self._send_to_others(group, data)
        else:
            await self.layer.group_send(group, data)

    async def send(self, channel: str, message: NodeMessage) -> None:
        """Send one message to one node channel (a reply); errors reach the caller."""
        data = encode(message)
        data[ORIGIN_KEY] = self.instance_id
        await self.layer.send(channel, data)

    async def sync_group(self, group: str, wanted: Callable[[], bool]) -> None:
        """Join or leave ``group`` so membership matches ``wanted()`` when the lock is held."""
        if not self.listening:
            return
        lock = self._group_locks.setdefault(group, asyncio.Lock())
        async with lock:
            want = wanted()
            if want and group not in self.groups:
                await self.layer.group_add(group, self.channel)
                self.groups.add(group)
            elif not want and group in self.groups:
                self.groups.discard(group)
                await self.layer.group_discard(group, self.channel)
        if group not in self.groups and not lock.locked():
            self._group_locks.pop(group, None)

    async def _read_loop(self) -> None:
        delay = _READ_ERROR_BACKOFF[0]
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Reading the node channel failed; retrying in %.2fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _READ_ERROR_BACKOFF[1])
                continue
            delay = _READ_ERROR_BACKOFF[0]
            if message.get(ORIGIN_KEY) != self.instance_id:
                await self._dispatch(message)

    async def _dispatch(self, data: dict[str, Any]) -> None:
        try:
            message = decode(data)
        except MalformedNodeMessage as exc:
            _throttled.log(("malformed", data.get("type")), logging.WARNING, "Ignoring %s", exc)
            return
        try:
            await self.on_message(message)
        except Exception:
            logger.exception("Handling a node message of type %r failed", data.get("type"))

    async def reassert(self) -> int:
        """Re-add this node's channel to every group the layer no longer counts it a member
        of; returns how many were re-added (each is counted and logged)."""
        has_member = self.features.has_member
        if has_member is None or self.channel is None:
            return 0
        rejoined = 0
        for group in list(self.groups):
            lock = self._group_locks.setdefault(group, asyncio.Lock())
            async with lock:
                if group not in self.groups or await has_member(group, self.channel):
                    continue
                await self.layer.group_add(group, self.channel)
                rejoined += 1
        if rejoined:
            metrics.incr("node_groups_rejoined", rejoined)
            _throttled.log(
                "rejoined",
                logging.WARNING,
                "The channel layer had dropped this node from %d group(s) (a backlog older "
                "than its expiry?); rejoined them",
                rejoined,
            )
        return rejoined

    async def _reassert_loop(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                await self.reassert()
            except Exception:
                logger.exception("Re-asserting this node's group memberships failed")

    async def _refresh_loop(self, period: float) -> None:
        # Layers such as channels_redis expire group memberships; renew them well before.
        while True:
            await asyncio.sleep(period)
            for group in list(self.groups):
                try:
                    await self.layer.group_add(group, self.channel)
                except Exception:
                    logger.exception("Renewing membership of group %s failed", group)
