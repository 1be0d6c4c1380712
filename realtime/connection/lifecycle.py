"""The edges of a connection's life: connect hooks, disconnect hooks, the auth deadline.

Each is bounded: a hook that raises or hangs costs its own connection at most, never the
server or anybody else's connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

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


class AuthDeadline:
    """Closes a connection with 4011 if no user is bound within ``AUTH_TIMEOUT`` seconds.

    A timer handle, not a task, waits; it costs nothing when the user binds in time.
    """

    def __init__(self, socket: Socket, timeout: float) -> None:
        self.socket = socket
        self._closing: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(timeout, self._expire)

    def _expire(self) -> None:
        if self.socket.closed or self.socket.user_id is not None:
            return
        logger.info("Closing %r: no user bound within AUTH_TIMEOUT", self.socket)
        metrics.incr("auth_timeouts")
        self._closing = asyncio.get_running_loop().create_task(
            self.socket.close(*codes.AUTH_TIMEOUT)
        )

    def cancel(self) -> None:
        """Stop waiting (the connection ended)."""
        self._timer.cancel()
