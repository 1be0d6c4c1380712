"""Log lines that cannot flood: at most one per key per interval, with a count of the rest."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Hashable
from typing import Any


class ThrottledLogger:
    """Wraps a logger; ``log(key, level, msg, ...)`` emits at most once per ``interval``.

    Key by the *kind* of problem, never by something a client chooses (its address, a name
    it sends): distinct keys log once each. The keys kept are bounded: past ``_MAX_KEYS``
    the least recently used are forgotten, never all at once.
    """

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
        last, suppressed = self._last.pop(key, (-float("inf"), 0))  # re-inserted: recent
        if now - last < self.interval:
            self._last[key] = (last, suppressed + 1)
            return False
        if len(self._last) >= self._MAX_KEYS:
            for stale in list(itertools.islice(self._last, len(self._last) // 10 or 1)):
                del self._last[stale]
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
