"""One Redis node as one process uses it: a publishing and a subscribing connection, both
health-checked, both reconnected with capped exponential backoff.

* A connection error marks the connection down at once; a PING that is not answered within
  ``health_check_timeout`` does too, and drops the connection (a hung node must not hold
  publishes forever: their callers re-publish elsewhere).
* The subscriber connects only once this process needs a subscription, and after every
  reconnect it re-subscribes every wanted channel before it counts as up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from .config import NodeConfig
from .health import BACKOFF_CAP, NodeHealth, backoff_delay, smoothed_latency
from .resp import RedisConnectionLost, RespConnection

logger = logging.getLogger("realtime.layers")


class NodeOwner(Protocol):
    """What a node reports to and asks of the layer instance that owns it."""

    name: str
    wanted: set[bytes]
    interval: float
    timeout: float

    def on_message(self, channel: bytes, payload: bytes) -> None:
        """A message arrived on a subscribed channel."""

    def on_health(self, node: RedisNode, kind: str, ok: bool, error: str | None) -> None:
        """The publisher or subscriber (``kind``) of ``node`` went up or down."""


class ConfiguredEntry:
    """What every kind of ``nodes`` entry derives from its config and owner."""

    config: NodeConfig
    owner: NodeOwner

    @property
    def address(self) -> str:
        """The entry's address (``redis://host:port/db``, ``redis+cluster://seeds``...)
        without the password."""
        return self.config.key

    @property
    def connect_timeout(self) -> float:
        """How long one connection attempt may take."""
        return max(2.0, self.owner.timeout)


class RedisNode(ConfiguredEntry):
    """Connections, health and subscriptions of one Redis node in one event loop."""

    #: The pub/sub commands (a Cluster shard uses the sharded ones).
    PUBLISH, SUBSCRIBE, UNSUBSCRIBE = "PUBLISH", "SUBSCRIBE", "UNSUBSCRIBE"

    def __init__(self, config: NodeConfig, owner: NodeOwner) -> None:
        self.config = config
        self.owner = owner
        self.health = NodeHealth(
            config.key, config.host, config.port, since=time.time(), kind=config.kind
        )
        self._publisher: RespConnection | None = None
        self._subscriber: RespConnection | None = None
        self._subscribed: set[bytes] = set()
        self._sub_wanted = False
        self._sub_ready = asyncio.Event()
        self._confirms: dict[bytes, deque[asyncio.Future[None]]] = {}
        self._pongs: deque[asyncio.Future[None]] = deque()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closing = False
        #: Longest wait between reconnection attempts (a followed node retries sooner).
        self.retry_cap = BACKOFF_CAP

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Connect the publisher once (failures retry in the background); start PINGs."""
        self._spawn("health", self._health_loop())
        with contextlib.suppress(Exception):
            await self._open_publisher()
        if self._publisher is None:
            self._spawn("publisher", self._reconnect_publisher())

    async def close(self) -> None:
        """Stop everything and close both connections."""
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        connections = [c for c in (self._publisher, self._subscriber) if c is not None]
        self._drop_connections()
        for connection in connections:
            await connection.wait_closed()

    def _drop_connections(self) -> None:
        for connection in (self._publisher, self._subscriber):
            if connection is not None:
                connection.close()
        self._publisher = self._subscriber = None

    def _spawn(self, name: str, coroutine: Coroutine[Any, Any, None]) -> None:
        if self._closing:
            coroutine.close()
            return
        running = self._tasks.get(name)
        if running is not None and not running.done():
            coroutine.close()
            return
        task = asyncio.get_running_loop().create_task(coroutine, name=f"realtime-{name}")
        self._tasks[name] = task

    def _mark(self, kind: str, ok: bool, error: str | None = None) -> None:
        field = "publish_ok" if kind == "publisher" else "subscribe_ok"
        changes: dict[str, Any] = {field: ok}
        if error is not None:
            changes["last_error"] = error
        before = getattr(self.health, field)
        self.health = self.health.changed(**changes)
        if before != ok:
            if ok:
                logger.info("Redis %s %s is up", self.address, kind)
            else:
                logger.warning("Redis %s %s is down: %s", self.address, kind, error)
            self.owner.on_health(self, kind, ok, error)

    # -- publishing ----------------------------------------------------------------------

    async def _target(self) -> NodeConfig:
        """Where to connect now: the configured node (a Sentinel node asks its sentinels)."""
        return self.config

    async def _verify(self, connection: RespConnection) -> None:
        """Check a new publisher before use (a Sentinel node: that it is a primary)."""

    async def _open_publisher(self) -> None:
        try:
            connection = await RespConnection.open(
                await self._target(),
                self.connect_timeout,
                f"{self.owner.name}-pub",
                on_lost=self._publisher_lost,
            )
            try:
                await self._verify(connection)
            except BaseException:
                connection.close()
                raise
        except Exception as error:
            self._mark("publisher", False, _describe(error))
            raise
        self._publisher = connection
        self._mark("publisher", True)

    def _publisher_lost(self, error: Exception) -> None:
        self._publisher = None
        if not self._closing:
            self._mark("publisher", False, _describe(error))
            self._spawn("publisher", self._reconnect_publisher())

    async def _reconnect_publisher(self) -> None:
        await self._retry(self._open_publisher, lambda: self._publisher is not None)

    def publish(self, channel: bytes, payload: bytes) -> asyncio.Future[Any]:
        """PUBLISH on this node; the future fails if the node cannot take it."""
        return self.command(self.PUBLISH, channel, payload)

    @property
    def usable(self) -> bool:
        """True while the publishing connection is up (commands can be sent)."""
        return self._publisher is not None and self.health.publish_ok

    def command(self, *args: Any) -> asyncio.Future[Any]:
        """Run a command on the publishing connection; the future fails if the node
        cannot take it (the named-channel store's scripts use this)."""
        connection = self._publisher
        if connection is None or not self.health.publish_ok:
            future = asyncio.get_running_loop().create_future()
            future.set_exception(RedisConnectionLost(f"{self.address} publisher is down"))
            return future
        return connection.command(*args)

    async def drain(self) -> None:
        """Wait while the publisher's send buffer is full."""
        if self._publisher is not None:
            await self._publisher.drain()

    # -- subscribing ---------------------------------------------------------------------

    async def ensure_subscriber(self) -> None:
        """Connect the subscriber if this is the first subscription; wait (bounded) for it."""
        if not self._sub_wanted:
            self._sub_wanted = True
            self._spawn("subscriber", self._reconnect_subscriber())
        if not self._sub_ready.is_set() and self.health.publish_ok:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sub_ready.wait(), self.connect_timeout)

    async def subscribe(self, channels: list[bytes]) -> None:
        """Subscribe ``channels`` (already in ``owner.wanted``); returns once confirmed, or
        at once when the subscriber is down (the reconnect subscribes them)."""
        await self.ensure_subscriber()
        connection = self._subscriber
        missing = [channel for channel in channels if channel not in self._subscribed]
        if connection is None or not self._sub_ready.is_set() or not missing:
            return
        try:
            await self._confirmed(connection, missing)
        except Exception as error:
            # Timed out, lost, or refused (an ACL's NOPERM): this node's subscriber is down,
            # reported with the reason, and reconnects; the other nodes carry the traffic.
            self._reset_subscriber(connection, error)

    def unsubscribe(self, channels: list[bytes]) -> None:
        """Unsubscribe ``channels`` (already removed from ``owner.wanted``)."""
        self._subscribed.difference_update(channels)
        if self._subscriber is not None and self._sub_ready.is_set():
            self._send_each(self._subscriber, self.UNSUBSCRIBE, channels)

    def _send_each(self, connection: RespConnection, command: str, channels: list[bytes]) -> None:
        """``command`` for ``channels``: in one command (the sharded commands: one each,
        as their channels must share a slot)."""
        connection.send(command, *channels)

    async def _confirmed(self, connection: RespConnection, channels: list[bytes]) -> None:
        loop = asyncio.get_running_loop()
        futures = []
        for channel in channels:
            future = loop.create_future()
            self._confirms.setdefault(channel, deque()).append(future)
            futures.append(future)
        self._send_each(connection, self.SUBSCRIBE, channels)
        await asyncio.wait_for(asyncio.gather(*futures), self.connect_timeout)
        self._subscribed.update(channels)

    async def _open_subscriber(self) -> None:
        try:
            connection = await RespConnection.open(
                await self._target(),
                self.connect_timeout,
                f"{self.owner.name}-sub",
                on_push=self._on_push,
                on_lost=self._subscriber_lost,
            )
        except Exception as error:
            self._mark("subscriber", False, _describe(error))
            raise
        self._subscriber = connection
        self._subscribed.clear()
        try:
            # Wanted channels may change while we wait: repeat until nothing is missing.
            while missing := list(self.owner.wanted - self._subscribed):
                await self._confirmed(connection, missing)
        except Exception as error:
            self._reset_subscriber(connection, error)
            raise
        self._sub_ready.set()
        self._mark("subscriber", True)

    def _subscriber_lost(self, error: Exception) -> None:
        self._subscriber = None
        self._sub_ready.clear()
        self._fail_pending(error)
        if not self._closing:
            self._mark("subscriber", False, _describe(error))
            self._spawn("subscriber", self._reconnect_subscriber())

    def _reset_subscriber(self, connection: RespConnection, error: BaseException) -> None:
        if self._subscriber is connection:
            connection.abort(RedisConnectionLost(_describe(error)))
            self._subscriber_lost(RedisConnectionLost(_describe(error)))

    def _fail_pending(self, error: Exception) -> None:
        for futures in self._confirms.values():
            for future in futures:
                if not future.done():
                    future.set_exception(error)
        self._confirms.clear()
        for future in self._pongs:
            if not future.done():
                future.set_exception(error)
        self._pongs.clear()

    async def _reconnect_subscriber(self) -> None:
        await self._retry(self._open_subscriber, self._sub_ready.is_set)

    def _on_push(self, reply: list[Any]) -> None:
        kind = reply[0]
        if kind == b"message" or kind == b"smessage":
            self.owner.on_message(reply[1], reply[2])
        elif kind == b"subscribe" or kind == b"ssubscribe":
            waiting = self._confirms.get(reply[1])
            if waiting:
                future = waiting.popleft()
                if not waiting:
                    del self._confirms[reply[1]]
                if not future.done():
                    future.set_result(None)
        elif kind == b"pong" and self._pongs:
            future = self._pongs.popleft()
            if not future.done():
                future.set_result(None)
        elif kind == b"error":
            # A refused subscription: what waits for a confirmation fails with the reason.
            self._fail_pending(reply[1])
        elif kind == b"sunsubscribe":
            self._unsubscribed(reply[1])

    def _unsubscribed(self, channel: bytes) -> None:
        """A sharded channel was unsubscribed (by us, or by the server: its slot moved)."""

    # -- health --------------------------------------------------------------------------

    async def _retry(self, attempt: Callable[[], Any], done: Callable[[], bool]) -> None:
        tries = 0
        while not self._closing and not done():
            await asyncio.sleep(min(self.retry_cap, backoff_delay(tries, random.random())))
            tries += 1
            with contextlib.suppress(Exception):
                await attempt()

    async def _health_loop(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.owner.interval)
                await asyncio.gather(self._ping_publisher(), self._ping_subscriber())
                await self._check_target()
        finally:
            # Also reached when asyncio.run() (async_to_sync) cancels the loop's tasks.
            if not self._closing:
                self._closing = True
                for task in self._tasks.values():
                    task.cancel()
                self._drop_connections()

    async def _check_target(self) -> None:
        """Once per health interval: is the node still the right one (Sentinel: the primary)?"""

    def drop(self, error: str) -> None:
        """Drop both connections (they reconnect, to a re-discovered node if followed)."""
        lost = RedisConnectionLost(error)
        if (publisher := self._publisher) is not None:
            publisher.abort(lost)
            self._publisher_lost(lost)
        if (subscriber := self._subscriber) is not None:
            self._reset_subscriber(subscriber, lost)

    async def _ping_publisher(self) -> None:
        connection = self._publisher
        if connection is None:
            return
        started = time.perf_counter()
        try:
            await asyncio.wait_for(connection.command("PING"), self.owner.timeout)
        except TimeoutError:
            error = f"PING not answered within {self.owner.timeout}s"
            connection.abort(RedisConnectionLost(error))
            self._publisher_lost(RedisConnectionLost(error))
            return
        except Exception:
            return  # connection loss is reported by the connection itself
        latency = (time.perf_counter() - started) * 1000
        self.health = self.health.changed(
            latency_ms=round(smoothed_latency(self.health.latency_ms, latency), 3)
        )

    async def _ping_subscriber(self) -> None:
        connection = self._subscriber
        if connection is None or not self._sub_ready.is_set():
            return
        future = asyncio.get_running_loop().create_future()
        self._pongs.append(future)
        connection.send("PING")
        try:
            await asyncio.wait_for(future, self.owner.timeout)
        except TimeoutError:
            self._reset_subscriber(
                connection, TimeoutError(f"PING not answered within {self.owner.timeout}s")
            )
        except Exception:
            return


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if str(error) else text
