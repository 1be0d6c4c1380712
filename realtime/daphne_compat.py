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

3. **Close reasons.** daphne passes only the code of ``websocket.close`` to autobahn and drops
   the ASGI ``reason``, so a client never learns why (``4011 Auth failure``). The wrapper
   passes the reason along for open connections.

4. **Flow control.** daphne's ASGI ``send`` never blocks: every frame goes into Twisted's
   write buffer, which grows without bound for a client that stops reading. Twisted can tell
   when that buffer passes its high-water mark: it calls ``pauseProducing()`` on the
   transport's registered push producer, and ``resumeProducing()`` once it drained. The
   consumer's ``websocket.accept`` message carries its :class:`~realtime.socket.Socket`
   under ``FLOW_CONTROL_KEY``; the wrapper then registers a producer on the connection's
   transport that forwards those calls to the socket, which holds further frames in its
   bounded queue (and closes the connection with 4008 past the bound). The producer
   registered there before is daphne's HTTP channel, idle since the WebSocket upgrade, so
   it is replaced. When the transport cannot take a producer (an unexpected daphne or
   Twisted), nothing happens and the socket sends as before.

All four are tested against a real daphne process (tests/e2e). Turn them off with
``REALTIME["DAPHNE_FIXES"] = False``.
"""

from __future__ import annotations

import logging
from typing import Any

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from .socket import FLOW_CONTROL_KEY, Socket

logger = logging.getLogger(__name__)

_MARK = "_realtime_fixes_installed"


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


def install(max_frame_bytes: int) -> bool:
    """Apply the workarounds; returns False when daphne is not importable."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - daphne is a dependency
        return False
    WebSocketProtocol.failByDrop = False
    WebSocketProtocol.maxMessagePayloadSize = max_frame_bytes
    WebSocketProtocol.maxFramePayloadSize = max_frame_bytes
    if getattr(WebSocketProtocol, _MARK, False):
        return True
    original = WebSocketProtocol.handle_reply

    def handle_reply(self: Any, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "websocket.send" and message.get("text") == "" and not message.get("bytes"):
            if self.state != self.STATE_CONNECTING:
                self.serverSend("", False)
                return
        elif kind == "websocket.close" and message.get("reason") and self.state == self.STATE_OPEN:
            self.sendClose(code=message.get("code") or 1000, reason=message["reason"][:120])
            return
        elif kind == "websocket.accept" and FLOW_CONTROL_KEY in message:
            original(self, message)
            attach_flow_control(self, message[FLOW_CONTROL_KEY])
            return
        original(self, message)

    WebSocketProtocol.handle_reply = handle_reply
    setattr(WebSocketProtocol, _MARK, True)
    return True
