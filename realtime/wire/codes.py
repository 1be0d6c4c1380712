"""Every close code and error code the server sends, in one place (docs: the protocol reference).

Close codes travel in the WebSocket close frame; error codes in the ``errorCode`` of an error
reply (``{"error": ..., "errorCode": ...}``). The client reacts to some of them (4011 and 4012
stop its reconnecting), so they are part of the protocol and never change meaning.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class CloseCode(NamedTuple):
    """A close code with the reason sent along with it: ``socket.close(*codes.KICKED)``."""

    code: int
    reason: str


NORMAL: Final = CloseCode(1000, "")
# A handshake refused for the per-address connection limit (the client sees HTTP 403).
TOO_MANY_CONNECTIONS: Final = CloseCode(1008, "Too many connections")
FRAME_TOO_LARGE: Final = CloseCode(1009, "Frame too large")
SERVER_ERROR: Final = CloseCode(1011, "Server error")
SLOW_CLIENT: Final = CloseCode(4008, "Too slow")
AUTH_FAILURE: Final = CloseCode(4011, "Auth failure")
AUTH_TIMEOUT: Final = CloseCode(4011, "Authentication timeout")
KICKED: Final = CloseCode(4012, "Logged in elsewhere")
RATE_LIMITED: Final = CloseCode(4029, "Rate limit exceeded")

# errorCode values of error replies to client events.
UNKNOWN_EVENT: Final = "UNKNOWN_EVENT"
BUSY: Final = "BUSY"
RATE_LIMITED_ERROR: Final = "RATE_LIMITED"
HANDLER_TIMEOUT: Final = "HANDLER_TIMEOUT"
HANDLER_ERROR: Final = "HANDLER_ERROR"
# errorCode values of failed cross-server replies.
NO_HANDLER: Final = "NO_HANDLER"
