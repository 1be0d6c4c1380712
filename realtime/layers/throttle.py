"""Rate-limited warnings of the layer: one line per kind of problem per 10 s, with counts."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ..throttled_log import shared_logger


def throttled(key: Hashable, level: int, msg: str, *args: Any) -> None:
    """Log ``msg`` unless a line with the same ``key`` was logged in the last 10 s."""
    shared_logger("realtime.layers", 10.0).log(key, level, msg, *args)
