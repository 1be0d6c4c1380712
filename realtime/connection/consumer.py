"""The WebSocket consumer: one per connection, speaking protocol v1 (docs/reference/protocol.md).

At the handshake it applies the per-address connection limit and the authentication step
(``realtime.connection.auth``), both before accepting. Then it runs the ``@on_connect``
hooks, answers the heartbeat, enforces the frame size and rate limits, dispatches client
events to their handlers (each in its own task, so a slow handler never delays the heartbeat
echo) and sends replies. It does not create a channel-layer channel per connection: pushes arrive
through the node's hub, which hands finished frames straight to the connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, WebSocketScope
from channels.consumer import AsyncConsumer

from ..conf import realtime_settings
from ..metrics import metrics
from ..wire import codes
from ..wire.protocol import HEARTBEAT, ClientEvent, MalformedFrame, decode_frame, error_payload
from ..wire.recovery import RecoveryRequest
from .acks import Ack
from .auth import AuthResult, authenticate
from .handlers import Registry
from .lifecycle import auth_deadlines, run_connect_hooks, run_disconnect_hooks, trim_scope
from .limits import (
    ConnectionRateLimiter,
    ConnectionsPerAddress,
    RatePolicy,
    Verdict,
    callback_hint,
    event_hint,
    shared_policy,
)
from .socket import FLOW_CONTROL_KEY, Socket, SocketOwner, bad_input_log

logger = logging.getLogger(__name__)

# Seconds handlers still running at disconnect may take to finish before being cancelled.
DISCONNECT_GRACE = 5.0


class RecoveryGate(Protocol):
    """Connection state recovery as the consumer sees it (``realtime.recovery``)."""

    async def follow(self, socket: Socket) -> RecoveryRequest | None:
        """Before registering: the recovery request of a client that takes part in
        connection state recovery (its pushes are held until :meth:`resume`)."""

    async def resume(self, socket: Socket, request: RecoveryRequest, auth_user: Any) -> bool:
        """Welcome such a client, restoring its session if it can; True when it did."""


class ConnectionOwner(SocketOwner, Protocol):
    """What the consumer needs of the node (the hub implements it): the socket's operations,
    the handler registry, the per-address counts, and registration of open connections."""

    handlers: Registry
    addresses: ConnectionsPerAddress
    history: RecoveryGate

    async def register(self, socket: Socket) -> None:
        """Track a newly opened connection."""

    async def unregister(self, socket: Socket) -> None:
        """Forget a closed connection."""


def _no_owner() -> ConnectionOwner:
    raise RuntimeError(
        "RealtimeConsumer has no owner: add 'realtime' to INSTALLED_APPS (its AppConfig "
        "hands the hub over when Django is ready)"
    )


def _utf8_length_exceeds(text: str, limit: int) -> bool:
    # A character takes at most 4 UTF-8 bytes: only long frames need encoding to measure.
    length = len(text)
    if length > limit:
        return True
    return length * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit


def _client_ip(scope: dict[str, Any]) -> str | None:
    # daphne puts the peer here, or the X-Forwarded-For address when (and only when) it
    # was started with --proxy-headers: a client cannot forge it otherwise.
    client = scope.get("client")
    return str(client[0]) if client else None


class RealtimeConsumer(AsyncConsumer):
    """Serves one WebSocket connection; route it with ``RealtimeConsumer.as_asgi()``."""

    #: Returns the node serving this event loop's connections; the app sets it to
    #: :func:`realtime.hub.get_hub` when Django is ready.
    owner: ClassVar[Callable[[], ConnectionOwner]] = staticmethod(_no_owner)

    def __init__(self, owner: Callable[[], ConnectionOwner] | None = None) -> None:
        # ``RealtimeConsumer.as_asgi(owner=...)`` serves connections from another hub (tests).
        if owner is not None:
            self.owner = owner  # type: ignore[misc]
        self.socket: Socket | None = None
        self.handlers: Registry | None = None
        # Created with the first handler task: an empty set costs 216 bytes per connection.
        self.pending: set[asyncio.Task[None]] | None = None
        self.limiter: ConnectionRateLimiter | None = None
        self.policy: RatePolicy | None = None

    async def __call__(  # type: ignore[override]
        self, scope: WebSocketScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """The ASGI entry point (replaces Channels' per-consumer layer channel and dispatch)."""
        self.scope = scope
        self.base_send = send
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        hub = self.owner()
        address = _client_ip(scope)
        if not hub.addresses.acquire(address, realtime_settings.MAX_CONNECTIONS_PER_IP):
            metrics.incr("ip_limit_refusals")
            bad_input_log().log(
                "ip-limit", logging.WARNING, "Too many connections from %s", address
            )
            await send({"type": "websocket.close", "code": codes.TOO_MANY_CONNECTIONS.code})
            return
        try:
            await self._open(Socket(scope, send, hub), receive, hub)  # type: ignore[arg-type]
        finally:
            hub.addresses.release(address)

    async def _open(self, socket: Socket, receive: Any, hub: ConnectionOwner) -> None:
        deadline = asyncio.get_running_loop().time() + realtime_settings.CONNECT_TIMEOUT
        auth = await self._authenticate(socket, deadline)
        if auth is None or auth.rejected:
            await self._refuse(socket, auth, receive)
            return
        self.socket = socket
        self.handlers = hub.handlers
        # The extra key lets the server report a client that stops reading (daphne_fixes).
        await socket.transmit({"type": "websocket.accept", FLOW_CONTROL_KEY: socket})
        if realtime_settings.AUTH_TIMEOUT is not None:
            auth_deadlines().watch(socket, realtime_settings.AUTH_TIMEOUT)
        request = await hub.history.follow(socket)
        await hub.register(socket)
        try:
            recovered = request is not None and await hub.history.resume(
                socket, request, auth.user_id
            )
            if auth.user_id is not None and not recovered:
                await socket.bind(auth.user_id)
            if await run_connect_hooks(socket, hub.handlers.connect_hooks, deadline):
                if not realtime_settings.KEEP_HANDSHAKE_HEADERS:
                    trim_scope(socket.scope)
                await self._serve(socket, receive)
            else:
                await self._drain_until_disconnect(receive)
        finally:
            socket.mark_closed()
            await hub.unregister(socket)
            await self._finish_pending()
            await run_disconnect_hooks(socket, hub.handlers.disconnect_hooks)

    @staticmethod
    async def _authenticate(socket: Socket, deadline: float) -> AuthResult | None:
        """The authentication step; None when it failed (raised or ran past the deadline)."""
        try:
            async with asyncio.timeout_at(deadline):
                return await authenticate(socket.scope, socket.params)
        except Exception as exc:
            # Throttled: a failing token service would otherwise log once per connection.
            bad_input_log().log(
                "auth-error",
                logging.ERROR,
                "Authenticating a connection failed (%s)",
                "timed out" if isinstance(exc, TimeoutError) else "raised",
                exc_info=True,
            )
            return None

    async def _refuse(self, socket: Socket, auth: AuthResult | None, receive: Any) -> None:
        """Turn a failed authentication away, at the handshake or with 4011 / 1011."""
        rejected = auth is not None  # None: the step itself failed
        metrics.incr("auth_failures" if rejected else "connect_errors")
        if rejected:
            bad_input_log().log(
                "auth-refused", logging.INFO, "Refused an unauthenticated connection"
            )
        if realtime_settings.REJECT_AT_HANDSHAKE:
            await socket.transmit({"type": "websocket.close", "code": codes.AUTH_FAILURE.code})
            return
        await socket.transmit({"type": "websocket.accept"})
        await socket.close(*(codes.AUTH_FAILURE if rejected else codes.SERVER_ERROR))
        await self._drain_until_disconnect(receive)

    @staticmethod
    async def _drain_until_disconnect(receive: Any) -> None:
        while (await receive())["type"] != "websocket.disconnect":
            pass

    async def _serve(self, socket: Socket, receive: Any) -> None:
        heartbeat = realtime_settings.HEARTBEAT_MESSAGE
        max_bytes = realtime_settings.MAX_FRAME_BYTES
        # The buckets are made at the first frame that is not a heartbeat (a full bucket made
        # later behaves as one made now): an idle connection never needs them.
        self.policy = shared_policy(realtime_settings.RATE_LIMIT)
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message["type"] != "websocket.receive" or socket.closed:
                continue
            text = message.get("text")
            if text is None:
                size = len(message.get("bytes") or b"")
                if await self._admit(socket, None, None, size):
                    self._drop("binary frame", size)
            elif text == heartbeat:
                await socket.send_text(text)
            elif _utf8_length_exceeds(text, max_bytes):
                logger.info(
                    "Closing %r: a %d-character frame exceeds %d bytes",
                    socket,
                    len(text),
                    max_bytes,
                )
                await socket.close(*codes.FRAME_TOO_LARGE)
            else:
                await self._on_text(socket, text, heartbeat)

    def _drop(self, reason: str, size: int) -> None:
        bad_input_log().log(
            "bad-frame", logging.DEBUG, "Dropped a client frame (%s, %d long)", reason, size
        )

    async def _on_text(self, socket: Socket, text: str, heartbeat: str) -> None:
        # Charged before decoding: a refused frame costs no JSON parsing.
        hint = event_hint(text)
        if not await self._admit(socket, hint, None, len(text), text):
            return
        try:
            event = decode_frame(text, heartbeat)
        except MalformedFrame as exc:
            self._drop(str(exc), len(text))
            return
        if event is HEARTBEAT:  # pragma: no cover - the caller compares first
            return
        assert isinstance(event, ClientEvent)
        ack = Ack(socket, event.callback_id)
        limiter = self.limiter
        # Charged above for another event (a frame with two "event" keys), or to the
        # connection's bucket when the event was not first and has a bucket of its own.
        recharge = (
            event.event != hint
            and limiter is not None
            and (hint is not None or limiter.own_bucket(event.event))
        )
        if recharge and not await self._admit(socket, event.event, ack):
            return
        assert self.handlers is not None
        handler = self.handlers.events.get(event.event)
        if handler is None:
            bad_input_log().log(
                "unknown-event", logging.DEBUG, "No handler for client event %r", event.event
            )
            await ack(error_payload(f"Unknown event {event.event!r}", codes.UNKNOWN_EVENT))
            return
        if not await self._slot_for(socket, event, ack):
            return
        pending = self.pending
        if pending is None:
            pending = self.pending = set()
        task = asyncio.get_running_loop().create_task(
            self._run_handler(handler, socket, event, ack)
        )
        pending.add(task)
        task.add_done_callback(pending.discard)

    async def _slot_for(self, socket: Socket, event: ClientEvent, ack: Ack) -> bool:
        """True when a handler of the event may start now (after waiting, with WHEN_BUSY
        "wait"); False when it was refused with BUSY (counted)."""
        if self.pending is None or len(self.pending) < realtime_settings.MAX_PENDING_HANDLERS:
            return True
        if realtime_settings.WHEN_BUSY == "wait":
            await self._wait_for_a_slot(socket)
            return True
        bad_input_log().log(
            "busy",
            logging.WARNING,
            "%r has too many handlers running; refusing %r",
            socket,
            event.event,
        )
        metrics.incr("busy_refusals")
        await ack(error_payload("Too many requests in progress", codes.BUSY))
        return False

    async def _wait_for_a_slot(self, socket: Socket) -> None:
        """WHEN_BUSY "wait": hold this event until a handler of the connection finishes; the
        client is not read meanwhile (under daphne), so it is slowed down, not refused."""
        metrics.incr("busy_waits")
        socket.pause_reading(True)
        try:
            pending = self.pending  # full, so made already (and never replaced)
            while pending and len(pending) >= realtime_settings.MAX_PENDING_HANDLERS:
                await asyncio.wait(set(pending), return_when=asyncio.FIRST_COMPLETED)
        finally:
            socket.pause_reading(False)

    async def _admit(
        self,
        socket: Socket,
        event: str | None,
        ack: Ack | None,
        size: int = 0,
        frame: str | None = None,
    ) -> bool:
        """Apply the rate limit to one frame of ``size``; False when it was refused (or
        closed). A refused undecoded ``frame`` is answered when its callbackId is found."""
        limiter = self.limiter
        if limiter is None:
            if self.policy is None:
                return True
            limiter = self.limiter = ConnectionRateLimiter(self.policy)
        verdict = limiter.check(event, size)
        if verdict is Verdict.ALLOW:
            return True
        metrics.incr("rate_limited_frames")
        if verdict is Verdict.CLOSE:
            bad_input_log().log(
                "rate-limit-close",
                logging.WARNING,
                "Closing %r: it kept sending over its rate limit",
                socket,
            )
            metrics.incr("rate_limit_closes")
            await socket.close(*codes.RATE_LIMITED)
        else:
            bad_input_log().log("rate-limited", logging.INFO, "Refused frames over the rate limit")
            if ack is None and frame is not None:
                ack = Ack(socket, callback_hint(frame))
            if ack is not None:
                await ack(error_payload(codes.RATE_LIMITED.reason, codes.RATE_LIMITED_ERROR))
        return False

    async def _run_handler(
        self, handler: Any, socket: Socket, event: ClientEvent, ack: Ack
    ) -> None:
        assert self.handlers is not None
        timeouts = self.handlers.timeouts
        if event.event in timeouts:
            timeout = timeouts[event.event]
        else:
            timeout = realtime_settings.HANDLER_TIMEOUT
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                result = await handler(socket, event.payload, ack)
                if result is not None and ack.wanted:
                    await ack(result)
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                metrics.incr("handler_timeouts")
                bad_input_log().log(
                    ("timeout", event.event),
                    logging.WARNING,
                    "Handler for %r timed out after %ss",
                    event.event,
                    timeout,
                )
                message, code = f"Handler for {event.event!r} timed out", codes.HANDLER_TIMEOUT
            else:
                metrics.incr("handler_errors")
                bad_input_log().log(
                    ("error", event.event),
                    logging.ERROR,
                    "Handler for client event %r failed",
                    event.event,
                    exc_info=True,
                )
                message, code = f"Handler for {event.event!r} failed", codes.HANDLER_ERROR
            await ack(error_payload(message, code))

    async def _finish_pending(self) -> None:
        if not self.pending:
            return
        _, still_running = await asyncio.wait(set(self.pending), timeout=DISCONNECT_GRACE)
        for task in still_running:
            task.cancel()
