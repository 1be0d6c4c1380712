"""Building the recovery coordinator from the settings and the layer's storage."""

from __future__ import annotations

import logging
from typing import Any

from .interfaces import StorageNodes
from .manager import Recovery
from .memory import MemoryHistory, MemorySessions
from .redis_store import RedisHistory, RedisSessions
from .streams import Policies

logger = logging.getLogger(__name__)


def build_recovery(
    enabled: bool,
    window: float,
    history: dict[str, Any],
    storage: StorageNodes | None,
    process_local: bool,
) -> Recovery | None:
    """The coordinator for one hub; None when recovery is off or the layer cannot keep data.

    ``storage`` is the layer's :class:`~realtime.recovery.interfaces.StorageNodes` (Redis);
    without it a process-local layer keeps everything in memory, and any other layer (e.g.
    channels_redis) gets no recovery.
    """
    if not enabled:
        return None
    policies = Policies(history)
    if storage is not None:
        return Recovery(RedisHistory(storage), RedisSessions(storage), policies, window)
    if process_local:
        return Recovery(MemoryHistory(), MemorySessions(), policies, window)
    logger.warning("Connection state recovery needs the realtime channel layer; it is off")
    return None
