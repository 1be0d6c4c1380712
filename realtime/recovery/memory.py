"""History and sessions inside this process: the storage when the layer has no Redis node.

With one server process nothing else could read them anyway. Time comes from the event
loop's clock, so tests can reason about expiry without sleeping for real.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .interfaces import Entry


def new_epoch() -> str:
    """A fresh epoch: changes whenever a stream's history starts anew."""
    return secrets.token_urlsafe(6)


@dataclass
class _Stream:
    epoch: str
    expires: float
    seq: int = 0
    trimmed: int = 0
    entries: deque[Entry] = field(default_factory=deque)


class MemoryHistory:
    """:class:`~realtime.recovery.interfaces.History` in a dict."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.streams: dict[str, _Stream] = {}

    def _live(self, stream: str) -> _Stream | None:
        found = self.streams.get(stream)
        if found is not None and found.expires <= self.clock():
            del self.streams[stream]
            return None
        return found

    async def append(
        self, stream: str, frame: str, excluded: Sequence[str], size: int, ttl: int
    ) -> tuple[str, int] | None:
        """Keep one push (see the interface)."""
        found = self._live(stream)
        if found is None:
            if len(self.streams) >= 1000:
                self._sweep()
            found = self.streams[stream] = _Stream(new_epoch(), 0.0)
        found.seq += 1
        found.entries.append(Entry(found.seq, tuple(excluded), frame))
        while len(found.entries) > size:
            found.trimmed = found.entries.popleft().offset
        found.expires = self.clock() + ttl
        return found.epoch, found.seq

    def _sweep(self) -> None:
        now = self.clock()
        self.streams = {name: s for name, s in self.streams.items() if s.expires > now}

    async def top(self, stream: str, ttl: int) -> tuple[str, int] | None:
        """The stream's epoch and last offset (an empty history is started if none)."""
        found = self._live(stream)
        if found is None:
            found = self.streams[stream] = _Stream(new_epoch(), self.clock() + ttl)
        return found.epoch, found.seq

    async def read(
        self, stream: str, epoch: str, after: int, missing: Sequence[int]
    ) -> tuple[str, list[Entry]] | None:
        """Entries after ``after`` plus ``missing`` (see the interface)."""
        found = self._live(stream)
        if found is None:
            return ("", []) if epoch == "" else None
        if epoch not in ("", found.epoch):
            return None
        if epoch == "":
            after, missing = 0, ()
        picked = select(list(found.entries), found.trimmed, found.seq, after, missing)
        return None if picked is None else (found.epoch, picked)


def select(
    entries: list[Entry], trimmed: int, seq: int, after: int, missing: Sequence[int]
) -> list[Entry] | None:
    """The wanted entries of one history, None when some of them are no longer there."""
    wanted = {offset for offset in missing if offset <= after}
    low = min(wanted, default=after + 1)
    if low <= trimmed and (wanted or after < seq):
        return None
    picked = [e for e in entries if e.offset > after or e.offset in wanted]
    expected = len(wanted) + max(0, seq - after)
    # Every offset was kept where it was allocated; a hole means a copy that never arrived.
    return picked if len(picked) == expected else None


class MemorySessions:
    """:class:`~realtime.recovery.interfaces.Sessions` in a dict."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.records: dict[str, tuple[str, float]] = {}

    async def save(self, session_id: str, record: str, ttl: float) -> None:
        """Keep ``record`` for ``ttl`` seconds."""
        now = self.clock()
        if len(self.records) > 1000:
            self.records = {k: v for k, v in self.records.items() if v[1] > now}
        self.records[session_id] = (record, now + ttl)

    async def take(self, session_id: str) -> str | None:
        """Remove and return the record if it is still within its window."""
        found = self.records.pop(session_id, None)
        if found is None or found[1] <= self.clock():
            return None
        return found[0]
