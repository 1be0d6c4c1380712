"""This process's channels and group memberships: bounded queues, expiry, group members.

Everything here belongs to one event loop and never awaits except in :meth:`get`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..wire.names import group_namespace


class LocalChannel:
    """A bounded queue of ``(expires_at, message)`` with the receivers waiting on it;
    ``last_active`` is when it was created or last received from (monotonic seconds)."""

    __slots__ = ("capacity", "last_active", "messages", "waiters")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.last_active = time.monotonic()
        self.messages: deque[tuple[float, dict[str, Any]]] = deque()
        self.waiters: deque[asyncio.Future[None]] = deque()

    def wake_one(self) -> None:
        """Wake the first receiver still waiting (it takes the message itself)."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self.last_active = time.monotonic()  # a receiver takes it: alive
                return


class LocalChannels:
    """Channels and groups of this process (one event loop)."""

    def __init__(self, capacity_for: Callable[[str], int], expiry: float) -> None:
        self.capacity_for = capacity_for
        self.expiry = expiry
        self.channels: dict[str, LocalChannel] = {}
        self.groups: dict[str, set[str]] = {}
        self.channel_groups: dict[str, set[str]] = {}
        self.namespace_groups: dict[str, int] = {}
        self.expired = 0
        #: Channels swept as dead consumers (they left every group).
        self.dead_swept = 0

    # -- channels ------------------------------------------------------------------------

    def has(self, channel: str) -> bool:
        """True when the channel has a queue here (created by a receive or a send)."""
        return channel in self.channels

    def ensure(self, channel: str) -> LocalChannel:
        """The channel's queue, created if needed."""
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = LocalChannel(self.capacity_for(channel))
        return queue

    def put(self, channel: str, message: dict[str, Any], create: bool = True) -> bool:
        """Queue ``message``; False when the channel is full (or absent and not ``create``)."""
        queue = self.channels.get(channel)
        if queue is None:
            if not create:
                return False
            queue = self.ensure(channel)
        if len(queue.messages) >= queue.capacity:
            self._drop_expired(channel, queue, time.monotonic())
            if len(queue.messages) >= queue.capacity:
                return False
        queue.messages.append((time.monotonic() + self.expiry, message))
        if queue.waiters:
            queue.wake_one()
        return True

    def mark_active(self, channel: str) -> None:
        """Note that a receiver is asking ``channel`` for a message now (it is alive): the
        layer calls it before it sweeps, so a receiver back from a long handler (the hub's
        node reader behind on a backlog) is never swept as dead."""
        queue = self.channels.get(channel)
        if queue is not None:  # a new one is created active by get()
            queue.last_active = time.monotonic()

    async def get(self, channel: str) -> dict[str, Any]:
        """The next unexpired message of ``channel``; waits for one. Cancel-safe: a message
        stays queued until the receiver that takes it is running again."""
        queue = self.ensure(channel)
        queue.last_active = time.monotonic()
        loop = asyncio.get_running_loop()
        while True:
            if queue.messages:
                expires_at, message = queue.messages.popleft()
                if expires_at >= time.monotonic():
                    if queue.messages and queue.waiters:
                        queue.wake_one()
                    return message
                self.expired += 1
                continue
            waiter = loop.create_future()
            queue.waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if not waiter.done() or waiter.cancelled():
                    with contextlib.suppress(ValueError):
                        queue.waiters.remove(waiter)
                elif queue.messages:
                    queue.wake_one()  # pass on the wake-up this receiver took
                raise
            if self.channels.get(channel) is not queue:
                queue = self.ensure(channel)  # flushed or swept meanwhile

    def sweep_expired(self) -> set[str]:
        """Drop expired messages everywhere. A channel that had one, has nobody waiting and
        was not received from for twice the expiry is a dead consumer: it leaves its groups
        (a live consumer that is merely slow keeps them, as on channels_redis). Returns
        namespaces that may have lost their last member."""
        now = time.monotonic()
        touched: set[str] = set()
        for channel, queue in list(self.channels.items()):
            waiting = any(not waiter.done() for waiter in queue.waiters)
            if queue.messages and queue.messages[0][0] < now:
                self._drop_expired(channel, queue, now)
                if not waiting and now - queue.last_active > 2 * self.expiry:
                    self.dead_swept += 1
                    touched |= self.leave_all(channel)
            if not queue.messages and not waiting:
                # Idle and empty (e.g. a closed consumer's): a later message re-creates it.
                del self.channels[channel]
        return touched

    def _drop_expired(self, channel: str, queue: LocalChannel, now: float) -> None:
        while queue.messages and queue.messages[0][0] < now:
            queue.messages.popleft()
            self.expired += 1

    # -- groups --------------------------------------------------------------------------

    def group_add(self, group: str, channel: str) -> None:
        """Make ``channel`` a member of ``group``."""
        members = self.groups.get(group)
        if members is None:
            members = self.groups[group] = set()
            namespace = group_namespace(group)
            self.namespace_groups[namespace] = self.namespace_groups.get(namespace, 0) + 1
        members.add(channel)
        self.channel_groups.setdefault(channel, set()).add(group)

    def group_discard(self, group: str, channel: str) -> bool:
        """Remove ``channel`` from ``group``; True if that emptied the group."""
        members = self.groups.get(group)
        if members is None or channel not in members:
            return False
        members.discard(channel)
        joined = self.channel_groups.get(channel)
        if joined is not None:
            joined.discard(group)
            if not joined:
                del self.channel_groups[channel]
        if members:
            return False
        del self.groups[group]
        namespace = group_namespace(group)
        left = self.namespace_groups.get(namespace, 1) - 1
        if left:
            self.namespace_groups[namespace] = left
        else:
            self.namespace_groups.pop(namespace, None)
        return True

    def leave_all(self, channel: str) -> set[str]:
        """Remove ``channel`` from every group; returns the namespaces of emptied groups."""
        emptied = set()
        for group in list(self.channel_groups.get(channel, ())):
            if self.group_discard(group, channel):
                emptied.add(group_namespace(group))
        return emptied

    def has_members(self, namespace: str) -> bool:
        """True while some group of ``namespace`` has a member here."""
        return namespace in self.namespace_groups

    def flush(self) -> None:
        """Forget every message and membership (receivers keep waiting on fresh queues)."""
        waiting = {name: queue.waiters for name, queue in self.channels.items() if queue.waiters}
        self.channels.clear()
        for name, waiters in waiting.items():
            self.ensure(name).waiters = waiters
        self.groups.clear()
        self.channel_groups.clear()
        self.namespace_groups.clear()
