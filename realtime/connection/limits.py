"""Rate limits: token buckets per connection and per event, and connections per address.

Pure code, no I/O: the time comes from an injected clock, so tests use literal values.

The ``REALTIME["RATE_LIMIT"]`` setting (``None`` turns rate limiting off)::

    "RATE_LIMIT": {
        "rate": 50,           # frames per second a connection may keep sending
        "burst": 100,         # frames it may send at once (the bucket's size)
        "events": {           # per-event buckets that replace the connection's bucket
            "chat": {"rate": 2, "burst": 5},
            "cursor": None,   # not limited at all
        },
        "close_after": 50,    # refused frames within close_window seconds that close
        "close_window": 10.0, # the connection (None: never close, only refuse)
        "bytes_rate": 1048576,   # bytes per second a connection may keep sending
        "bytes_burst": 4194304,  # bytes at once (None for both: no byte budget)
    }

Keys left out take the defaults above. Every client frame except the heartbeat takes a token
from its event's bucket, or from the connection's bucket when the event has no override
(malformed and binary frames included), and its length from the connection's byte budget
(frames of unlimited events too). Both are charged **before** the frame is decoded: the
event comes from the frame's first key (:func:`event_hint`; our clients put it there), a
frame without one is charged to the connection's bucket. A refused frame spends a token of
a third bucket that holds ``close_after`` tokens and refills at ``close_after /
close_window`` per second; when that one is empty too, the abuse is sustained and the
connection is closed.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..rate_limit_setting import DEFAULT_RATE_LIMIT

Clock = Callable[[], float]
_EVENT_FIRST = re.compile(r'\{\s*"event"\s*:\s*"([^"\\]{1,200})"')
_CALLBACK_ID = re.compile(r'"callbackId"\s*:\s*"([^"\\]{1,64})"')
_HINT_SPAN = 256


def event_hint(text: str) -> str | None:
    """The event of a frame whose first key is ``"event"`` (a plain string), read without
    decoding the frame; None otherwise."""
    match = _EVENT_FIRST.match(text)
    return match.group(1) if match else None


def callback_hint(text: str) -> str | None:
    """The ``callbackId`` of a frame when it is within its first or last 256 characters
    (our clients put it last), read without decoding the frame; None otherwise."""
    match = _CALLBACK_ID.search(text[-_HINT_SPAN:]) or _CALLBACK_ID.search(text[:_HINT_SPAN])
    return match.group(1) if match else None


class TokenBucket:
    """Holds up to ``burst`` tokens, refilled at ``rate`` per second; full at the start."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float, amount: float = 1.0) -> bool:
        """Spend ``amount`` tokens at time ``now``; False when fewer are left."""
        elapsed = now - self.updated
        if elapsed > 0:  # a clock that went back refills nothing
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.updated = now
        if self.tokens >= amount:
            self.tokens -= amount
            return True
        return False


@dataclass(frozen=True, slots=True)
class Limit:
    """A bucket's shape: ``rate`` tokens per second, at most ``burst`` at once."""

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """The parsed ``RATE_LIMIT`` setting."""

    default: Limit
    events: Mapping[str, Limit | None]
    close_after: int | None
    close_window: float
    bytes: Limit | None = None

    @classmethod
    def from_setting(cls, value: Mapping[str, Any] | None) -> RatePolicy | None:
        """Parse a validated setting (missing keys take defaults); None when off."""
        if value is None:
            return None
        merged = {**DEFAULT_RATE_LIMIT, **value}
        events = {
            name: None if shape is None else Limit(shape["rate"], shape["burst"])
            for name, shape in merged["events"].items()
        }
        byte_rate, byte_burst = merged["bytes_rate"], merged["bytes_burst"]
        return cls(
            Limit(merged["rate"], merged["burst"]),
            events,
            merged["close_after"],
            merged["close_window"],
            None if byte_rate is None else Limit(byte_rate, byte_burst),
        )


class Verdict(enum.Enum):
    """What to do with one client frame."""

    ALLOW = "allow"
    REFUSE = "refuse"
    CLOSE = "close"


class ConnectionRateLimiter:
    """The buckets of one connection; ``check(event)`` for every frame but the heartbeat."""

    __slots__ = ("_bytes", "_clock", "_default", "_events", "_policy", "_refusals")

    def __init__(self, policy: RatePolicy, clock: Clock = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        now = clock()
        self._default = TokenBucket(policy.default.rate, policy.default.burst, now)
        # Only events named in the policy get a bucket, so a client cannot grow this.
        self._events: dict[str, TokenBucket] = {}
        self._bytes = None
        if policy.bytes is not None:
            self._bytes = TokenBucket(policy.bytes.rate, policy.bytes.burst, now)
        self._refusals = None
        if policy.close_after is not None:
            refill = policy.close_after / policy.close_window
            self._refusals = TokenBucket(refill, policy.close_after, now)

    def check(self, event: str | None, size: int = 0) -> Verdict:
        """Admit or refuse one frame of ``event`` (None for malformed and binary frames, and
        frames whose event is not known yet) and ``size`` characters or bytes."""
        now = self._clock()
        budget = self._bytes
        if budget is not None and size > 0 and not budget.take(now, size):
            return self._refused(now)
        bucket = self._bucket(event, now)
        if bucket is None or bucket.take(now):
            return Verdict.ALLOW
        return self._refused(now)

    def own_bucket(self, event: str) -> bool:
        """True when ``event`` has a bucket of its own (or none: not limited)."""
        return event in self._policy.events

    def _refused(self, now: float) -> Verdict:
        if self._refusals is not None and not self._refusals.take(now):
            return Verdict.CLOSE
        return Verdict.REFUSE

    def _bucket(self, event: str | None, now: float) -> TokenBucket | None:
        if event is None or event not in self._policy.events:
            return self._default
        bucket = self._events.get(event)
        if bucket is None:
            limit = self._policy.events[event]
            if limit is None:
                return None
            bucket = self._events[event] = TokenBucket(limit.rate, limit.burst, now)
        return bucket


class ConnectionsPerAddress:
    """Counts open connections per client address, refusing past a limit."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def acquire(self, address: str | None, limit: int | None) -> bool:
        """Count one more connection from ``address``; False (and not counted) past ``limit``.

        Connections without a known address (Unix sockets, test clients) are not limited.
        Connections are counted even with no limit, so that turning it on is consistent.
        """
        if address is None:
            return True
        count = self._counts.get(address, 0)
        if limit is not None and count >= limit:
            return False
        self._counts[address] = count + 1
        return True

    def release(self, address: str | None) -> None:
        """Forget one connection accepted by :meth:`acquire`."""
        if address is None:
            return
        count = self._counts.get(address, 0)
        if count > 1:
            self._counts[address] = count - 1
        else:
            self._counts.pop(address, None)

    def count(self, address: str) -> int:
        """Open connections from ``address``."""
        return self._counts.get(address, 0)


_shared: tuple[Any, RatePolicy | None] = (object(), None)


def shared_policy(setting: Mapping[str, Any] | None) -> RatePolicy | None:
    """The :class:`RatePolicy` of a setting value, parsed once for every connection (and
    again when the setting changes)."""
    global _shared
    if _shared[0] is not setting:
        _shared = (setting, RatePolicy.from_setting(setting))
    return _shared[1]
