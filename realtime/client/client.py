"""The asyncio client's public face: listeners, emit and call, connect and close.

Keeping the connection up is :class:`~realtime.client.connection.ConnectionLoop`'s job; this
module routes frames to calls and listeners. See docs/reference/python-client.md for the
options and events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from realtime.wire.recovery import RECOVERY_PARAM, PositionTracker, encode_request

from .calls import PendingCalls
from .connection import ConnectionLoop
from .errors import ClientClosed, ConnectFailed, ConnectionLost, NotConnected, ServerError
from .frames import (
    LIFECYCLE_EVENTS,
    Push,
    Reply,
    check_event,
    decode_server_frame,
    decode_welcome,
    encode_event,
)
from .listeners import Listener, ListenerRunner, Listeners
from .options import ClientOptions
from .session import Closed

logger = logging.getLogger("realtime.client")


class RealtimeClient:
    """A reconnecting client of a ``realtime`` server (protocol v1).

    ``RealtimeClient(url, **options)`` takes the options of :class:`ClientOptions` (durations
    in seconds). Use it as ``async with RealtimeClient(url) as client:`` or call
    :meth:`connect` and :meth:`close`. All methods must be called from the event loop's thread.
    """

    def __init__(self, url: str, **options: Any) -> None:
        self.options = ClientOptions(url=url, **options)
        self._runner = ListenerRunner()
        self._lifecycle = Listeners(self._runner, "lifecycle")
        self._pushes = Listeners(self._runner, "push")
        self._calls = PendingCalls(self._runner)
        self._loop = ConnectionLoop(
            self.options,
            fire=self._lifecycle.fire,
            on_text=self._on_text,
            on_closed=self._connection_closed,
            on_give_up=self._gave_up,
            extra_params=self._recovery_params if self.options.recovery else None,
            greet=self._greet if self.options.recovery else None,
        )
        self._positions = PositionTracker()
        #: True when the open connection restored the previous one's session (rooms, user,
        #: missed pushes); set before the ``open`` event fires.
        self.recovered = False
        self._closing = False
        self._event_waiters: set[asyncio.Future[Any]] = set()

    def __repr__(self) -> str:
        return f"<RealtimeClient {self.options.url} {self.state}>"

    # -- state ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL connected to: ``url`` with ``custom_params`` in its query string."""
        return self.options.connection_url()

    @property
    def state(self) -> str:
        """``"connecting"``, ``"open"``, ``"waiting"`` (for a reconnect) or ``"closed"``."""
        return self._loop.state

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        return self._loop.ws is not None

    @property
    def reconnecting(self) -> bool:
        """True from a lost connection (or failed attempt) until a connection opens."""
        return self._loop.running and self._loop.attempt > 0

    @property
    def latency(self) -> float | None:
        """The last heartbeat round trip in ms on this connection (None before the first)."""
        session = self._loop.session
        return session.latency if session is not None and self.connected else None

    @property
    def pending_calls(self) -> int:
        """How many calls wait for their reply."""
        return len(self._calls)

    # -- listeners ------------------------------------------------------------------------

    def on(self, event: str, listener: Listener | None = None) -> Any:
        """Call ``listener`` on every ``event``; without a listener, a decorator.

        Lifecycle events (``open``, ``close``, ``error``, ``message``, ``ping``, ``pong``,
        ``pong-timeout``, ``reconnect``, ``repeat-limit``) and server pushes (any other name)
        are kept apart: a push never reaches a lifecycle listener. Listeners may be sync or
        async; a failing one is logged.
        """
        if listener is None:
            return partial(self.on, event)
        self._registry(event, listener).add(event, listener)
        return listener

    def once(self, event: str, listener: Listener | None = None) -> Any:
        """Like :meth:`on`, for the next ``event`` only."""
        if listener is None:
            return partial(self.once, event)
        self._registry(event, listener).add(event, listener, once=True)
        return listener

    def off(self, event: str, listener: Listener | None = None) -> None:
        """Remove ``listener`` from ``event``, or every listener of ``event`` when None."""
        self._registry(event, listener).remove(event, listener)

    def _registry(self, event: str, listener: Listener | None) -> Listeners:
        check_event(event)
        if listener is not None and not callable(listener):
            raise TypeError(f"listener must be callable, not {listener!r}")
        return self._lifecycle if event in LIFECYCLE_EVENTS else self._pushes

    async def wait_for(self, event: str, timeout: float | None = None) -> Any:
        """Wait for the next ``event`` and return its payload (raises ``TimeoutError``).

        For a lifecycle event: None, its one argument, or a tuple (``close``: code, reason).
        Raises :class:`ClientClosed` when the client stops meanwhile.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def resolve(*args: Any) -> None:
            if not future.done():
                future.set_result(args[0] if len(args) == 1 else (args or None))

        self.once(event, resolve)
        self._event_waiters.add(future)
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._event_waiters.discard(future)
            self.off(event, resolve)

    # -- sending --------------------------------------------------------------------------

    async def emit(
        self,
        event: str,
        data: Any = None,
        callback: Callable[[Any, Any], Any] | None = None,
        *,
        callback_timeout: float | None = None,
        pending_timeout: float | None = None,
        on_pending: Callable[[], Any] | None = None,
    ) -> None:
        """Send ``event`` with ``data``; with ``callback``, ask for a reply.

        ``callback(error, payload)`` gets ``(None, payload)`` on a reply, or a
        :class:`ClientError` and None: :class:`CallTimeout`, :class:`NotConnected` (at once),
        :class:`ConnectionLost`. Without a callback, raises :class:`NotConnected` or
        :class:`ConnectionLost` when the frame could not be sent. A payload that is not
        strict JSON raises ``realtime.PayloadNotJSON`` and nothing is sent.
        """
        if callback is None:
            if (callback_timeout, pending_timeout, on_pending) != (None, None, None):
                raise ValueError("callback_timeout, pending_timeout and on_pending need a callback")
            await self._send(encode_event(event, data))
            return
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {callback!r}")
        try:
            future = await self._request(event, data, callback_timeout, pending_timeout, on_pending)
        except (NotConnected, ConnectionLost) as exc:
            self._runner.call(callback, exc, None, what=f"callback of {event!r}")
            return
        future.add_done_callback(partial(self._deliver, callback, event))

    async def call(
        self,
        event: str,
        data: Any = None,
        *,
        timeout: float | None = None,
        pending_timeout: float | None = None,
        on_pending: Callable[[], Any] | None = None,
        raise_server_errors: bool = False,
    ) -> Any:
        """Send ``event`` and return the reply's payload (None when it had none).

        Raises :class:`CallTimeout` after ``timeout`` seconds (default ``callback_timeout``),
        :class:`NotConnected`, or :class:`ConnectionLost` as soon as the connection drops.
        An error reply (``{"error": ..., "errorCode": ...}``) is returned as it is, since a
        handler may reply with that shape as data; with ``raise_server_errors=True`` it raises
        :class:`ServerError` instead.
        """
        future = await self._request(event, data, timeout, pending_timeout, on_pending)
        payload = await future
        if raise_server_errors and (error := ServerError.from_payload(payload)) is not None:
            raise error
        return payload

    async def _request(
        self,
        event: str,
        data: Any,
        timeout: float | None,
        pending_timeout: float | None,
        on_pending: Callable[[], Any] | None,
    ) -> asyncio.Future[Any]:
        timeout = self.options.callback_timeout if timeout is None else timeout
        if pending_timeout is None:
            pending_timeout = self.options.pending_timeout
        _check_timeouts(timeout, pending_timeout, on_pending)
        callback_id = self._calls.new_id()
        text = encode_event(event, data, callback_id)
        self._require_open()
        future = self._calls.add(callback_id, event, timeout, pending_timeout, on_pending)
        try:
            await self._send(text)
        except BaseException:
            self._calls.discard(callback_id)
            raise
        return future

    def _require_open(self) -> ClientConnection:
        ws = self._loop.ws
        if ws is None:
            raise NotConnected(f"Not connected to {self.options.url} (state: {self.state})")
        return ws

    async def _send(self, text: str) -> None:
        ws = self._require_open()
        try:
            await ws.send(text)
        except ConnectionClosed as exc:
            raise ConnectionLost(f"Connection to {self.options.url} lost while sending") from exc

    def _deliver(
        self, callback: Callable[..., Any], event: str, future: asyncio.Future[Any]
    ) -> None:
        if future.cancelled():
            return
        error = future.exception()
        result = (error, None) if error is not None else (None, future.result())
        self._runner.call(callback, *result, what=f"callback of {event!r}")

    # -- frames ---------------------------------------------------------------------------

    # -- recovery (docs/topics/recovery.md) ------------------------------------------------

    def _recovery_params(self) -> dict[str, str]:
        return {RECOVERY_PARAM: encode_request(self._positions.request())}

    async def _greet(self, ws: ClientConnection) -> str | None:
        """Read the server's welcome frame before ``open`` fires (bounded by open_timeout);
        returns the first frame when it was something else."""
        self.recovered = False
        try:
            async with asyncio.timeout(self.options.open_timeout):
                text = await ws.recv()
        except TimeoutError:
            logger.info("No welcome frame from %s: recovery is not available", self.options.url)
            return None
        welcome = decode_welcome(text) if isinstance(text, str) else None
        if welcome is None:  # a server without recovery: an ordinary frame
            return text if isinstance(text, str) else None
        session, token, recovered = welcome
        self._positions.welcome(session, token, recovered)
        self.recovered = recovered
        return None

    def _on_text(self, text: str) -> None:
        frame = decode_server_frame(text)
        if (
            isinstance(frame, Push)
            and frame.position is not None
            and not self._positions.note(*frame.position)
        ):
            logger.debug("Dropped a push received twice: %r", frame.position)
            return
        if isinstance(frame, Reply):
            if not self._calls.resolve(frame.callback_id, frame.payload):
                logger.debug("Dropped a reply for unknown call %r", frame.callback_id)
        elif isinstance(frame, Push):
            if frame.event in LIFECYCLE_EVENTS:
                logger.warning("Ignored a push named like a lifecycle event: %r", frame.event)
            else:
                self._pushes.fire(frame.event, frame.payload)
        else:
            logger.debug("Dropped a server frame that is neither a reply nor a push")

    # -- connection lifecycle -------------------------------------------------------------

    async def connect(self, timeout: float | None = None) -> None:
        """Start the client if needed and wait until a connection is open.

        Waits through reconnect attempts; raises :class:`ConnectFailed` when the client gives
        up or after ``timeout`` seconds (default ``connect_timeout``; None waits as long as
        the client retries). On failure or cancellation the client is closed.
        """
        limit = self.options.connect_timeout if timeout is None else timeout
        self._loop.start()
        try:
            await self._loop.wait_open(limit)
        except TimeoutError:
            await self.close()
            raise ConnectFailed(f"No connection to {self.options.url} within {limit} s") from None
        except BaseException:
            # Gave up, or the caller was cancelled: stop everything so nothing runs on
            # unobserved (``async with`` does not call __aexit__ when __aenter__ raised).
            if not self.connected:
                await self.close()
            raise

    def reconnect(self) -> None:
        """Drop the current connection or attempt (close 4001) and connect again at once.

        The attempt counter starts afresh, so this also restarts a client that gave up
        (``repeat_limit``, a close code in ``no_reconnect_codes``). Safe in any state,
        including while connecting and from a listener; ignored while ``close()`` runs.
        """
        if not self._closing:
            self._loop.restart()

    async def close(self) -> None:
        """Close with 4001 and stop reconnecting; returns when nothing of the client runs.

        Waiting calls fail with :class:`ConnectionLost`, ``wait_for`` with
        :class:`ClientClosed`; async listeners get ``close_timeout`` seconds to finish.
        Calling it again, or on a client that never connected, does nothing.
        """
        was_closing, self._closing = self._closing, True
        try:
            await self._loop.stop()
            self._fail_event_waiters(f"Client for {self.options.url} was closed")
            await self._runner.drain(self.options.close_timeout)
        finally:
            self._closing = was_closing

    async def __aenter__(self) -> RealtimeClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _connection_closed(self, closed: Closed) -> None:
        self._calls.fail_all(
            lambda event: ConnectionLost(
                f"Connection lost ({closed.code} {closed.reason}) before the reply to {event!r}",
                closed.code,
                closed.reason,
            )
        )

    def _gave_up(self, error: ConnectFailed) -> None:
        self._fail_event_waiters(f"The client stopped: {error}")

    def _fail_event_waiters(self, message: str) -> None:
        # Nothing more will arrive: release everyone who waits for an event.
        for waiter in self._event_waiters:
            if not waiter.done():
                waiter.set_exception(ClientClosed(message))


def _is_seconds(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_timeouts(timeout: Any, pending_timeout: Any, on_pending: Any) -> None:
    if not _is_seconds(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be seconds > 0, not {timeout!r}")
    if not _is_seconds(pending_timeout) or pending_timeout < 0:
        raise ValueError(f"pending_timeout must be seconds >= 0, not {pending_timeout!r}")
    if on_pending is not None and not callable(on_pending):
        raise TypeError(f"on_pending must be callable, not {on_pending!r}")
