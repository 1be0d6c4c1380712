"""The client side of the wire protocol: pure encode and decode.

The frames are section 2 of the protocol reference, docs/reference/protocol.md.

Client frames are encoded with the server's own strict-JSON encoder (``realtime.wire.protocol``),
so a payload the server could send (dates, decimals, UUIDs) the client can send too, and
NaN/Infinity are refused with :class:`~realtime.wire.protocol.PayloadNotJSON` before anything
goes out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from realtime.wire.protocol import MAX_CALLBACK_ID_LENGTH, to_json
from realtime.wire.recovery import read_position, read_welcome

# The client's own lifecycle events. A server push with one of these names never reaches
# their listeners (the server refuses to send them, see REFUSED_PUSH_EVENTS; the client is
# safe anyway).
LIFECYCLE_EVENTS: Final = frozenset(
    {"open", "close", "error", "message", "ping", "pong", "pong-timeout", "reconnect",
     "repeat-limit"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reply:
    """A server reply to a call: ``payload`` is None when the frame had none."""

    callback_id: Any
    payload: Any


@dataclass(frozen=True, slots=True)
class Push:
    """A server push (broadcast, room or direct message)."""

    event: str
    payload: Any
    # (stream, epoch, offset) for a client that takes part in recovery.
    position: tuple[str, str, int] | None = None


def check_event(event: Any) -> str:
    """Return ``event`` if it can be sent, else raise ``ValueError``."""
    if not isinstance(event, str) or not event:
        raise ValueError(f"event must be a non-empty string, not {event!r}")
    return event


def encode_event(event: str, payload: Any, callback_id: str | None = None) -> str:
    """``{"event":...,"payload":...}`` plus ``"callbackId"`` when a reply is wanted."""
    check_event(event)
    text = '{"event":' + to_json(event) + ',"payload":' + to_json(payload)
    if callback_id is None:
        return text + "}"
    if not 0 < len(callback_id) <= MAX_CALLBACK_ID_LENGTH:
        raise ValueError(f"callback id must have 1..{MAX_CALLBACK_ID_LENGTH} characters")
    return text + ',"callbackId":' + to_json(callback_id) + "}"


def decode_server_frame(text: str) -> Reply | Push | None:
    """Read a server text frame as the JavaScript client does; None means "drop it".

    A truthy ``callbackId`` makes a reply (even with an ``event`` key); otherwise a
    non-empty string ``event`` makes a push. Anything else, unparsable text included, is
    dropped.
    """
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(frame, dict):
        return None
    callback_id = frame.get("callbackId")
    if callback_id:
        return Reply(callback_id, frame.get("payload"))
    event = frame.get("event")
    if isinstance(event, str) and event:
        return Push(event, frame.get("payload"), read_position(frame))
    return None


def decode_welcome(text: str) -> tuple[str, str, bool] | None:
    """``(session, token, recovered)`` of the server's welcome frame, None for other frames."""
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return read_welcome(frame) if isinstance(frame, dict) else None
