"""The client wire protocol v1 (docs/reference/protocol.md): a pure codec, no I/O.

Client -> server frames are decoded into a :class:`ClientEvent` (or the :data:`HEARTBEAT`
marker); server -> client frames are encoded as compact, strict JSON text, byte for byte as
the original JavaScript client expects.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

MAX_CALLBACK_ID_LENGTH: Final = 64

# Push names the server must never send: the JS client would hand them to its lifecycle
# listeners, and Object.prototype members crash a Node.js client.
REFUSED_PUSH_EVENTS: Final = frozenset(
    {
        "open",
        "close",
        "error",
        "message",
        "ping",
        "pong",
        "pong-timeout",
        "reconnect",
        "repeat-limit",
        "constructor",
        "__proto__",
        "toString",
        "toLocaleString",
        "valueOf",
        "hasOwnProperty",
        "isPrototypeOf",
        "propertyIsEnumerable",
        "__defineGetter__",
        "__defineSetter__",
        "__lookupGetter__",
        "__lookupSetter__",
    }
)


class _Missing:
    """Marker for "no payload": the key is left out of the frame (``None`` sends ``null``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class ProtocolError(ValueError):
    """Base class of the codec's errors."""


class MalformedFrame(ProtocolError):
    """A client frame that is not a valid event (not JSON, not an object, no event name)."""


class InvalidEventName(ProtocolError):
    """An event name the server refuses to push (see ``REFUSED_PUSH_EVENTS``)."""


class PayloadNotJSON(ProtocolError):
    """A payload that cannot be encoded as strict JSON (NaN, Infinity, unknown types)."""


class _Heartbeat:
    """Marker returned by :func:`decode_frame` for the heartbeat string."""

    def __repr__(self) -> str:
        return "HEARTBEAT"


HEARTBEAT: Final = _Heartbeat()


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """One decoded client event; ``callback_id`` is None when no reply is wanted."""

    event: str
    payload: Any
    callback_id: str | None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # 1e999 is valid JSON that Python reads as infinity, which no reply can carry back.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of the range of a double")
    return value


_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
Fallback = Callable[[Any], Any]
_fallback: Fallback | None = None


def set_json_fallback(fallback: Fallback | None) -> None:
    """Encode values this module does not know with ``fallback`` (it raises TypeError for
    what it cannot encode either). The Django app installs Django's JSON encoder here when it
    is ready, so lazy translation strings travel too; the codec itself stays Django-free."""
    global _fallback
    _fallback = fallback


def _iso_duration(value: datetime.timedelta) -> str:
    # ISO 8601 with days, as Django writes durations: "P1DT02H03M04.000005S".
    sign = "-" if value < datetime.timedelta(0) else ""
    value = abs(value)
    minutes, seconds = divmod(value.seconds, 60)
    hours, minutes = divmod(minutes, 60)
    micro = f".{value.microseconds:06d}" if value.microseconds else ""
    return f"{sign}P{value.days}DT{hours:02d}H{minutes:02d}M{seconds:02d}{micro}S"


def _encode_other(value: Any) -> Any:
    """Dates, times, durations, decimals and UUIDs as strings, as Django's encoder does."""
    if isinstance(value, datetime.datetime):
        text = value.isoformat()
        if value.microsecond:
            text = text[:23] + text[26:]  # milliseconds, as JavaScript dates have
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        if value.utcoffset() is not None:
            raise ValueError("JSON can't represent timezone-aware times.")
        text = value.isoformat()
        return text[:12] if value.microsecond else text
    if isinstance(value, datetime.timedelta):
        return _iso_duration(value)
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if _fallback is not None:
        return _fallback(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_encode_other
)
_ASCII_ENCODER: Final = json.JSONEncoder(
    allow_nan=False, separators=(",", ":"), default=_encode_other
)


_ENVELOPE_KEYS: Final = frozenset({"event", "callbackId"})


def decode_frame(text: str, heartbeat: str) -> ClientEvent | _Heartbeat:
    """Decode one client text frame.

    The heartbeat string is compared first, before any parsing. Raises
    :class:`MalformedFrame` for anything that is not a JSON object with a non-empty string
    ``event``. A ``callbackId`` that is not a string of 1..64 characters means "no reply".
    A frame without ``payload`` whose other keys are data (pre-1.0 clients sent the data
    object itself with ``event`` added) gets those keys as its payload.
    """
    if text == heartbeat:
        return HEARTBEAT
    try:
        frame = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise MalformedFrame(f"not JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise MalformedFrame(f"not a JSON object but {type(frame).__name__}")
    event = frame.get("event")
    if not isinstance(event, str) or not event:
        raise MalformedFrame("no non-empty string 'event'")
    callback_id = frame.get("callbackId")
    if not isinstance(callback_id, str) or not 0 < len(callback_id) <= MAX_CALLBACK_ID_LENGTH:
        callback_id = None
    if "payload" in frame:
        payload = frame["payload"]
    elif len(frame) > 1 + ("callbackId" in frame):
        payload = {key: value for key, value in frame.items() if key not in _ENVELOPE_KEYS}
    else:
        payload = None
    return ClientEvent(event, payload, callback_id)


def to_json(value: Any) -> str:
    """Encode a value as compact strict JSON, as JavaScript's ``JSON.stringify`` would.

    Raises :class:`PayloadNotJSON` for NaN/Infinity and unserializable objects. Dates,
    decimals and UUIDs are encoded as Django's JSON encoder does.
    """
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise PayloadNotJSON(f"payload is not strict JSON: {exc}") from None
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates cannot travel as UTF-8; escape them like JSON.stringify does.
            text = _ASCII_ENCODER.encode(value)
    return text


def check_push_event(event: Any) -> str:
    """Return ``event`` if the server may push it, else raise :class:`InvalidEventName`."""
    if not isinstance(event, str) or not event:
        raise InvalidEventName(f"push event must be a non-empty string, not {event!r}")
    if event in REFUSED_PUSH_EVENTS:
        raise InvalidEventName(
            f"refusing to push event {event!r}: clients treat it as a lifecycle event or an "
            f"Object.prototype member"
        )
    return event


def encode_push(event: str, payload: Any = MISSING) -> str:
    """Encode a push frame ``{"event":...,"payload":...}``; no payload key for ``MISSING``."""
    check_push_event(event)
    if payload is MISSING:
        return '{"event":' + to_json(event) + "}"
    return '{"event":' + to_json(event) + ',"payload":' + to_json(payload) + "}"


def encode_reply(callback_id: str, payload: Any = MISSING) -> str:
    """Encode a reply frame ``{"payload":...,"callbackId":...}`` (never an ``event`` key)."""
    if payload is MISSING:
        return '{"callbackId":' + to_json(callback_id) + "}"
    return '{"payload":' + to_json(payload) + ',"callbackId":' + to_json(callback_id) + "}"


def error_payload(message: str, code: str) -> dict[str, str]:
    """The payload of an error reply: ``{"error": message, "errorCode": code}``."""
    return {"error": message, "errorCode": code}


def parse_params(query_string: bytes | str) -> dict[str, str | list[str]]:
    """Parse a form-encoded query string; repeated keys give a list, blank values are kept."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("utf-8", "replace")
    params: dict[str, str | list[str]] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True, errors="replace"):
        if key not in params:
            params[key] = value
        elif isinstance(existing := params[key], list):
            existing.append(value)
        else:
            params[key] = [existing, value]
    return params


def parse_path(path: str) -> str:
    """The connection path without leading slashes: ``"/chat/room"`` -> ``"chat/room"``."""
    return path.lstrip("/")
