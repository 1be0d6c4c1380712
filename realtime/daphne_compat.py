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

All three are tested against a real daphne process (tests/e2e). Turn them off with
``REALTIME["DAPHNE_FIXES"] = False``.
"""

from __future__ import annotations

from typing import Any

_MARK = "_realtime_fixes_installed"


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
        original(self, message)

    WebSocketProtocol.handle_reply = handle_reply
    setattr(WebSocketProtocol, _MARK, True)
    return True
