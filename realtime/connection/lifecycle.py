"""The edges of a connection's life: connect hooks, disconnect hooks, the auth deadline,
the scope trimmed after the connect hooks.

Each is bounded: a hook that raises or hangs costs its own connection at most, never the
server or anybody else's connection.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..conf import realtime_settings
from ..metrics import metrics
from ..wire import codes

if TYPE_CHECKING:
    from .socket import Socket

logger = logging.getLogger(__name__)
Hook = Callable[["Socket"], Awaitable[None]]


async def run_connect_hooks(socket: Socket, hooks: Sequence[Hook], deadline: float) -> bool:
    """Run the ``@on_connect`` hooks in order until ``deadline`` (loop time).

    Returns False when the connection was closed: by a hook, or with 1011 because a hook
    raised or the deadline passed.
    """
    for hook in hooks:
        try:
            async with asyncio.timeout_at(deadline):
                await hook(socket)
        except Exception as exc:
            if isinstance(exc, TimeoutError):
                logger.warning("Connect hook %s ran past CONNECT_TIMEOUT", hook.__qualname__)
            else:
                logger.exception("Connect hook %s failed", hook.__qualname__)
            metrics.incr("connect_errors")
            await socket.close(*codes.SERVER_ERROR)
        if socket.closed:
            return False
    return True


async def run_disconnect_hooks(socket: Socket, hooks: Sequence[Hook]) -> None:
    """Run every ``@on_disconnect`` hook, each bounded by ``DISCONNECT_TIMEOUT``.

    A hook that raises or hangs is logged and counted; the next hooks still run.
    """
    timeout = realtime_settings.DISCONNECT_TIMEOUT
    for hook in hooks:
        try:
            async with asyncio.timeout(timeout):
                await hook(socket)
        except Exception as exc:
            metrics.incr("hook_errors")
            if isinstance(exc, TimeoutError):
                logger.warning("Disconnect hook %s ran past %ss", hook.__qualname__, timeout)
            else:
                logger.exception("Disconnect hook %s failed", hook.__qualname__)


class AuthDeadlines:
    """Closes connections with 4011 when no user is bound within ``AUTH_TIMEOUT`` seconds.

    One per event loop, for all its connections: the deadlines wait in a heap under a
    single timer handle (re-armed for the earliest), instead of a handle and an object per
    connection. A connection that ended or bound a user in time is skipped when its
    deadline comes; until then the heap holds it (at most ``AUTH_TIMEOUT`` seconds).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, Socket]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def watch(self, socket: Socket, timeout: float) -> None:
        """Close ``socket`` after ``timeout`` seconds unless a user is bound by then."""
        deadline = self._loop.time() + timeout
        heapq.heappush(self._heap, (deadline, next(self._order), socket))
        if self._timer is None or deadline < self._timer.when():
            self._arm()

    def __len__(self) -> int:
        return len(self._heap)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(self._heap[0][0], self._expire) if self._heap else None

    def _expire(self) -> None:
        self._timer = None
        now = self._loop.time()
        heap = self._heap
        while heap and heap[0][0] <= now:
            socket = heapq.heappop(heap)[2]
            if socket.closed or socket.user_id is not None:
                continue
            logger.info("Closing %r: no user bound within AUTH_TIMEOUT", socket)
            metrics.incr("auth_timeouts")
            task = self._loop.create_task(socket.close(*codes.AUTH_TIMEOUT))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        self._arm()


_deadlines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AuthDeadlines] = (
    weakref.WeakKeyDictionary()
)


def auth_deadlines() -> AuthDeadlines:
    """The :class:`AuthDeadlines` of the running event loop."""
    loop = asyncio.get_running_loop()
    deadlines = _deadlines.get(loop)
    if deadlines is None:
        deadlines = _deadlines[loop] = AuthDeadlines(loop)
    return deadlines


def trim_scope(scope: dict[str, Any]) -> None:
    """Free what only the handshake needed: the request headers and the parsed cookies.

    Emptied in place, because every middleware's copy of the scope shares them (as does
    daphne's protocol). Authentication and the ``@on_connect`` hooks have seen them.
    """
    headers = scope.get("headers")
    if isinstance(headers, list):
        headers.clear()
    else:
        scope["headers"] = []
    cookies = scope.get("cookies")
    if isinstance(cookies, dict):
        cookies.clear()
