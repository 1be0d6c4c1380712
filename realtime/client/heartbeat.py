"""The heartbeat's clock, pure: when to ping, when the echo is late.

The heartbeat is section 3 of the protocol reference, docs/reference/protocol.md.

A ping goes out ``interval`` seconds after the connection opened or after the previous echo;
the echo is late ``timeout`` seconds after the ping.
"""

from __future__ import annotations

from collections.abc import Callable


class Heartbeat:
    """The state of one connection's heartbeat, on a given clock (seconds)."""

    def __init__(self, interval: float, timeout: float, clock: Callable[[], float]) -> None:
        self._interval = interval
        self._timeout = timeout
        self._clock = clock
        self._next_ping = clock() + interval
        self._ping_sent_at: float | None = None

    @property
    def awaiting_echo(self) -> bool:
        """True between a ping and its echo."""
        return self._ping_sent_at is not None

    @property
    def deadline(self) -> float:
        """When something must happen: the next ping, or the end of the wait for the echo."""
        if self._ping_sent_at is not None:
            return self._ping_sent_at + self._timeout
        return self._next_ping

    def ping_sent(self) -> None:
        """Record that the ping went out now."""
        self._ping_sent_at = self._clock()

    def echo_received(self) -> float | None:
        """Record an echo; returns the latency in ms, or None when no ping was waiting."""
        if self._ping_sent_at is None:
            return None
        now = self._clock()
        latency_ms = round((now - self._ping_sent_at) * 1000, 3)
        self._ping_sent_at = None
        self._next_ping = now + self._interval
        return latency_ms
