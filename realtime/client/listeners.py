"""Listener registries and the runner that calls user code safely.

Sync listeners run inline; a listener that returns an awaitable runs as a task the runner
keeps track of, so that ``close()`` can wait for it (or cancel it) and leave nothing behind.
A failing listener is logged and never breaks the client.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("realtime.client")

Listener = Callable[..., Any]


class ListenerRunner:
    """Calls listeners and callbacks; owns the tasks of the async ones."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()

    def call(self, function: Callable[..., Any], *args: Any, what: str) -> None:
        """Call ``function(*args)``; log its failure; run an awaitable result as a task."""
        try:
            result = function(*args)
        except Exception:
            logger.exception("%s failed", what)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._guarded(result, what))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(awaitable: Awaitable[Any], what: str) -> None:
        try:
            await awaitable
        except Exception:
            logger.exception("%s failed", what)

    @property
    def running(self) -> int:
        """How many async listeners are still running."""
        return len(self._tasks)

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for running async listeners, then cancel the rest.

        The calling task is left out, so a listener may itself call ``close()``.
        """
        tasks = self._tasks - {asyncio.current_task()}
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=timeout)
        if late:
            logger.warning("Cancelling %d async listener(s) still running at close", len(late))
            for task in late:
                task.cancel()
            await asyncio.wait(late, timeout=timeout)


@dataclass(frozen=True, slots=True)
class _Entry:
    listener: Listener
    once: bool


class Listeners:
    """Listeners by event name, in registration order."""

    def __init__(self, runner: ListenerRunner, kind: str) -> None:
        self._runner = runner
        self._kind = kind
        self._by_event: dict[str, list[_Entry]] = {}

    def add(self, event: str, listener: Listener, *, once: bool = False) -> None:
        """Register ``listener`` for ``event`` (a listener added twice runs twice)."""
        self._by_event.setdefault(event, []).append(_Entry(listener, once))

    def remove(self, event: str, listener: Listener | None = None) -> None:
        """Remove every registration of ``listener`` for ``event``; all of them when None."""
        entries = self._by_event.get(event)
        if entries is None:
            return
        kept = [] if listener is None else [e for e in entries if e.listener != listener]
        if kept:
            self._by_event[event] = kept
        else:
            del self._by_event[event]

    def count(self, event: str) -> int:
        """How many listeners ``event`` has."""
        return len(self._by_event.get(event, ()))

    def fire(self, event: str, *args: Any) -> int:
        """Call the listeners of ``event`` with ``args``; returns how many were called."""
        entries = self._by_event.get(event)
        if not entries:
            return 0
        if any(entry.once for entry in entries):
            # Removed before the calls, so a listener that fires the event again (or adds
            # listeners) sees a consistent registry and a once-listener never runs twice.
            kept = [entry for entry in entries if not entry.once]
            if kept:
                self._by_event[event] = kept
            else:
                del self._by_event[event]
        for entry in list(entries):
            self._runner.call(
                entry.listener, *args, what=f"{self._kind} listener {entry.listener!r} of {event!r}"
            )
        return len(entries)
