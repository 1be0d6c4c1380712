"""Calls waiting for their reply: ids, timeouts, the pending notice, and failing them all.

Each call is a future. Its timers are loop handles, not tasks, so a call that ends in any way
(reply, timeout, connection lost, the caller cancelled) leaves nothing running.
"""

from __future__ import annotations

import asyncio
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from .errors import CallTimeout, ClientError
from .listeners import ListenerRunner

_BASE36 = string.digits + string.ascii_lowercase


def base36(number: int) -> str:
    """``number`` (>= 0) in base 36 with lowercase letters, as JavaScript's toString(36)."""
    digits = []
    while True:
        number, digit = divmod(number, 36)
        digits.append(_BASE36[digit])
        if number == 0:
            return "".join(reversed(digits))


@dataclass(slots=True)
class _Call:
    event: str
    future: asyncio.Future[Any]
    timer: asyncio.TimerHandle
    pending_timer: asyncio.TimerHandle | None


class PendingCalls:
    """The calls of one client that wait for a reply, by callback id."""

    def __init__(self, runner: ListenerRunner) -> None:
        self._runner = runner
        self._calls: dict[str, _Call] = {}
        self._counter = 0

    def __len__(self) -> int:
        return len(self._calls)

    def new_id(self) -> str:
        """A callback id like the JavaScript client's: ``<ms base36>-<4 random>-<counter>``."""
        self._counter += 1
        noise = "".join(random.choices(_BASE36, k=4))
        return f"{base36(time.time_ns() // 1_000_000)}-{noise}-{base36(self._counter)}"

    def add(
        self,
        callback_id: str,
        event: str,
        timeout: float,
        pending_timeout: float | None = None,
        on_pending: Callable[[], Any] | None = None,
    ) -> asyncio.Future[Any]:
        """Register a call; its future gets the reply payload or a :class:`CallTimeout`.

        ``on_pending`` runs once after ``pending_timeout`` seconds if the reply is still
        missing (only when that is shorter than ``timeout``, as in the JavaScript client).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        timer = loop.call_later(timeout, self._expire, callback_id, timeout)
        pending_timer = None
        if on_pending is not None and pending_timeout is not None and pending_timeout < timeout:
            pending_timer = loop.call_later(
                pending_timeout,
                partial(self._runner.call, on_pending, what=f"on_pending of {event!r}"),
            )
        self._calls[callback_id] = _Call(event, future, timer, pending_timer)
        future.add_done_callback(lambda _: self._forget(callback_id))
        return future

    def resolve(self, callback_id: Any, payload: Any) -> bool:
        """Complete the call ``callback_id`` with ``payload``; False for an unknown id."""
        call = self._calls.get(callback_id) if isinstance(callback_id, str) else None
        if call is None or call.future.done():
            return False
        call.future.set_result(payload)
        return True

    def discard(self, callback_id: str) -> None:
        """Drop a call whose request could not be sent; its future is cancelled."""
        call = self._calls.get(callback_id)
        if call is not None:
            _abandon(call.future)

    def fail_all(self, error: Callable[[str], ClientError]) -> int:
        """Fail every waiting call with ``error(event)``; returns how many there were."""
        calls = list(self._calls.values())
        for call in calls:
            if not call.future.done():
                call.future.set_exception(error(call.event))
        return len(calls)

    def _expire(self, callback_id: str, timeout: float) -> None:
        call = self._calls.get(callback_id)
        if call is not None and not call.future.done():
            call.future.set_exception(
                CallTimeout(f"No reply to {call.event!r} within {timeout} s ({callback_id})")
            )

    def _forget(self, callback_id: str) -> None:
        call = self._calls.pop(callback_id, None)
        if call is not None:
            call.timer.cancel()
            if call.pending_timer is not None:
                call.pending_timer.cancel()


def _abandon(future: asyncio.Future[Any]) -> None:
    # Cancel a future nobody will await; if it already failed, mark the error as seen so
    # asyncio does not log "exception was never retrieved".
    if future.done():
        if not future.cancelled():
            future.exception()
    else:
        future.cancel()
