"""Narrow workarounds for daphne 4.2, applied once when the app is ready.

1. **Empty text frames.** ``daphne.ws_protocol.WebSocketProtocol.handle_reply`` tests the
   outgoing text for truthiness, so ``{"type": "websocket.send", "text": ""}`` is silently
   dropped. The protocol's default heartbeat is the empty string, and its echo must reach
   the client as a zero-length text frame. The wrapper sends exactly that case and leaves
   every other message to daphne.
2. **Oversize frames.** daphne's autobahn factory drops the TCP connection on a message over
   its size limit (``failByDrop``), so clients see 1006. Setting ``failByDrop = False`` on
   daphne's protocol class makes autobahn close with 1009 and a reason instead, and the size
   limits follow ``REALTIME["MAX_FRAME_BYTES"]`` (autobahn copies factory options onto a
   protocol only where the class does not define them).

3. **Close codes and reasons.** daphne passes only the code of ``websocket.close`` to
   autobahn and drops the ASGI ``reason``, so a client never learns why (``4011 Auth
   failure``). Worse, it closes through autobahn's ``sendClose``, which accepts only 1000 and
   3000-4999: ``1011 Server error`` (a failing auth or connect hook) and ``1009`` raise
   ``invalid close code``, daphne logs "Exception inside application" and the client gets a
   bare 1011 and a TCP reset. The wrapper sends the close frame itself (autobahn's
   ``sendCloseFrame``) with the code and its reason, for every code an endpoint may send
   (:data:`SENDABLE_CLOSE_CODES`, 3000-4999); a code no endpoint may send (1005, 1006, 1015,
   out of range) is logged and sent as 1011.

4. **Flow control.** daphne's ASGI ``send`` never blocks: every frame goes into Twisted's
   write buffer, which grows without bound for a client that stops reading. Twisted can tell
   when that buffer passes its high-water mark: it calls ``pauseProducing()`` on the
   transport's registered push producer, and ``resumeProducing()`` once it drained. The
   consumer's ``websocket.accept`` message carries its
   :class:`~realtime.connection.socket.Socket`
   under ``FLOW_CONTROL_KEY``; the wrapper then registers a producer on the connection's
   transport that forwards those calls to the socket, which holds further frames in its
   bounded queue (and closes the connection with 4008 past the bound). The producer
   registered there before is daphne's HTTP channel, idle since the WebSocket upgrade, so
   it is replaced. When the transport cannot take a producer (an unexpected daphne or
   Twisted), nothing happens and the socket sends as before.

5. **Direct writes.** daphne's path for one outgoing frame is long: the session
   middleware's ``send`` wrapper, daphne's ``handle_reply`` coroutine, its protocol's
   dispatch, autobahn building the frame, then Twisted's ``transport.write``. A fan-out pays
   it once per recipient. The consumer's connections get a direct writer instead: the
   finished frame's bytes (built once per fan-out: a server frame is not masked, so every
   recipient gets the same bytes) go to ``transport.write`` of an open connection. It writes
   only what autobahn would have written itself: the connection is open, no
   per-message compression was negotiated, nothing waits in autobahn's own send queue,
   and the frame is within the size limit; otherwise the frame takes daphne's path.
   On a plain TCP connection with nothing waiting in Twisted's buffer the bytes are sent
   at once (see :func:`immediate_sender`): Twisted would only have sent them on the
   reactor's next turn, after registering and unregistering the socket for writability.
   Whatever the kernel does not take goes through ``transport.write``, so the flow
   control above sees these writes like any other.

6. **Lean idle connections** (``daphne_memory``): a small input queue instead of an
   ``asyncio.Queue``, the factory's options as class attributes instead of ~30 copies per
   connection, and what only the handshake needed dropped at accept. About 5 KiB less per
   idle connection (``docs/topics/memory.md``); ``REALTIME["DAPHNE_LEAN_CONNECTIONS"] =
   False`` turns this one off alone.

All six are tested against a real daphne process (tests/e2e). Turn them off with
``REALTIME["DAPHNE_FIXES"] = False``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from ..wire.frames import OutgoingFrame
from .socket import FLOW_CONTROL_KEY, DirectWriter, ReadControl, Socket

logger = logging.getLogger(__name__)

_MARK = "_realtime_fixes_installed"

#: Close codes of RFC 6455 (7.4.1) and the IANA registry that an endpoint may send.
SENDABLE_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
                                  1013, 1014))  # fmt: skip
_MAX_REASON_BYTES = 123  # a control frame's payload is at most 125 bytes, 2 for the code


def close_code_sendable(code: int) -> bool:
    """True for a close code an endpoint may put in a close frame."""
    return code in SENDABLE_CLOSE_CODES or 3000 <= code <= 4999


def close_reason_bytes(reason: str) -> bytes:
    """``reason`` UTF-8 encoded, cut to 123 bytes on a character boundary."""
    data = reason.encode("utf-8")
    if len(data) <= _MAX_REASON_BYTES:
        return data
    return data[:_MAX_REASON_BYTES].decode("utf-8", "ignore").encode("utf-8")


def send_close(protocol: Any, code: Any, reason: Any) -> None:
    """Close an accepted daphne connection with ``code`` and ``reason`` (nothing when it
    is closing or closed already)."""
    code = 1000 if code is None else code
    if not isinstance(code, int) or not close_code_sendable(code):
        logger.warning("Close code %r cannot be sent; closing with 1011 instead", code)
        code = 1011
    if protocol.state != protocol.STATE_OPEN:
        return
    reason_bytes = close_reason_bytes(reason) if isinstance(reason, str) and reason else None
    protocol.sendCloseFrame(code=code, reasonUtf8=reason_bytes, isReply=False)


@implementer(IPushProducer)
class SocketProducer:
    """Forwards Twisted's write-buffer state of one connection to its :class:`Socket`."""

    def __init__(self, socket: Socket) -> None:
        self.socket = socket

    def pauseProducing(self) -> None:
        """The write buffer is over its high-water mark: the client is not keeping up."""
        self.socket.pause_sending()

    def resumeProducing(self) -> None:
        """The write buffer drained."""
        self.socket.resume_sending()

    def stopProducing(self) -> None:
        """The connection is gone."""
        self.socket.stop_sending()


def attach_flow_control(protocol: Any, socket: Socket) -> bool:
    """Register a :class:`SocketProducer` on the transport of a daphne WebSocket protocol."""
    transport = getattr(protocol, "transport", None)
    if transport is None or not hasattr(transport, "registerProducer"):
        return False
    try:
        if getattr(transport, "producer", None) is not None:
            transport.unregisterProducer()
        transport.registerProducer(SocketProducer(socket), True)
    except Exception:
        logger.debug("No flow control for %r", socket, exc_info=True)
        return False
    socket.flow_controlled = True
    return True


# autobahn's attributes the direct writer reads; autobahn is not pinned and some are private.
_AUTOBAHN_STATE = ("state", "STATE_OPEN", "_perMessageCompress", "send_queue",
                   "maxMessagePayloadSize")  # fmt: skip
# Of those, the ones autobahn sets on each connection: looked for in the instance itself,
# since the lean-connection fix (daphne_memory) gives the class defaults for them.
_AUTOBAHN_INSTANCE_STATE = ("state", "_perMessageCompress", "send_queue")
_autobahn_ok: bool | None = None  # checked once, on the first connection


def autobahn_compatible(protocol: Any) -> bool:
    """True when ``protocol`` has every attribute the direct writer reads (checked on the
    first connection only; a missing one turns direct writes off, with one warning)."""
    global _autobahn_ok
    if _autobahn_ok is None:
        missing = [
            name
            for name in _AUTOBAHN_STATE
            if not hasattr(protocol, name)
            or (name in _AUTOBAHN_INSTANCE_STATE and name not in vars(protocol))
        ]
        _autobahn_ok = not missing
        if missing:
            logger.warning(
                "This autobahn has no %s on its WebSocket protocol: direct writes are off "
                "and every frame takes daphne's path (slower, never wrong)",
                ", ".join(missing),
            )
    return _autobahn_ok


def read_control(protocol: Any) -> ReadControl | None:
    """Stops and restarts reading the connection's TCP socket (Twisted's ``pauseProducing``
    and ``resumeProducing`` of the transport): the client's frames then wait in its own
    send buffer, not in daphne's unbounded queue."""
    transport = getattr(protocol, "transport", None)
    if getattr(transport, "pauseProducing", None) is None:
        return None
    if getattr(transport, "resumeProducing", None) is None:
        return None
    return ReadSwitch(transport).control


class ReadSwitch:
    """Pauses and resumes reading one transport (one slot: a closure over the transport's
    two bound methods cost several times as much per connection)."""

    __slots__ = ("transport",)

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def control(self, paused: bool) -> None:
        """Stop reading (``paused``) or read again."""
        with contextlib.suppress(Exception):  # a connection being torn down
            if paused:
                self.transport.pauseProducing()
            else:
                self.transport.resumeProducing()


def direct_writer(protocol: Any, socket: Socket) -> DirectWriter | None:
    """A writer of finished frames to the transport of an open daphne WebSocket protocol;
    it tells ``socket`` when the connection is closing (autobahn would refuse the send).
    None when the transport or autobahn is not the one it was written for."""
    transport = getattr(protocol, "transport", None)
    if transport is None or not autobahn_compatible(protocol):
        return None
    # A bound method: called once per recipient of a fan-out, it is as cheap to call as a
    # closure, and with its object a sixth of the two closures' memory.
    return FrameWriter(protocol, transport, socket).write


_TCP_STATE = ("socket", "TLS", "connected", "disconnecting", "_writeDisconnected",
              "dataBuffer", "offset", "_tempDataBuffer")  # fmt: skip


class FrameWriter:
    """Writes finished frames to one connection's transport (see "Direct writes" above).

    One small object per connection (not closures: they cost several times its size).
    """

    __slots__ = ("protocol", "sock", "socket", "transport")

    def __init__(self, protocol: Any, transport: Any, socket: Socket | None) -> None:
        self.protocol = protocol
        self.transport = transport
        self.socket = socket
        self.sock = transport.socket if _plain_tcp(transport) else None

    def write(self, frame: OutgoingFrame) -> bool:
        """Write ``frame``; False when autobahn's own path must send it."""
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            if self.socket is not None:
                self.socket.connection_closing()
            return False
        # The cases where autobahn's sendMessage would do more than write the frame.
        if (
            protocol._perMessageCompress is not None
            or protocol.send_queue
            or 0 < protocol.maxMessagePayloadSize < len(frame.payload)
        ):
            return False
        data = frame.wire
        if self.sock is not None:
            sent = self.send_now(data)
            if sent == len(data):
                return True
            data = data[sent:]
        self.transport.write(data)
        return True

    def send_now(self, data: bytes) -> int:
        """``socket.send`` when nothing waits in Twisted's buffer (see :func:`immediate_sender`)."""
        transport = self.transport
        if (
            transport.TLS
            or not transport.connected
            or transport.disconnecting
            or transport._writeDisconnected
            or transport._tempDataBuffer
            or len(transport.dataBuffer) > transport.offset
        ):
            return 0
        try:
            return self.sock.send(data)
        except OSError:
            return 0


def _plain_tcp(transport: Any) -> bool:
    try:
        from twisted.internet.tcp import Connection
    except ImportError:  # pragma: no cover - daphne depends on Twisted
        return False
    return isinstance(transport, Connection) and all(
        hasattr(transport, name) for name in _TCP_STATE
    )


def immediate_sender(transport: Any) -> Callable[[bytes], int] | None:
    """``socket.send`` on a plain TCP transport with nothing waiting in Twisted's buffer.

    Twisted never writes at once: ``transport.write`` buffers and registers the socket for
    writability (an ``epoll_ctl``), the reactor's next turn sends and unregisters it
    (another one), through its logging-context wrappers. For a frame that fits in the
    socket's kernel buffer, which is nearly every frame of a client that keeps up, sending
    now does what that turn would do, sooner and without the churn. Whenever Twisted holds
    data for the connection (or it is closing, half-closed or TLS), the sender sends nothing
    and everything goes through ``transport.write``, keeping the order of bytes; an error
    is left for Twisted's own write to meet and handle. None for any other transport.
    """
    if not _plain_tcp(transport):
        return None
    return FrameWriter(None, transport, None).send_now


def install(max_frame_bytes: int, lean: bool = True) -> bool:
    """Apply the workarounds (with ``lean``, also ``daphne_memory``'s); False without daphne."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - daphne is a dependency
        return False
    WebSocketProtocol.failByDrop = False
    WebSocketProtocol.maxMessagePayloadSize = max_frame_bytes
    WebSocketProtocol.maxFramePayloadSize = max_frame_bytes
    if not getattr(WebSocketProtocol, _MARK, False):
        _wrap_handle_reply(WebSocketProtocol)
    if lean:
        from . import daphne_memory

        daphne_memory.install()
    return True


def _wrap_handle_reply(WebSocketProtocol: Any) -> None:
    original = WebSocketProtocol.handle_reply

    def handle_reply(self: Any, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "websocket.send" and message.get("text") == "" and not message.get("bytes"):
            if self.state != self.STATE_CONNECTING:
                self.serverSend("", False)
                return
        elif kind == "websocket.close" and self.state != self.STATE_CONNECTING:
            send_close(self, message.get("code"), message.get("reason"))
            return
        elif kind == "websocket.accept" and FLOW_CONTROL_KEY in message:
            original(self, message)
            socket = message[FLOW_CONTROL_KEY]
            attach_flow_control(self, socket)
            socket.attach_writer(direct_writer(self, socket))
            socket.attach_reader(read_control(self))
            return
        original(self, message)

    WebSocketProtocol.handle_reply = handle_reply
    setattr(WebSocketProtocol, _MARK, True)
