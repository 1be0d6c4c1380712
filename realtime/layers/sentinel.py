"""A ``nodes`` entry that is a Sentinel service: the primary is found through the sentinels
and followed across failovers; a replica is never written to.

* Every (re)connection asks the sentinels, one after the other, for the service's primary
  (``SENTINEL GET-MASTER-ADDR-BY-NAME``); the first that answers is asked first next time.
* A new publishing connection must answer ``ROLE`` with ``master``, or it is dropped and
  discovery starts again (a sentinel may still name a demoted primary for a moment).
* Once per health interval the publisher's ``ROLE`` is checked again, and both connections
  are dropped when the node is no longer the primary or the subscriber sits on another
  node: they reconnect to the primary the sentinels name. A lost connection re-discovers
  too, retrying at least once per health interval, so the layer follows a failover within
  the failover time plus one health interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import Any

import hiredis

from .addresses import NodeConfig
from .redis_node import NodeOwner, RedisNode
from .resp import RedisConnectionLost, RespConnection, ask_once

logger = logging.getLogger("realtime.layers")


class NoPrimaryFound(ConnectionError):
    """No sentinel named a primary for the service."""


async def ask_sentinels(
    config: NodeConfig, timeout: float, name: str
) -> tuple[tuple[str, int], tuple[str, int]]:
    """``((host, port) of the primary, (host, port) of the sentinel that named it)``."""
    errors: list[str] = []
    command = ("SENTINEL", "GET-MASTER-ADDR-BY-NAME", config.service_name)
    for host, port in config.seeds:
        ok, reply = await ask_once(config.sentinel(host, port), command, timeout, name, errors)
        if reply:
            return (reply[0].decode(), int(reply[1])), (host, port)
        if ok:
            errors.append(f"{host}:{port}: does not know {config.service_name!r}")
    raise NoPrimaryFound(
        f"no sentinel named a primary for {config.service_name!r}: {'; '.join(errors)}"
    )


class SentinelNode(RedisNode):
    """A Sentinel-managed primary, followed; same interface as :class:`RedisNode`."""

    def __init__(self, config: NodeConfig, owner: NodeOwner) -> None:
        super().__init__(config, owner)
        self.retry_cap = max(0.1, owner.interval)
        self.primary: tuple[str, int] | None = None
        self._seeds = list(config.seeds)
        self._subscriber_at: tuple[str, int] | None = None

    async def start(self) -> None:
        """Connect, and watch the sentinels' ``+switch-master`` announcements."""
        self._spawn("sentinel-watch", self._watch())
        await super().start()

    async def _watch(self) -> None:
        """Hear ``+switch-master`` on one sentinel at a time (the next when it is lost)."""
        while not self._closing:
            host, port = self._seeds[0]
            try:
                connection = await RespConnection.open(
                    self.config.sentinel(host, port),
                    self.connect_timeout,
                    f"{self.owner.name}-watch",
                    on_push=self._on_announcement,
                )
            except Exception:
                await asyncio.sleep(self.retry_cap)
            else:
                try:
                    connection.send("SUBSCRIBE", "+switch-master")
                    await asyncio.shield(connection.closed)
                finally:
                    connection.close()
            self._seeds.append(self._seeds.pop(0))

    def _on_announcement(self, reply: list[Any]) -> None:
        # "+switch-master <service> <old-ip> <old-port> <new-ip> <new-port>"
        if reply[0] != b"message":
            return
        fields = reply[2].decode(errors="replace").split()
        if len(fields) == 5 and fields[0] == self.config.service_name:
            new = (fields[3], int(fields[4]))
            if new != self.primary:
                self.drop(f"the sentinels switched {fields[0]} to {_show(new)}")

    async def _target(self) -> NodeConfig:
        ordered = replace(self.config, seeds=tuple(self._seeds))
        primary, sentinel = await ask_sentinels(
            ordered, self.connect_timeout, f"{self.owner.name}-sentinel"
        )
        self._seeds.remove(sentinel)
        self._seeds.insert(0, sentinel)
        self._use(primary)
        return self.config.at(*primary)

    def _use(self, primary: tuple[str, int]) -> None:
        previous, self.primary = self.primary, primary
        shown = f"{primary[0]}:{primary[1]}"
        if previous is None or previous == primary:
            self.health = self.health.changed(primary=shown)
            return
        self.health = self.health.changed(primary=shown, failovers=self.health.failovers + 1)
        message = f"primary of {self.config.service_name} moved from {_show(previous)} to {shown}"
        logger.warning("Redis %s: %s", self.address, message)
        self.owner.on_health(self, "failover", True, message)

    async def _verify(self, connection: RespConnection) -> None:
        role = await asyncio.wait_for(connection.command("ROLE"), self.connect_timeout)
        if role[0] != b"master":
            raise RedisConnectionLost(
                f"{_show(self.primary)} is a {role[0].decode()}, not the primary of "
                f"{self.config.service_name}"
            )

    def publish(self, channel: bytes, payload: bytes) -> asyncio.Future[Any]:
        """PUBLISH on the primary; a ``-READONLY`` answer (a replica) starts re-discovery."""
        future = super().publish(channel, payload)
        future.add_done_callback(self._readonly_check)
        return future

    def _readonly_check(self, future: asyncio.Future[Any]) -> None:
        error = None if future.cancelled() else future.exception()
        if isinstance(error, hiredis.ReplyError) and str(error).startswith("READONLY"):
            self.drop(f"{_show(self.primary)} answered READONLY: it is a replica now")

    async def _open_subscriber(self) -> None:
        await super()._open_subscriber()
        self._subscriber_at = self.primary

    async def _check_target(self) -> None:
        connection = self._publisher
        if connection is None:
            return
        try:
            role: Any = await asyncio.wait_for(connection.command("ROLE"), self.owner.timeout)
        except Exception:
            return  # a timeout or a lost connection is handled by the PING check
        if role[0] != b"master":
            self.drop(f"{_show(self.primary)} is no longer the primary ({role[0].decode()})")
        elif self._subscriber is not None and self._subscriber_at != self.primary:
            with contextlib.suppress(Exception):
                self._reset_subscriber(
                    self._subscriber, RedisConnectionLost("the subscriber is not on the primary")
                )


def _show(address: tuple[str, int] | None) -> str:
    return "?" if address is None else f"{address[0]}:{address[1]}"
