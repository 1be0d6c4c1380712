"""Log lines that cannot flood: at most one per key per interval, with a count of the rest."""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from typing import Any


class ThrottledLogger:
    """Wraps a logger; ``log(key, level, msg, ...)`` emits at most once per ``interval``."""

    _MAX_KEYS = 10_000

    def __init__(self, logger: logging.Logger, interval: float) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[Hashable, tuple[float, int]] = {}

    def log(self, key: Hashable, level: int, msg: str, *args: Any, exc_info: bool = False) -> bool:
        """Log unless ``key`` was logged less than ``interval`` ago; returns True if logged."""
        if not self.logger.isEnabledFor(level):
            return False
        now = time.monotonic()
        last, suppressed = self._last.get(key, (-float("inf"), 0))
        if now - last < self.interval:
            self._last[key] = (last, suppressed + 1)
            return False
        if len(self._last) >= self._MAX_KEYS:
            self._last.clear()
        self._last[key] = (now, 0)
        if suppressed:
            msg += " (%d similar messages suppressed)"
            args = (*args, suppressed)
        self.logger.log(level, msg, *args, exc_info=exc_info)
        return True


_shared: dict[str, ThrottledLogger] = {}


def shared_logger(name: str, interval: float) -> ThrottledLogger:
    """The process-wide throttled logger of the logger ``name``, made on first use.

    One per name, so that a flood from many connections (or many slow clients at once) still
    logs once per key and interval, whichever module sees it.
    """
    throttled = _shared.get(name)
    if throttled is None:
        throttled = _shared[name] = ThrottledLogger(logging.getLogger(name), interval)
    return throttled
