"""Process-wide counters of what the limits refused, closed or dropped.

Every limit that acts counts here, so an operator (and the status page) can see abuse and
slow clients instead of guessing from logs. Counting is a dict increment: cheap enough for
the paths that refuse work.
"""

from __future__ import annotations

import logging
import time
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
    "sends_to_closing": "frames not sent because their connection was closing or closed",
    "oversize_frames_dropped": "pushes not sent because they exceed MAX_FRAME_BYTES",
    "busy_refusals": "client events refused with BUSY: MAX_PENDING_HANDLERS were running on "
    "their connection (under overload: what a node sheds first)",
    "busy_waits": "client events held until a handler slot freed (WHEN_BUSY 'wait'): their "
    "connection was not read meanwhile",
    "handler_errors": "client event handlers that raised",
    "handler_timeouts": "client event handlers cancelled by their timeout",
    "hook_errors": "@on_disconnect hooks that raised or timed out",
    "node_groups_rejoined": "node-level group memberships the channel layer had dropped and "
    "the node re-added",
    "recoveries": "reconnecting clients whose session was restored (docs/topics/recovery.md)",
    "recovery_refusals": "reconnecting clients told they were not recovered (window passed, "
    "history trimmed or lost, wrong token)",
    "history_failures": "pushes that could not be kept in history (the next one starts a new "
    "epoch, so no client is silently left with a gap)",
    "recovery_held_drops": "live pushes dropped while a connection was restored (over 10 000 "
    "held; that client is then closed and recovers again)",
}


#: The counters of a node (``realtime.metrics`` and the channel layer's ``stats()`` prefixed
#: ``layer_``) that count something not delivered: a message, a frame or a client event.
DROP_COUNTERS: frozenset[str] = frozenset(
    {
        "rate_limited_frames",
        "busy_refusals",
        "dropped_frames",
        "sends_to_closing",
        "oversize_frames_dropped",
        "layer_channel_full_drops",
        "layer_group_messages_dropped",
        "layer_expired",
        "layer_malformed_dropped",
        "layer_unsigned_dropped",
        "layer_unknown_key_dropped",
        "layer_forged_dropped",
        "layer_stale_dropped",
        "layer_replayed_dropped",
    }
)


def dropped_total(counters: dict[str, int]) -> int:
    """The sum of a node's :data:`DROP_COUNTERS`."""
    return sum(value for name, value in counters.items() if name in DROP_COUNTERS)


class DropReport:
    """Logs what a node dropped, per reason, at most once per ``interval`` seconds.

    ``check(counters)`` is called with the node's counters (every announcement); when any
    :data:`DROP_COUNTERS` grew since the last line, one WARNING names each increase.
    """

    def __init__(self, logger: logging.Logger, interval: float = 1.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[str, int] | None = None
        self._logged_at = -float("inf")

    def check(self, counters: dict[str, int]) -> bool:
        """Log the drops since the last line if any, and not within ``interval``."""
        now = time.monotonic()
        drops = {name: counters[name] for name in DROP_COUNTERS if name in counters}
        if self._last is None:
            self._last = drops
            return False
        if now - self._logged_at < self.interval:
            return False
        grown = {n: v - self._last.get(n, 0) for n, v in drops.items() if v > self._last.get(n, 0)}
        if not grown:
            return False
        self._last, self._logged_at = drops, now
        self.logger.warning(
            "Dropped since the last report: %s (realtime_status and the admin status page "
            "show the totals)",
            ", ".join(f"{name}={count}" for name, count in sorted(grown.items())),
        )
        return True


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
