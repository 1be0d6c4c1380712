"""Rate-limited warnings of the layer: one line per kind of problem per 10 s, with counts."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from ..throttled_log import ThrottledLogger

_log = ThrottledLogger(logging.getLogger("realtime.layers"), interval=10.0)


def throttled(key: Hashable, level: int, msg: str, *args: Any) -> None:
    """Log ``msg`` unless a line with the same ``key`` was logged in the last 10 s."""
    _log.log(key, level, msg, *args)
