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
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.utils import timezone

from ..conf import realtime_settings
from ..throttled_log import ThrottledLogger

if TYPE_CHECKING:
    from ..hub import Hub

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
    """The queue and writer task of one hub."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.queue: asyncio.Queue[Observation] | None = None
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None
        self._last_prune = 0.0
        self._throttled = ThrottledLogger(logger, 60.0)

    def record(
        self, kind: str, subject: str, healthy: bool | None = None, detail: str = ""
    ) -> None:
        """Queue an event (never blocks; counts a drop when the queue is full)."""
        if not realtime_settings.HEALTH_LOG:
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
        from ..models import HealthEvent

        HealthEvent.objects.bulk_create(
            HealthEvent(
                created=o.created,
                node=self.hub.name,
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
        """Stop the writer task."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.queue = None


def _current_log(layer: Any = None) -> HealthLog | None:
    # Only a server node's hub keeps a log; signals from elsewhere (another layer instance,
    # a command's observer, a loop without a hub) are not this node's observations.
    from ..hub import existing_hub

    hub = existing_hub()
    if hub is None or hub.role != "node" or (layer is not None and layer is not hub.link.layer):
        return None
    return hub.health_log


def on_redis_health_changed(sender: Any = None, **info: Any) -> None:
    """Receiver of ``redis_health_changed``."""
    log = _current_log(info.get("layer"))
    if log is None:
        return
    subject = f"{info.get('host')}:{info.get('port')}"
    detail = " ".join(
        f"{key}={info[key]}"
        for key in (
            "event",
            "connection_type",
            "error",
            "healthy_publishers",
            "healthy_subscribers",
            "node_count",
        )
        if info.get(key) not in (None, "")
    )
    log.record("redis", subject, info.get("healthy"), detail)


def on_node_joined(sender: Any = None, name: str = "", info: Any = None, **kwargs: Any) -> None:
    """Receiver of ``node_joined``."""
    if (log := _current_log()) is not None:
        log.record("node_joined", name, True, _describe(info))


def on_node_left(sender: Any = None, name: str = "", info: Any = None, **kwargs: Any) -> None:
    """Receiver of ``node_left``."""
    if (log := _current_log()) is not None:
        log.record("node_left", name, False, _describe(info))


def on_duplicate_server_name(
    sender: Any = None, name: str = "", instances: Any = (), **kwargs: Any
) -> None:
    """Receiver of ``duplicate_server_name``."""
    if (log := _current_log()) is not None:
        log.record("duplicate_name", name, False, "instances: " + ", ".join(instances))


def _describe(info: Any) -> str:
    if not isinstance(info, dict):
        return ""
    return f"pid {info.get('pid')} on {info.get('host')}, version {info.get('version')}"


def connect_receivers() -> None:
    """Wire the receivers (called from ``AppConfig.ready``)."""
    from .. import signals

    signals.node_joined.connect(on_node_joined, dispatch_uid="realtime-log-joined")
    signals.node_left.connect(on_node_left, dispatch_uid="realtime-log-left")
    signals.duplicate_server_name.connect(on_duplicate_server_name, dispatch_uid="realtime-log-dup")
    redis_signal = getattr(signals, "redis_health_changed", None)
    if redis_signal is not None:
        redis_signal.connect(on_redis_health_changed, dispatch_uid="realtime-log-redis")
