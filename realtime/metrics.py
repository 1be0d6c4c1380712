"""Process-wide counters of what the limits refused, closed or dropped.

Every limit that acts counts here, so an operator (and the status page) can see abuse and
slow clients instead of guessing from logs. Counting is a dict increment: cheap enough for
the paths that refuse work.
"""

from __future__ import annotations

from collections import Counter

# The counters, with what each one counts (docs/topics/security.md, "Counters").
COUNTERS: dict[str, str] = {
    "auth_failures": "connections refused by authentication (4011 or HTTP 403)",
    "auth_timeouts": "connections closed for binding no user within AUTH_TIMEOUT (4011)",
    "connect_errors": "connections closed because authentication or a connect hook failed "
    "or took longer than CONNECT_TIMEOUT (1011)",
    "ip_limit_refusals": "handshakes refused by MAX_CONNECTIONS_PER_IP (HTTP 403)",
    "rate_limited_frames": "client frames refused by RATE_LIMIT",
    "rate_limit_closes": "connections closed for sustained rate-limit abuse (4029)",
    "send_pauses": "times a client stopped reading and its frames were held back",
    "slow_client_closes": "connections closed because their outgoing queue overflowed (4008)",
    "dropped_frames": "outgoing frames discarded from the queue of a closing connection",
    "handler_errors": "client event handlers that raised",
    "handler_timeouts": "client event handlers cancelled by their timeout",
    "hook_errors": "@on_disconnect hooks that raised or timed out",
}


class Metrics:
    """Named counters; ``incr("slow_client_closes")``, ``snapshot()`` for a status page."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def incr(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to counter ``name`` (one of :data:`COUNTERS`)."""
        if name not in COUNTERS:
            raise KeyError(f"unknown counter {name!r}")
        self._counts[name] += amount

    def get(self, name: str) -> int:
        """The current value of counter ``name``."""
        return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        """Every counter with its value (zero included), for display."""
        return {name: self._counts[name] for name in COUNTERS}

    def reset(self) -> None:
        """Set every counter to zero (tests)."""
        self._counts.clear()


metrics = Metrics()
