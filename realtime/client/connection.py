"""Keeping a client connected: open, serve, reconnect on schedule, close.

One supervisor task runs the loop. ``stop()`` and ``restart()`` cancel it; its cancellation
path closes an open connection with 4001, so no other task ever needs cleaning up. A restart
starts a new supervisor that first waits for the old one to finish closing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from websockets.asyncio.client import ClientConnection, connect

from .backoff import reconnect_delay_ms, to_ms
from .errors import ConnectFailed
from .options import ClientOptions
from .session import Closed, Session, close_connection

logger = logging.getLogger("realtime.client")

MANUAL_CLOSE: Final = (4001, "client manual close")
RECONNECT_CLOSE: Final = (4001, "client reconnect")


class ConnectionLoop:
    """The connection of one client, kept open according to its options.

    ``fire(event, *args)`` fires lifecycle events, ``on_text(text)`` gets every frame that is
    not a heartbeat echo, ``on_closed(closed)`` runs when an open connection closed (before
    the ``close`` event), ``on_give_up(error)`` when the loop stops for good on its own.
    """

    def __init__(
        self,
        options: ClientOptions,
        *,
        fire: Callable[..., Any],
        on_text: Callable[[str], None],
        on_closed: Callable[[Closed], None],
        on_give_up: Callable[[ConnectFailed], None],
        extra_params: Callable[[], dict[str, str]] | None = None,
        greet: Callable[[ClientConnection], Awaitable[str | None]] | None = None,
    ) -> None:
        self.options = options
        # Recovery (see RealtimeClient): params for the next connect, and the read of the
        # server's welcome frame before "open" fires.
        self._extra_params = extra_params
        self._greet = greet
        self._fire = fire
        self._on_text = on_text
        self._on_closed = on_closed
        self._on_give_up = on_give_up
        self.ws: ClientConnection | None = None
        self.session: Session | None = None
        self.attempt = 0
        self._phase = "connecting"
        self._stop_close = MANUAL_CLOSE
        self._current: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._cancelled: set[asyncio.Task[None]] = set()
        self._open_waiters: set[asyncio.Future[None]] = set()

    @property
    def running(self) -> bool:
        """True while the loop connects, serves or waits to reconnect."""
        return self._current is not None and not self._current.done()

    @property
    def state(self) -> str:
        """``"connecting"``, ``"open"``, ``"waiting"`` (for a reconnect) or ``"closed"``."""
        return self._phase if self.running else "closed"

    def start(self) -> None:
        """Start connecting unless already running."""
        if not self.running:
            self._spawn(None)

    def restart(self) -> None:
        """Drop the current connection or attempt (4001) and connect again at once."""
        previous = self._current if self.running else None
        if previous is not None:
            self._cancel(previous, RECONNECT_CLOSE)
        self._spawn(previous)

    async def stop(self) -> None:
        """Close an open connection with 4001, stop reconnecting, wait until nothing runs."""
        for task in list(self._tasks):
            self._cancel(task, MANUAL_CLOSE)
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        self._current = None
        self._fail_open_waiters(ConnectFailed(f"Client for {self.options.url} was closed"))

    async def wait_open(self, timeout: float | None) -> None:
        """Wait until a connection opens; ``ConnectFailed`` if the loop gives up first."""
        if self.ws is not None:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._open_waiters.add(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        finally:
            self._open_waiters.discard(waiter)

    def _spawn(self, previous: asyncio.Task[None] | None) -> None:
        self.attempt = 0
        self._phase = "connecting"
        self.ws = None
        task = asyncio.get_running_loop().create_task(
            self._supervise(previous), name=f"realtime-client {self.options.url}"
        )
        self._current = task
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _cancel(self, task: asyncio.Task[None], close: tuple[int, str]) -> None:
        # Also fine from a listener the supervisor itself runs: the cancellation lands at its
        # next await, where an open connection is closed with ``close``.
        self._stop_close = close
        self.ws = None
        # Once per task: a second cancel would cut short the closing handshake. (Not
        # task.cancelling(): an expiring asyncio.timeout counts there too.)
        if not task.done() and task not in self._cancelled:
            self._cancelled.add(task)
            task.cancel()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._cancelled.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("The realtime client loop failed", exc_info=task.exception())

    async def _supervise(self, previous: asyncio.Task[None] | None) -> None:
        session: Session | None = None
        try:
            if previous is not None:
                await asyncio.wait([previous])  # let it finish closing its connection
            while True:
                closed: Closed | None = None
                session = await self._open()
                if session is not None:
                    closed = await session.run()
                    session = None
                    self._closed(closed)
                if self._current is not asyncio.current_task():
                    return  # restart() from a listener replaced this loop
                if closed is not None and closed.code in self.options.no_reconnect_codes:
                    self._give_up(
                        f"Closed with {closed.code} {closed.reason!r}: not reconnecting", closed
                    )
                    return
                delay_ms = self._next_delay_ms()
                if delay_ms is None:
                    return
                self._phase = "waiting"
                await asyncio.sleep(delay_ms / 1000)
        except asyncio.CancelledError:
            if session is not None:
                self._closed(await close_connection(session.ws, *self._stop_close))
            raise

    async def _open(self) -> Session | None:
        self._phase = "connecting"
        options = self.options
        extra = {} if options.ssl is None else {"ssl": options.ssl}
        try:
            extra_params = self._extra_params() if self._extra_params is not None else None
            ws = await connect(
                options.connection_url(extra_params),
                origin=options.origin,  # type: ignore[arg-type]  # websockets' Origin is a str
                additional_headers=options.headers,
                open_timeout=options.open_timeout,
                close_timeout=options.close_timeout,
                ping_interval=None,  # the application heartbeat does this job
                max_size=options.max_frame_bytes,
                **extra,
            )
        except Exception as exc:
            logger.info("Connecting to %s failed: %s", options.url, exc)
            self._fire("error", exc)
            return None
        leftover = await self._greet(ws) if self._greet is not None else None
        self.ws = ws
        self.session = Session(
            ws,
            ping_interval=options.ping_interval,
            pong_timeout=options.pong_timeout,
            ping_msg=options.ping_msg,
            on_text=self._on_text,
            fire=self._fire,
        )
        self._phase = "open"
        self.attempt = 0
        for waiter in self._open_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._fire("open")
        if leftover is not None:  # the first frame was no welcome: handle it as usual
            self.session.handle(leftover)
        return self.session

    def _closed(self, closed: Closed) -> None:
        self.ws = None
        self._on_closed(closed)
        self._fire("close", closed.code, closed.reason)

    def _next_delay_ms(self) -> int | None:
        options = self.options
        limit = options.repeat_limit
        if limit is not None and self.attempt >= limit:
            self._fire("repeat-limit", limit)
            self._give_up(f"Gave up after {limit} reconnect attempts", None)
            return None
        self.attempt += 1
        delay_ms = reconnect_delay_ms(
            self.attempt,
            threshold=options.fast_reconnect_threshold,
            interval_ms=to_ms(options.fast_reconnect_interval),
            max_interval_ms=to_ms(options.reconnect_max_interval),
        )
        self._fire("reconnect", {"repeat": self.attempt, "timeout": delay_ms})
        return delay_ms

    def _give_up(self, message: str, closed: Closed | None) -> None:
        error = ConnectFailed(
            message, closed.code if closed else None, closed.reason if closed else ""
        )
        self._fail_open_waiters(error)
        self._on_give_up(error)

    def _fail_open_waiters(self, error: ConnectFailed) -> None:
        for waiter in self._open_waiters:
            if not waiter.done():
                waiter.set_exception(error)
