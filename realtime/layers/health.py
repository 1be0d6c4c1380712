"""Health of the Redis nodes as seen by one process: immutable snapshots, pure backoff.

:class:`NodeHealth` is what :meth:`MultiRedisChannelLayer.health` returns (one per node) and
what the publish strategies choose from. A node is replaced by a new snapshot on every
change, so a snapshot can be read from any thread.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

BACKOFF_BASE = 0.1
BACKOFF_CAP = 5.0


@dataclass(frozen=True)
class NodeHealth:
    """One Redis node as this process sees it.

    * ``address``: ``redis://host:port/db`` (``rediss://`` for TLS), never the password
    * ``publish_ok``: the publishing connection answers PING within the timeout
    * ``subscribe_ok``: the subscribing connection is connected, has (re)subscribed every
      channel and answers PING; ``None`` while this process needs no subscription yet
    * ``latency_ms``: smoothed PING round trip of the publishing connection (``None``
      before the first answer)
    * ``last_error``: the last connection error, ``None`` if there was none
    * ``since``: Unix time of the last change of ``publish_ok`` / ``subscribe_ok``
    * ``excluded``: another server process cannot read from this node
      (:meth:`MultiRedisChannelLayer.set_excluded_nodes`); publishers avoid it
    * ``kind``: ``standalone``, ``sentinel`` or ``cluster`` (the entry's URL form)
    * ``primary``: a Sentinel entry's primary in use now (``host:port``), ``None`` before
      one was found
    * ``shards``: a Cluster entry's shard primaries in use (``host:port``, by slot order)
    * ``failovers``: how many times this process saw the primary (Sentinel) or a shard's
      primary (Cluster) move
    """

    address: str
    host: str
    port: int
    publish_ok: bool = False
    subscribe_ok: bool | None = None
    latency_ms: float | None = None
    last_error: str | None = None
    since: float = 0.0
    excluded: bool = False
    kind: str = "standalone"
    primary: str | None = None
    shards: tuple[str, ...] = ()
    failovers: int = 0

    @property
    def healthy(self) -> bool:
        """Usable for publishing and, if this process subscribes, for receiving."""
        return self.publish_ok and self.subscribe_ok is not False

    def changed(self, **changes: Any) -> NodeHealth:
        """A copy with ``changes``; ``since`` moves when a health flag changes."""
        flags = ("publish_ok", "subscribe_ok")
        if any(key in changes and changes[key] != getattr(self, key) for key in flags):
            changes.setdefault("since", time.time())
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The snapshot as a plain dict (JSON-friendly), with ``healthy`` added."""
        return {**asdict(self), "healthy": self.healthy}


def backoff_delay(attempt: int, jitter: float = 0.0) -> float:
    """Seconds to wait before reconnect ``attempt`` (0-based): doubling from 0.1 s, capped
    at 5 s; ``jitter`` in [0, 1) shortens it by up to half so processes do not reconnect
    in lockstep."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(attempt, 16))
    return delay * (1 - jitter / 2)


def smoothed_latency(previous: float | None, sample: float) -> float:
    """Exponentially weighted PING latency: one fast answer from a slow node does not make
    it the fastest, one slow answer from a fast node does not bury it."""
    if previous is None:
        return sample
    return previous * 0.7 + sample * 0.3
