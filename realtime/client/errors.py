"""The client's errors: one base class, one subclass per way a call or connection can fail.

Each error has the JavaScript client's two result fields: ``error`` (the message) and
``error_code`` (``errorCode`` there), so callback code reads the same in both languages.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ClientError(Exception):
    """Base class of every error the realtime client raises or hands to a callback."""

    error_code: ClassVar[str] = "CLIENT_ERROR"

    @property
    def error(self) -> str:
        """The message, as the JavaScript client's ``error`` field."""
        return str(self)

    def to_dict(self) -> dict[str, str]:
        """``{"error": ..., "errorCode": ...}``, the JavaScript client's error object."""
        return {"error": self.error, "errorCode": self.error_code}


class NotConnected(ClientError):
    """The connection is not open, so nothing was sent (``WS_NOT_OPEN``)."""

    error_code = "WS_NOT_OPEN"


class CallTimeout(ClientError):
    """No reply arrived within the call's timeout (``CALLBACK_TIMEOUT``)."""

    error_code = "CALLBACK_TIMEOUT"


class ConnectionLost(ClientError):
    """The connection closed before the reply arrived (``CONNECTION_LOST``).

    ``code`` and ``reason`` are those of the close, when known.
    """

    error_code = "CONNECTION_LOST"

    def __init__(self, message: str, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class ConnectFailed(ClientError):
    """``connect()`` (or ``async with``) gave up before a connection opened (``CONNECT_FAILED``).

    Raised when the client stops reconnecting (a close code in ``no_reconnect_codes``, the
    ``repeat_limit``), when ``connect_timeout`` expires, or when ``close()`` is called meanwhile.
    ``code`` and ``reason`` are those of the close that ended it, when there was one.
    """

    error_code = "CONNECT_FAILED"

    def __init__(self, message: str, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class ClientClosed(ClientError):
    """The client stopped (``close()`` or it gave up reconnecting) while ``wait_for`` waited."""

    error_code = "CLIENT_CLOSED"


class ServerError(ClientError):
    """An error reply of the server, raised by ``call(..., raise_server_errors=True)``.

    ``error_code`` is the reply's ``errorCode`` (``UNKNOWN_EVENT``, ``HANDLER_ERROR``,
    ``HANDLER_TIMEOUT``, ``BUSY`` or one of the application's); ``payload`` the whole reply.
    """

    def __init__(self, message: str, error_code: str, payload: Any = None) -> None:
        super().__init__(message)
        self.error_code = error_code  # type: ignore[misc]  # per instance, from the server
        self.payload = payload

    @classmethod
    def from_payload(cls, payload: Any) -> ServerError | None:
        """The error a reply payload stands for, or None when it is not an error reply.

        An error reply is a dict with exactly the string keys ``error`` and ``errorCode``,
        the shape the server's error replies have.
        """
        if not isinstance(payload, dict) or payload.keys() != {"error", "errorCode"}:
            return None
        message, code = payload["error"], payload["errorCode"]
        if not isinstance(message, str) or not isinstance(code, str):
            return None
        return cls(message, code, payload)
