"""The health event log: what each node observed, stored without blocking the event loop.

Signal receivers (Redis health changes, nodes joining and leaving, duplicate names) only
append to a bounded in-memory queue; one background task writes batches to the database in
a worker thread and prunes rows older than ``HEALTH_LOG_RETENTION_DAYS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.utils import timezone

from .. import signals
from ..conf import realtime_settings
from ..throttled_log import ThrottledLogger

logger = logging.getLogger(__name__)
QUEUE_LIMIT = 1000
PRUNE_EVERY = 600.0


@dataclass(frozen=True, slots=True)
class Observation:
    """One event waiting to be written."""

    created: datetime.datetime
    kind: str
    subject: str
    healthy: bool | None
    detail: str


class HealthLog:
    """The queue and writer task of one server node.

    :meth:`listen` connects it to the signals that report what this node observes (its own
    layer's Redis health, nodes joining and leaving, duplicate names) until :meth:`stop`.
    """

    def __init__(self, node_name: str) -> None:
        self.node_name = node_name
        #: False keeps this node's events out of the database (``realtime.testing``).
        self.enabled = True
        self.layer: Any = None
        self.membership: Any = None
        self.queue: asyncio.Queue[Observation] | None = None
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None
        self._last_prune = 0.0
        self._throttled = ThrottledLogger(logger, 60.0)
        self._listening = False

    def record(
        self, kind: str, subject: str, healthy: bool | None = None, detail: str = ""
    ) -> None:
        """Queue an event (never blocks; counts a drop when the queue is full)."""
        if not (self.enabled and realtime_settings.HEALTH_LOG):
            return
        if self.queue is None:
            self.queue = asyncio.Queue(QUEUE_LIMIT)
            self._task = asyncio.get_running_loop().create_task(self._write_loop())
        try:
            self.queue.put_nowait(Observation(timezone.now(), kind, subject, healthy, detail))
        except asyncio.QueueFull:
            self.dropped += 1

    async def _write_loop(self) -> None:
        assert self.queue is not None
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty() and len(batch) < 100:
                batch.append(self.queue.get_nowait())
            try:
                await database_sync_to_async(self._write)(batch)
            except Exception:
                self.dropped += len(batch)
                self._throttled.log(
                    "write",
                    logging.ERROR,
                    "Writing %d health events failed (is the database migrated?)",
                    len(batch),
                    exc_info=True,
                )

    def _write(self, batch: list[Observation]) -> None:
        # Imported here: models need the app registry, which is ready only when Django is.
        from ..models import HealthEvent

        HealthEvent.objects.bulk_create(
            HealthEvent(
                created=o.created,
                node=self.node_name,
                kind=o.kind,
                subject=o.subject[:200],
                healthy=o.healthy,
                detail=o.detail,
            )
            for o in batch
        )
        if time.monotonic() - self._last_prune > PRUNE_EVERY:
            self._last_prune = time.monotonic()
            days = realtime_settings.HEALTH_LOG_RETENTION_DAYS
            HealthEvent.objects.filter(
                created__lt=timezone.now() - datetime.timedelta(days=days)
            ).delete()

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until every queued event is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self.queue is not None and not self.queue.empty() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)

    async def stop(self) -> None:
        """Stop listening and stop the writer task."""
        self._disconnect()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.queue = None

    # -- the signals this node observes ----------------------------------------------------

    def listen(self, layer: Any, membership: Any) -> None:
        """Record what the signals report of this node's own ``layer`` and ``membership``
        (another layer instance, or another hub in the same process, is not this node)."""
        self.layer = layer
        self.membership = membership
        if self._listening:
            # Connecting again would change nothing but leave one more weakref finalizer
            # per signal behind: the hub calls this for every connection while it is not
            # a cluster node (single-node mode), so it would grow with every connection.
            return
        self._listening = True
        uid = f"realtime-log-{id(self)}"
        signals.node_joined.connect(self._on_node_joined, dispatch_uid=uid + "-joined")
        signals.node_left.connect(self._on_node_left, dispatch_uid=uid + "-left")
        signals.duplicate_server_name.connect(self._on_duplicate, dispatch_uid=uid + "-dup")
        signals.redis_health_changed.connect(self._on_redis_health, dispatch_uid=uid + "-redis")

    def _disconnect(self) -> None:
        self._listening = False
        uid = f"realtime-log-{id(self)}"
        signals.node_joined.disconnect(dispatch_uid=uid + "-joined")
        signals.node_left.disconnect(dispatch_uid=uid + "-left")
        signals.duplicate_server_name.disconnect(dispatch_uid=uid + "-dup")
        signals.redis_health_changed.disconnect(dispatch_uid=uid + "-redis")

    def _on_redis_health(self, **info: Any) -> None:
        if self.layer is None or info.get("layer") is not self.layer:
            return
        # A Sentinel or Cluster entry is named by its address (its seeds), not its first seed.
        standalone = info.get("kind", "standalone") == "standalone"
        subject = f"{info.get('host')}:{info.get('port')}" if standalone else str(info["address"])
        keys = ("event", "connection_type", "error", "healthy_publishers")
        keys += ("healthy_subscribers", "node_count")
        detail = " ".join(f"{k}={info[k]}" for k in keys if info.get(k) not in (None, ""))
        self.record("redis", subject, info.get("healthy"), detail)

    def _on_node_joined(self, name: str = "", info: Any = None, **kwargs: Any) -> None:
        if kwargs.get("membership") is self.membership:
            self.record("node_joined", name, True, _describe(info))

    def _on_node_left(self, name: str = "", info: Any = None, **kwargs: Any) -> None:
        if kwargs.get("membership") is self.membership:
            self.record("node_left", name, False, _describe(info))

    def _on_duplicate(self, name: str = "", instances: Any = (), **kwargs: Any) -> None:
        if kwargs.get("membership") is self.membership:
            self.record("duplicate_name", name, False, "instances: " + ", ".join(instances))


def _describe(info: Any) -> str:
    if not isinstance(info, dict):
        return ""
    return f"pid {info.get('pid')} on {info.get('host')}, version {info.get('version')}"
