"""The reconnect schedule of the original client, as a pure function.

The schedule is section 6 of the protocol reference, docs/reference/protocol.md.

Attempt n waits I for n <= T, else floor(max(I, min(2^(n-T)*I + U*I, M))) milliseconds, with
T the fast-reconnect threshold, I the fast interval, M the maximum and U uniform in [0, 1).
By default: 3 s, 3 s, 3 s, 6-9 s, 12-15 s, 24-27 s, 48-51 s, 96-99 s, then 120 s.
"""

from __future__ import annotations

import math
import random as random_module
from collections.abc import Callable
from typing import Final

# 2**1000 * I overflows nothing (floats reach 1e308) and already exceeds any sane maximum;
# capping the exponent keeps attempt 10 000 as cheap and safe as attempt 10.
_MAX_EXPONENT: Final = 1000


def to_ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded to a microsecond so that 0.07 s is 70 ms, not 70.0000001."""
    return round(seconds * 1000, 3)


def reconnect_delay_ms(
    attempt: int,
    *,
    threshold: int,
    interval_ms: float,
    max_interval_ms: float,
    random: Callable[[], float] = random_module.random,
) -> int:
    """The delay in whole milliseconds before reconnect attempt ``attempt`` (1 is the first).

    ``random`` returns the jitter factor U in [0, 1); tests pass a fixed one.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, not {attempt}")
    if attempt <= threshold:
        return math.floor(interval_ms)
    exponent = min(attempt - threshold, _MAX_EXPONENT)
    backoff = 2.0**exponent * interval_ms + random() * interval_ms
    return math.floor(max(interval_ms, min(backoff, max_interval_ms)))
