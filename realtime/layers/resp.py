"""A lean Redis connection: an asyncio protocol that speaks RESP2 through hiredis.

Writes issued in the same event-loop tick leave in one ``write`` (one pipeline); every
reply that arrives in one read is parsed and handled in one callback, without a task
switch per reply. In pub/sub mode, pushed messages go to ``on_push``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

import hiredis

from .config import NodeConfig

_PUSH_KINDS = frozenset(
    {b"message", b"subscribe", b"unsubscribe", b"pong", b"smessage", b"ssubscribe", b"sunsubscribe"}
)


class RedisConnectionLost(ConnectionError):
    """The connection to a Redis node closed or broke."""


class RespConnection(asyncio.Protocol):
    """One connection to one Redis node; create it with :meth:`open`."""

    def __init__(
        self,
        on_push: Callable[[list[Any]], None] | None,
        on_lost: Callable[[Exception], None] | None,
    ) -> None:
        self.on_push = on_push
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._reader = hiredis.Reader()
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._paused: asyncio.Future[None] | None = None
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self.error: Exception | None = None

    @classmethod
    async def open(
        cls,
        node: NodeConfig,
        timeout: float,
        name: str,
        on_push: Callable[[list[Any]], None] | None = None,
        on_lost: Callable[[Exception], None] | None = None,
    ) -> RespConnection:
        """Connect, log in and name the connection (``CLIENT SETNAME``) within ``timeout``."""
        loop = asyncio.get_running_loop()
        context = node.ssl_context()
        _, connection = await asyncio.wait_for(
            loop.create_connection(
                lambda: cls(on_push, on_lost),
                node.host,
                node.port,
                ssl=context,
                server_hostname=node.host if context else None,
            ),
            timeout,
        )
        try:
            replies = []
            if node.password is not None:
                login = (node.username, node.password) if node.username else (node.password,)
                replies.append(connection.command("AUTH", *login))
            replies.append(connection.command("CLIENT", "SETNAME", name))
            await asyncio.wait_for(asyncio.gather(*replies), timeout)
        except BaseException:
            connection.close()
            raise
        return connection

    # -- writing ------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True until the connection is closed or lost."""
        return self.transport is not None and not self.closed.done()

    def command(self, *args: Any) -> asyncio.Future[Any]:
        """Queue a command; the future gets its reply (or the error)."""
        future = self._loop.create_future()
        if not self.is_open:
            future.set_exception(RedisConnectionLost("the connection is closed"))
            return future
        self._waiters.append(future)
        self.write(hiredis.pack_command(args))
        return future

    def send(self, *args: Any) -> None:
        """Queue a command whose reply arrives as a push (SUBSCRIBE, PING in pub/sub mode)."""
        if self.is_open:
            self.write(hiredis.pack_command(args))

    def write(self, data: bytes) -> None:
        """Queue raw bytes; everything queued in this loop tick is written at once."""
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.is_open and self._out:
            data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
            self.transport.write(data)
        self._out.clear()

    async def drain(self) -> None:
        """Wait while the kernel's send buffer is full (Redis reads slower than we write)."""
        if self._paused is not None:
            await asyncio.shield(self._paused)

    def pause_writing(self) -> None:
        """asyncio: the send buffer is full; :meth:`drain` waits from now on."""
        if self._paused is None:
            self._paused = self._loop.create_future()

    def resume_writing(self) -> None:
        """asyncio: the send buffer drained; release the waiters of :meth:`drain`."""
        paused, self._paused = self._paused, None
        if paused is not None and not paused.done():
            paused.set_result(None)

    # -- reading ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """asyncio: connected."""
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        """asyncio: parse every complete reply in ``data`` and hand each on at once."""
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                self._dispatch(reply)
        except hiredis.ProtocolError as error:
            self._fail(RedisConnectionLost(f"protocol error: {error}"))

    def _dispatch(self, reply: Any) -> None:
        if self.on_push is not None and type(reply) is list and reply and reply[0] in _PUSH_KINDS:
            self.on_push(reply)
            return
        if not self._waiters:
            if self.on_push is not None and isinstance(reply, hiredis.ReplyError):
                # In pub/sub mode a refused SUBSCRIBE (an ACL without the channel) answers
                # with an error instead of a push.
                self.on_push([b"error", reply])
            return
        waiter = self._waiters.popleft()
        if waiter.done():
            return
        if isinstance(reply, hiredis.ReplyError):
            waiter.set_exception(reply)
        else:
            waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        """asyncio: the connection ended; fail pending replies and tell the owner."""
        error = self.error or RedisConnectionLost(
            f"connection lost: {exc}" if exc else "connection closed by the server"
        )
        self.error = error
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)
        self.resume_writing()
        if not self.closed.done():
            self.closed.set_result(None)
        if self.on_lost is not None:
            self.on_lost(error)

    def _fail(self, error: Exception) -> None:
        self.error = error
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        """Close the connection (pending replies fail with :class:`RedisConnectionLost`)."""
        self.on_lost = None
        if self.error is None:
            self.error = RedisConnectionLost("the connection was closed")
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self, error: Exception) -> None:
        """Drop the connection at once (a hung node): pending replies fail with ``error``."""
        self.on_lost = None
        self._fail(error)

    async def wait_closed(self, timeout: float = 1.0) -> None:
        """Wait (bounded) until the transport reported the close."""
        if self.transport is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)


async def ask_once(
    node: NodeConfig, command: tuple[Any, ...], timeout: float, name: str, errors: list[str]
) -> tuple[bool, Any]:
    """Open a short connection to ``node``, send one command, close: ``(True, reply)``, or
    ``(False, None)`` with the reason appended to ``errors`` (discovery: sentinels, seeds)."""
    where = f"{node.host}:{node.port}"
    try:
        connection = await RespConnection.open(node, timeout, name)
    except Exception as error:
        errors.append(f"{where}: {error or type(error).__name__}")
        return False, None
    try:
        return True, await asyncio.wait_for(connection.command(*command), timeout)
    except Exception as error:
        errors.append(f"{where}: {error or type(error).__name__}")
        return False, None
    finally:
        connection.close()
